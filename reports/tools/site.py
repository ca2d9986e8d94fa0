#!/usr/bin/python3
"""Build the static reports site from archived runs.

    site.py [--runs reports/runs] [--out reports/index.html]

Reads every <runs>/<run id>/summary.json (schema: reports/SCHEMA.md) and
writes one self-contained HTML page: a table of all runs and trend charts
(throughput and p99 by commit) as plain inline SVG. No network, no library,
no build step at view time: the page works opened from the file system and
from any static host. Each run links to its own report.html (when present)
and to its summary.json, by a path relative to the page.

Python 3 standard library only. The output depends only on the inputs (no
build timestamp), so rebuilding an unchanged archive changes nothing.
"""

import argparse
import html
import json
import math
import os
import sys
import urllib.parse
from datetime import datetime, timezone

from report import nice_max  # the same axis rounding as the per-run reports
import verdict  # one verdict and what limited each run, as in the per-run reports

SCHEMA_VERSION = 1
SCENARIO_ORDER = {"rinha": 0, "stress": 1, "bench-mix": 2}
SCENARIO_TEXT = {
    "rinha": "the official Rinha scenario (open-loop arrivals, peak ~340 req/s)",
    "stress": "stress: rising open-loop rates until the SLA breaks",
    "bench-mix": "bench-mix: closed-loop wrk load, the request mix of the Rinha",
}


# ---------------------------------------------------------------- loading


class Run:
    """One archived run: its folder, its summary, and derived figures."""

    def __init__(self, run_id, folder, summary, has_report):
        self.id = run_id
        self.folder = folder
        # The rules of reports/tools/verdict.py, applied on a copy (runs
        # archived before them get them too; the files are not changed).
        try:
            self.s = verdict.apply(json.loads(json.dumps(summary)))
        except (TypeError, ValueError, KeyError, AttributeError):
            self.s = summary  # a malformed summary is shown as it is
        self.has_report = has_report
        self.date = parse_date(summary.get("date"))
        levels = summary.get("levels") or []
        self.levels = [lv for lv in levels if isinstance(lv, dict)]
        measured = [lv for lv in self.levels if num(lv.get("rps")) is not None]
        # The headline level of a run: the one with the highest measured rps.
        self.peak = max(measured, key=lambda lv: num(lv.get("rps"))) if measured else None

    def get(self, key):
        return self.s.get(key)

    @property
    def sort_key(self):
        return (self.date or datetime.min.replace(tzinfo=timezone.utc), self.id)


def num(v):
    """A finite number, or None (null, missing, not a number, bool)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def parse_date(v):
    if not isinstance(v, str):
        return None
    try:
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.astimezone(timezone.utc)


def load_runs(runs_dir):
    """Returns (runs, skipped): skipped is a list of (run id, reason)."""
    runs, skipped = [], []
    if not os.path.isdir(runs_dir):
        return runs, skipped
    for run_id in sorted(os.listdir(runs_dir)):
        folder = os.path.join(runs_dir, run_id)
        path = os.path.join(folder, "summary.json")
        if not os.path.isdir(folder) or run_id.startswith("."):
            continue
        if not os.path.isfile(path):
            skipped.append((run_id, "no summary.json"))
            continue
        try:
            with open(path, encoding="utf-8") as f:
                s = json.load(f)
        except (OSError, ValueError) as e:
            skipped.append((run_id, "unreadable summary.json: %s" % e.__class__.__name__))
            continue
        if not isinstance(s, dict):
            skipped.append((run_id, "summary.json is not an object"))
            continue
        if s.get("schema") != SCHEMA_VERSION:
            skipped.append((run_id, "schema %r, expected %d" % (s.get("schema"), SCHEMA_VERSION)))
            continue
        if parse_date(s.get("date")) is None:
            skipped.append((run_id, "no valid date"))
            continue
        has_report = os.path.isfile(os.path.join(folder, "report.html"))
        runs.append(Run(run_id, folder, s, has_report))
    runs.sort(key=lambda r: r.sort_key)
    return runs, skipped


# ---------------------------------------------------------------- formatting

DASH = "\u2014"


def esc(v):
    return html.escape("" if v is None else str(v), quote=True)


def fmt_date(d):
    return d.strftime("%Y-%m-%d %H:%M UTC") if d else DASH


def fmt_rps(v):
    v = num(v)
    if v is None:
        return None
    return "{:,.0f}".format(v) if v >= 100 else "{:.1f}".format(v)


def fmt_ms(v):
    v = num(v)
    if v is None:
        return None
    if v < 10:
        return "{:.2f}".format(v)
    if v < 100:
        return "{:.1f}".format(v)
    return "{:,.0f}".format(v)


def fmt_int(v):
    v = num(v)
    return None if v is None else "{:,}".format(int(v))


def cell(text, cls="", title=None, attrs=""):
    """A <td>; None becomes a visible 'not measured' dash."""
    t = ' title="%s"' % esc(title) if title else ""
    if text is None:
        return '<td class="nm %s"%s%s><span aria-hidden="true">%s</span><span class="sr">not measured</span></td>' % (
            cls, t, attrs, DASH)
    return '<td class="%s"%s%s>%s</td>' % (cls, t, attrs, text)


def latencies(lat):
    vals = [fmt_ms(lat.get(k)) for k in ("p50", "p99", "max")]
    if all(v is None for v in vals):
        return None
    return " / ".join(v or DASH for v in vals)


def generator_bound(run):
    return run.get("limited_by") == "generator"


GEN_BADGE = ('<br><span class="gen" title="%s">generator-bound</span>'
             '<span class="sr"> (the load generator was the limit, not the stack)</span>')


def is_compare(run):
    return run.get("scenario") == "compare" and isinstance(run.get("compare"), dict)


def ratio_text(r):
    r = r if isinstance(r, dict) else {}
    med, lo, hi = num(r.get("median")), num(r.get("min")), num(r.get("max"))
    if med is None:
        return DASH
    return "\u00d7%.3f <span class=\"muted\">(%s..%s)</span>" % (med, "?" if lo is None else "%.3f" % lo, "?" if hi is None else "%.3f" % hi)


def compare_section(runs, page_dir):
    """make compare runs as pairs: A and B, and per level the ratios B/A."""
    rows = []
    for run in sorted((r for r in runs if is_compare(r)), key=lambda r: r.sort_key, reverse=True):
        c = run.get("compare")
        a, b = c.get("a") or {}, c.get("b") or {}
        levels = [lv for lv in c.get("levels") or [] if isinstance(lv, dict)]
        for i, lv in enumerate(levels):
            head = ""
            if i == 0:
                head = ('<th scope="row" rowspan="%d"><a href="%s">%s</a><br><span class="small">A <code>%s</code> (%s) '
                        '\u2192 B <code>%s</code> (%s), %s rounds</span></th>') % (
                    len(levels), report_href(run, page_dir), esc(fmt_date(run.date)), esc(a.get("commit")), esc(a.get("rev")),
                    esc(b.get("commit")), esc(b.get("rev")), esc(c.get("rounds")))
            rows.append('<tr class="cmp" data-run="%s" data-level="%s" data-ratio-rps="%s" data-ratio-p99="%s">%s<td>%s</td>'
                        '<td class="num">%s</td><td class="num">%s</td></tr>' % (
                            esc(run.id), esc(lv.get("name")), esc((lv.get("ratio_rps") or {}).get("median")),
                            esc((lv.get("ratio_p99") or {}).get("median")), head, esc(lv.get("name")),
                            ratio_text(lv.get("ratio_rps")), ratio_text(lv.get("ratio_p99"))))
    if not rows:
        return ""
    return ('<section aria-labelledby="h-compare" id="compare"><h2 id="h-compare">Compare runs (B / A)</h2>'
            '<p class="small">Two commits measured in turn, A B A B ..., each turn a fresh stack in the same envelope at the same levels '
            '(<code>make compare</code>). Ratios are B over A, median of the rounds, with the lowest and highest round in brackets: '
            'req/s above 1 and p99 below 1 favour B.</p><div class="scroll"><table class="compare"><thead><tr><th scope="col">run (A \u2192 B)</th>'
            '<th scope="col">level</th><th scope="col">req/s B/A</th><th scope="col">p99 B/A</th></tr></thead><tbody>%s</tbody></table></div></section>'
            % "".join(rows))


def failed(run):
    th = run.get("thresholds")
    return isinstance(th, dict) and th.get("passed") is False


def commit_text(run):
    c = run.get("commit")
    t = '<code>%s</code>' % esc(c) if c else DASH
    if run.get("dirty"):
        t += ' <span class="dirty" title="measured with uncommitted changes">+dirty</span>'
    return t


def tool_text(run):
    tool = run.get("tool") or "?"
    v = run.get("tool_version")
    return esc(tool) + (' <span class="muted">%s</span>' % esc(v) if v else "")


def envelope_text(run, plain=False):
    e = run.get("envelope")
    if not isinstance(e, dict):
        return "envelope not recorded"
    cpus, mem = num(e.get("cpus")), num(e.get("memory_mb"))
    size = "%s CPU / %s MB" % ("?" if cpus is None else "%g" % cpus, "?" if mem is None else "%g" % mem)
    enf = e.get("enforced")
    how = {None: "enforcement not recorded", "none": "not enforced"}.get(enf, "by %s" % enf)
    if plain:
        return "%s (%s)" % (size, how)
    return '%s <span class="muted">(%s)</span>' % (esc(size), esc(how))


def level_desc(lv):
    if lv is None:
        return None
    bits = []
    if num(lv.get("connections")) is not None:
        bits.append("%d connections" % lv["connections"])
    if num(lv.get("rate")) is not None:
        bits.append("%g/s target" % lv["rate"])
    if num(lv.get("duration_s")) is not None:
        bits.append("%g s" % lv["duration_s"])
    return "level %s%s" % (lv.get("name") or "?", " (%s)" % ", ".join(bits) if bits else "")


def sum_levels(run, key):
    vals = [num(lv.get(key)) for lv in run.levels]
    vals = [v for v in vals if v is not None]
    return sum(vals) if vals else None


def report_href(run, page_dir):
    target = os.path.join(run.folder, "report.html" if run.has_report else "summary.json")
    return href(target, page_dir)


def href(target, page_dir):
    rel = os.path.relpath(target, page_dir)
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def provenance(run, lv=None, plain=True):
    """Date, commit, tool and envelope of a figure, as one line of text."""
    commit = (run.get("commit") or "?") + ("+dirty" if run.get("dirty") else "")
    tool = "%s %s" % (run.get("tool") or "?", run.get("tool_version") or "")
    parts = [fmt_date(run.date), "commit " + commit, tool.strip(), "envelope " + envelope_text(run, plain=True)]
    if lv is not None:
        parts.append(level_desc(lv))
    return ", ".join(parts)


# ---------------------------------------------------------------- thresholds


def thresholds_cell(run):
    th = run.get("thresholds")
    if not isinstance(th, dict) or th.get("passed") is None:
        return '<td class="nm" data-thresholds="none">not evaluated</td>'
    checks = [c for c in (th.get("checks") or []) if isinstance(c, dict)]
    failed = [c for c in checks if c.get("passed") is False]
    detail = "; ".join(
        "%s %s (value %s, limit %s)" % ("passed" if c.get("passed") else "FAILED", c.get("name"), c.get("value"),
                                       c.get("limit")) for c in checks)
    if th.get("passed"):
        text = '<span class="ok">\u2713 passed</span> <span class="muted">%d/%d</span>' % (len(checks), len(checks))
        return '<td data-thresholds="passed" title="%s">%s</td>' % (esc(detail), text)
    names = ", ".join(esc(c.get("name")) for c in failed)
    text = '<span class="bad">\u2717 FAILED</span> <span class="muted">%d of %d</span>' % (len(failed), len(checks))
    if names:
        text += '<br><span class="small">%s</span>' % names
    return '<td data-thresholds="failed" title="%s">%s</td>' % (esc(detail), text)


# ---------------------------------------------------------------- the runs table


def levels_table(run):
    rows = []
    for lv in run.levels:
        lat = lv.get("latency_ms") if isinstance(lv.get("latency_ms"), dict) else {}
        status = lv.get("status") if isinstance(lv.get("status"), dict) else None
        st = ", ".join("%s: %s" % (esc(k), fmt_int(v) or DASH) for k, v in sorted(status.items())) if status else None
        rows.append(
            "<tr>" + "<th scope=\"row\">%s</th>" % esc(lv.get("name") or "?") +
            cell(fmt_int(lv.get("connections"))) + cell(fmt_rps(lv.get("rate"))) +
            cell(None if num(lv.get("duration_s")) is None else "%g" % lv["duration_s"]) +
            cell(fmt_int(lv.get("requests")), "num") + cell(fmt_rps(lv.get("rps")), "num") +
            cell(fmt_ms(lat.get("p50")), "num") + cell(fmt_ms(lat.get("p90")), "num") +
            cell(fmt_ms(lat.get("p99")), "num") + cell(fmt_ms(lat.get("max")), "num") +
            cell(st) + cell(fmt_int(lv.get("errors")), "num") + cell(fmt_int(lv.get("inconsistencies")), "num") +
            "</tr>")
    m = run.get("machine") if isinstance(run.get("machine"), dict) else {}
    machine = ", ".join(
        x for x in [
            esc(m.get("host")) if m.get("host") else "",
            "%s CPUs" % esc(m.get("cpus")) if m.get("cpus") is not None else "",
            "%s MB" % esc(m.get("memory_mb")) if m.get("memory_mb") is not None else "",
            esc(m.get("cpu_model")) if m.get("cpu_model") else "",
            "kernel " + esc(m.get("kernel")) if m.get("kernel") else "",
        ] if x) or "not recorded"
    extra = ["<li>Machine: %s</li>" % machine]
    e = run.get("envelope")
    if isinstance(e, dict) and isinstance(e.get("services"), dict):
        svc = ", ".join("%s %s CPU / %s MB" % (esc(k), esc(v.get("cpus")), esc(v.get("memory_mb")))
                        for k, v in e["services"].items() if isinstance(v, dict))
        extra.append("<li>Envelope split: %s</li>" % svc)
    dc = run.get("db_ceiling")
    if isinstance(dc, dict):
        extra.append("<li>Database ceiling: %s tps (%s, %s clients, %s s)</li>" % (
            fmt_rps(dc.get("tps")) or DASH, esc(dc.get("tool")), esc(dc.get("clients")), esc(dc.get("duration_s"))))
    th = run.get("thresholds")
    if isinstance(th, dict):
        for c in th.get("checks") or []:
            if isinstance(c, dict):
                extra.append("<li>Threshold %s: %s (value %s, limit %s)</li>" % (
                    esc(c.get("name")), "passed" if c.get("passed") else "<strong>FAILED</strong>",
                    esc(c.get("value")), esc(c.get("limit"))))
    if run.get("notes"):
        extra.append("<li>Notes: %s</li>" % esc(run.get("notes")))
    head = ("<tr><th scope=\"col\">level</th><th scope=\"col\">connections</th><th scope=\"col\">target rate/s</th>"
            "<th scope=\"col\">duration s</th><th scope=\"col\">requests</th><th scope=\"col\">req/s</th>"
            "<th scope=\"col\">p50 ms</th><th scope=\"col\">p90 ms</th><th scope=\"col\">p99 ms</th>"
            "<th scope=\"col\">max ms</th><th scope=\"col\">status</th><th scope=\"col\">errors</th>"
            "<th scope=\"col\">inconsistencies</th></tr>")
    return ('<div class="scroll"><table class="levels"><caption>Every level of run %s</caption>'
            '<thead>%s</thead><tbody>%s</tbody></table></div><ul class="small">%s</ul>') % (
                esc(run.id), head, "".join(rows), "".join(extra))


def runs_table(runs, page_dir):
    out = []
    for run in sorted(runs, key=lambda r: r.sort_key, reverse=True):
        lv = run.peak
        lat = (lv or {}).get("latency_ms") if isinstance((lv or {}).get("latency_ms"), dict) else {}
        rps = fmt_rps(lv.get("rps")) if lv else None
        if rps is not None:
            rps += '<br><span class="small muted">at %s</span>' % esc(lv.get("name") or "?")
            if generator_bound(run):
                rps += GEN_BADGE % esc((run.get("limited_by_evidence") or {}).get("rule"))
        errors, inc = sum_levels(run, "errors"), sum_levels(run, "inconsistencies")
        link = report_href(run, page_dir)
        attrs = {
            "data-run": run.id, "data-commit": run.get("commit"), "data-tool": run.get("tool"),
            "data-scenario": run.get("scenario"), "data-date": run.get("date"),
            "data-rps": num(lv.get("rps")) if lv else None, "data-p99": num(lat.get("p99")),
            "data-errors": errors, "data-inconsistencies": inc, "data-limited-by": run.get("limited_by"),
        }
        a = "".join(' %s="%s"' % (k, esc("" if v is None else v)) for k, v in attrs.items())
        out.append(
            '<tr class="run"%s>' % a +
            '<th scope="row"><a href="%s">%s</a><br><span class="small"><a href="%s">summary.json</a>%s</span></th>' % (
                link, esc(fmt_date(run.date)), href(os.path.join(run.folder, "summary.json"), page_dir),
                "" if run.has_report else ' <span class="muted">(no report.html)</span>') +
            "<td>%s</td>" % commit_text(run) + "<td>%s</td>" % tool_text(run) +
            "<td>%s</td>" % (esc(run.get("scenario") or "?") + (
                '<br><span class="small">B <code>%s</code> / A <code>%s</code></span>' % (
                    esc(run.get("compare")["b"].get("commit")), esc(run.get("compare")["a"].get("commit"))) if is_compare(run) else "")) +
            "<td>%s</td>" % envelope_text(run) +
            cell(rps, "num") + cell(latencies(lat), "num") +
            cell(fmt_int(errors), "num" + (" badn" if errors else "")) +
            cell(fmt_int(inc), "num" + (" badn" if inc else "")) + thresholds_cell(run) + "</tr>")
        out.append('<tr class="detail"><td colspan="10"><details><summary>%d level%s, machine, thresholds '
                   '<span class="sr">of run %s</span></summary>%s</details></td></tr>' % (
                       len(run.levels), "" if len(run.levels) == 1 else "s", esc(run.id), levels_table(run)))
    head = ('<tr><th scope="col">date (report)</th><th scope="col">commit</th><th scope="col">tool</th>'
            '<th scope="col">scenario</th><th scope="col">envelope</th><th scope="col">req/s<br><span class="small muted">(peak level)</span></th>'
            '<th scope="col">p50 / p99 / max ms<br><span class="small muted">(peak level)</span></th>'
            '<th scope="col">errors</th><th scope="col">inconsist&shy;encies</th><th scope="col">thresholds</th></tr>')
    return ('<div class="scroll"><table id="runs-table" class="runs"><caption>All archived runs, newest first. '
            'Latencies and req/s are those of the run\'s peak level (its highest req/s); errors and '
            'inconsistencies are summed over all its levels.</caption><thead>%s</thead><tbody>%s</tbody>'
            '</table></div>') % (head, "".join(out))


# ---------------------------------------------------------------- charts (inline SVG)

W, H = 600, 270
ML, MR, MT, MB = 64, 40, 30, 54


def axis_label(v, unit):
    if unit == "req/s":
        return "{:,.0f}".format(v) if v >= 10 or v == 0 else "{:g}".format(v)
    return "{:g}".format(round(v, 6))


def chart(chart_id, metric, title, unit, runs, value_of):
    """A figure with an SVG line chart: one point per run (date order)."""
    pts = []
    for run in runs:
        v = value_of(run)
        if v is not None:
            pts.append((run, v))
    missing = len(runs) - len(pts)
    n = len(pts)
    top = nice_max(max(v for _, v in pts) * 1.05) if pts else 1.0
    pw, ph = W - ML - MR, H - MT - MB

    def xy(i, v):
        x = ML + (pw / 2 if n == 1 else pw * i / (n - 1))
        return round(x, 1), round(MT + ph * (1 - v / top), 1)

    svg = []
    for k in range(5):
        v = top * k / 4
        y = round(MT + ph * (1 - k / 4), 1)
        svg.append('<line class="grid" x1="%d" x2="%d" y1="%s" y2="%s"/>' % (ML, W - MR, y, y))
        svg.append('<text class="ytick" x="%d" y="%s">%s</text>' % (ML - 6, y + 4, esc(axis_label(v, unit))))
    svg.append('<text class="yunit" x="%d" y="%d">%s</text>' % (ML, MT - 12, esc(unit)))
    if n > 1:
        svg.append('<polyline class="line" points="%s"/>' % " ".join("%s,%s" % xy(i, v) for i, (_, v) in enumerate(pts)))
    step = max(1, math.ceil(n / 8))
    labelled = set(range(n - 1, -1, -step))
    for i, (run, v) in enumerate(pts):
        x, y = xy(i, v)
        lv = run.peak
        shown = (fmt_rps(v) + " req/s") if unit == "req/s" else (fmt_ms(v) + " ms")
        label = "%s: %s" % (shown, provenance(run, lv))
        if generator_bound(run):
            label += ", generator-bound (the load generator was the limit, not the stack)"
        if failed(run):
            label += ", thresholds FAILED"
            mark = '<rect x="%s" y="%s" width="11" height="11" transform="rotate(45 %s %s)"/>' % (
                round(x - 5.5, 1), round(y - 5.5, 1), x, y)
        else:
            mark = '<circle cx="%s" cy="%s" r="5"/>' % (x, y)
        if generator_bound(run):
            mark += '<text class="genmark" x="%s" y="%s">G</text>' % (x, round(y - 9, 1))
        svg.append('<g class="pt%s" tabindex="0" role="img" aria-label="%s" data-run="%s" data-value="%s" '
                   'data-x="%s" data-y="%s" data-label="%s">%s<title>%s</title></g>' % (
                       (" fail" if failed(run) else "") + (" gen" if generator_bound(run) else ""), esc(label), esc(run.id), v, x, y, esc(label), mark, esc(label)))
        if i in labelled:
            svg.append('<text class="xtick" x="%s" y="%d">%s%s</text>' % (
                x, H - MB + 18, esc(run.get("commit") or "?"), "+" if run.get("dirty") else ""))
            svg.append('<text class="xtick muted" x="%s" y="%d">%s</text>' % (
                x, H - MB + 34, esc(run.date.strftime("%m-%d %H:%M"))))
    svg.append('<text class="xunit" x="%d" y="%d">commit and date (UTC) of each run, oldest to newest</text>' % (
        ML + pw / 2, H - 6))
    if not pts:
        svg.append('<text class="empty" x="%d" y="%d">no measured value yet</text>' % (ML + pw / 2, MT + ph / 2))

    last = pts[-1] if pts else None
    readout = ("Latest: %s" % provenance(last[0], last[0].peak)) if last else "Nothing measured yet."
    if last:
        readout = ("Latest: %s %s \u2014 " % (fmt_rps(last[1]) if unit == "req/s" else fmt_ms(last[1]), unit)
                   + provenance(last[0], last[0].peak))
    rows = "".join(
        '<tr><th scope="row">%s</th><td><code>%s</code>%s</td><td>%s</td><td>%s</td><td>%s</td>'
        '<td class="num">%s</td></tr>' % (
            esc(fmt_date(r.date)), esc(r.get("commit")), "+dirty" if r.get("dirty") else "",
            esc("%s %s" % (r.get("tool"), r.get("tool_version") or "")), esc(envelope_text(r, plain=True)),
            esc(r.peak.get("name") if r.peak else DASH),
            esc(fmt_rps(v) if unit == "req/s" else fmt_ms(v))) for r, v in pts)
    miss = (' <span class="muted">(%d run%s without a measured value: not drawn)</span>' % (
        missing, "" if missing == 1 else "s")) if missing else ""
    return """<figure class="chart" id="%(id)s">
<figcaption><h4>%(title)s</h4></figcaption>
<svg viewBox="0 0 %(w)d %(h)d" role="group" aria-label="%(title)s: %(n)d points; focus a point for its figures" data-chart="%(metric)s" data-points="%(n)d" data-max="%(top)s">
%(svg)s
</svg>
<p class="readout" aria-live="polite">%(readout)s</p>
<details><summary>Data of this chart (%(n)d run%(s)s)%(miss)s</summary><div class="scroll"><table class="data">
<thead><tr><th scope="col">date</th><th scope="col">commit</th><th scope="col">tool</th><th scope="col">envelope</th><th scope="col">peak level</th><th scope="col">%(unit)s</th></tr></thead>
<tbody>%(rows)s</tbody></table></div></details>
</figure>""" % dict(id=esc(chart_id), title=esc(title), w=W, h=H, metric=esc(metric), n=n, top=top, svg="\n".join(svg),
                    readout=esc(readout), s="" if n == 1 else "s", miss=miss, unit=esc(unit), rows=rows)


def charts(runs):
    groups = {}
    for run in runs:
        if is_compare(run):
            continue  # ratios between two commits: their own section, not a trend
        groups.setdefault((run.get("scenario") or "?", run.get("tool") or "?"), []).append(run)
    out = []
    for (scenario, tool), rs in sorted(groups.items(), key=lambda kv: (SCENARIO_ORDER.get(kv[0][0], 9), kv[0])):
        rs.sort(key=lambda r: r.sort_key)
        envs = sorted({envelope_text(r, plain=True) for r in rs})
        slug = "".join(c if c.isalnum() else "-" for c in "%s-%s" % (scenario, tool))
        rps = chart("chart-%s-rps" % slug, "throughput", "Throughput: %s with %s" % (scenario, tool), "req/s", rs,
                    lambda r: num(r.peak.get("rps")) if r.peak else None)
        p99 = chart("chart-%s-p99" % slug, "p99", "p99 latency: %s with %s" % (scenario, tool), "ms", rs,
                    lambda r: num((r.peak.get("latency_ms") or {}).get("p99")) if r.peak else None)
        out.append("""<section class="group" aria-labelledby="h-%(slug)s" data-scenario="%(sc)s" data-tool="%(tool)s">
<h3 id="h-%(slug)s">%(sc)s <span class="muted">with %(tool)s</span></h3>
<p class="small">%(desc)s. %(n)d run%(s)s %(span)s. Envelope%(es)s: %(envs)s. Each point is the run's peak level (its highest req/s).
<span class="legend"><span class="lc" aria-hidden="true"></span>thresholds passed or not evaluated, <span class="lf" aria-hidden="true"></span>thresholds failed, <b class="gen">G</b> generator-bound (the load generator was the limit, not the stack).</span></p>
<div class="pair">%(rps)s%(p99)s</div>
</section>""" % dict(slug=esc(slug), sc=esc(scenario), tool=esc(tool), desc=esc(SCENARIO_TEXT.get(scenario, "scenario " + scenario)),
                     n=len(rs), s="" if len(rs) == 1 else "s", span=esc(
                         "on %s" % fmt_date(rs[0].date) if len(rs) == 1 else
                         "from %s to %s" % (fmt_date(rs[0].date), fmt_date(rs[-1].date))),
                     es="" if len(envs) == 1 else "s (vary by run)", envs=esc("; ".join(envs)), rps=rps, p99=p99))
    return "\n".join(out)


# ---------------------------------------------------------------- latest per scenario


def latest_cards(runs):
    latest = {}
    for run in runs:
        if is_compare(run):
            continue
        latest[run.get("scenario") or "?"] = run  # runs are in date order: the last wins
    cards = []
    for scenario, run in sorted(latest.items(), key=lambda kv: (SCENARIO_ORDER.get(kv[0], 9), kv[0])):
        lv = run.peak or {}
        lat = lv.get("latency_ms") if isinstance(lv.get("latency_ms"), dict) else {}
        th = run.get("thresholds") if isinstance(run.get("thresholds"), dict) else {}
        th_text = {True: '<span class="ok">\u2713 thresholds passed</span>',
                   False: '<span class="bad">\u2717 thresholds FAILED</span>'}.get(th.get("passed"), "thresholds not evaluated")
        figs = []
        if fmt_rps(lv.get("rps")):
            figs.append("<b>%s</b> req/s" % fmt_rps(lv.get("rps")))
        if fmt_ms(lat.get("p99")):
            figs.append("p99 <b>%s</b> ms" % fmt_ms(lat.get("p99")))
        if fmt_ms(lat.get("max")):
            figs.append("max <b>%s</b> ms" % fmt_ms(lat.get("max")))
        errors, inc = sum_levels(run, "errors"), sum_levels(run, "inconsistencies")
        figs.append("errors <b>%s</b>" % (fmt_int(errors) or DASH))
        figs.append("inconsistencies <b>%s</b>" % (fmt_int(inc) or DASH))
        figs.append("limited by <b>%s</b>" % esc(run.get("limited_by") or "nothing saturated"))
        if generator_bound(run):
            verdict_text = '<span class="gen">generator-bound: these figures are the load generator\'s ceiling, not the stack\'s</span>'
        else:
            verdict_text = ""
        cards.append('<li class="card" data-scenario="%s"><h3>%s</h3><p class="figs">%s</p><p>%s</p>%s'
                     '<p class="small">%s</p></li>' % (
                         esc(scenario), esc(scenario), " \u00b7 ".join(figs), th_text, verdict_text and "<p>%s</p>" % verdict_text,
                         esc(provenance(run, run.peak or None))))
    return '<ul class="cards">%s</ul>' % "".join(cards)


# ---------------------------------------------------------------- page

CSS = """
:root{--bg:#fff;--fg:#1a1a1a;--muted:#4d4d4d;--line:#c8c8c8;--grid:#e3e3e3;--link:#0b4fa8;--accent:#0b4fa8;
--ok:#0a6b2f;--bad:#b00020;--card:#f5f6f8;--focus:#b34700;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#121417;--fg:#ececec;--muted:#b8b8b8;--line:#555;--grid:#2c3036;
--link:#8ec1ff;--accent:#7db4ff;--ok:#6ee29a;--bad:#ff8a8a;--card:#1c2026;--focus:#ffb068}}
*{box-sizing:border-box}
html{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;background:var(--bg);color:var(--fg)}
body{margin:0 auto;max-width:1280px;padding:1rem 1.25rem 3rem}
a{color:var(--link)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-9999px;top:0}.skip:focus{left:1rem;background:var(--bg);padding:.4rem .6rem;z-index:9}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
h1{font-size:1.6rem;margin:.5rem 0}h2{margin-top:2.2rem;border-bottom:1px solid var(--line)}
h3{margin:.2rem 0}h4{margin:.2rem 0;font-size:1rem}
.muted{color:var(--muted)}.small{font-size:.85rem}.ok{color:var(--ok);font-weight:600}.bad,.badn{color:var(--bad);font-weight:600}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.92em}
.dirty{color:var(--bad);font-size:.8rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;color:var(--muted);font-size:.85rem;padding:.3rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{border-bottom:2px solid var(--fg);white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.run th[scope=row]{white-space:nowrap;font-weight:600}
tr.detail td{border-bottom:2px solid var(--line);padding-top:0}
details>summary{cursor:pointer;color:var(--link);font-size:.85rem}
.cards{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.8rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem .9rem}
.card p{margin:.3rem 0}.figs b{font-size:1.1rem}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:1rem}
figure.chart{margin:0;border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem}
figure svg{width:100%;height:auto;display:block;overflow:visible}
svg text{fill:var(--fg);font-size:12px}
svg .ytick{text-anchor:end}svg .yunit{fill:var(--muted)}
svg .xtick{text-anchor:middle;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:11px}
svg .xtick.muted,svg .xunit{fill:var(--muted)}svg .xunit,svg .empty{text-anchor:middle}
svg .grid{stroke:var(--grid);stroke-width:1}
svg .line{fill:none;stroke:var(--accent);stroke-width:2}
svg .pt circle,svg .pt rect{fill:var(--bg);stroke:var(--accent);stroke-width:2.5;transition:fill .15s ease}
svg .pt.fail rect{stroke:var(--bad)}
svg .pt:hover circle,svg .pt:focus circle{fill:var(--accent)}svg .pt:hover rect,svg .pt:focus rect{fill:var(--bad)}
svg .pt:focus{outline:none}svg .pt:focus-visible circle,svg .pt:focus-visible rect{stroke:var(--focus);stroke-width:4}
.legend .lc,.legend .lf{display:inline-block;width:.7em;height:.7em;border:2px solid var(--accent);border-radius:50%;margin:0 .2em}
.legend .lf{border-color:var(--bad);border-radius:0;transform:rotate(45deg)}
.group{margin-top:1.6rem}
.readout{min-height:2.6em;font-size:.85rem;margin:.3rem 0}
.notice{border-left:4px solid var(--bad);padding:.3rem .8rem;background:var(--card)}
.gen{color:var(--bad);font-weight:600;font-size:.85rem;white-space:normal}
svg .genmark{fill:var(--bad);font-size:11px;font-weight:700;text-anchor:middle}
@media (prefers-reduced-motion:reduce){*,*::before,*::after{transition:none!important;animation:none!important;scroll-behavior:auto!important}}
@media (prefers-reduced-motion:no-preference){html{scroll-behavior:smooth}}
"""

JS = """
document.querySelectorAll('figure.chart').forEach(function (fig) {
  var out = fig.querySelector('.readout');
  function show(e) {
    var pt = e.target.closest && e.target.closest('.pt');
    if (pt) { out.textContent = pt.getAttribute('data-label'); }
  }
  fig.addEventListener('focusin', show);
  fig.addEventListener('mouseover', show);
});
"""


def page(runs, skipped, page_dir, runs_dir):
    n = len(runs)
    span = ("from %s to %s" % (fmt_date(runs[0].date), fmt_date(runs[-1].date))) if n > 1 else (
        "on %s" % fmt_date(runs[0].date) if runs else "")
    notice = ""
    if skipped:
        notice = ('<div class="notice" id="skipped"><p>%d archived folder%s skipped (not shown anywhere on this page):</p>'
                  '<ul>%s</ul></div>') % (len(skipped), "" if len(skipped) == 1 else "s", "".join(
                      '<li data-skipped="%s"><code>%s</code>: %s</li>' % (esc(i), esc(i), esc(why)) for i, why in skipped))
    body_runs = ("<p>No run archived yet: nothing to show. Runs appear here once "
                 "<code>reports/runs/&lt;id&gt;/summary.json</code> exists.</p>") if not runs else ""
    rel_runs = os.path.relpath(runs_dir, page_dir).replace(os.sep, "/")
    return """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crébitos in C: load test reports</title>
<style>%(css)s</style>
</head>
<body>
<a class="skip" href="#runs">Skip to the table of runs</a>
<header>
<h1>crébitos in C: load test reports</h1>
<p>Every archived load run of this Rinha de Backend 2024/Q1 backend (nginx, two C replicas, PostgreSQL; the Rinha allows 1.5 CPU / 550 MB in all).
<span id="count" data-runs="%(n)d">%(n)d run%(s)s</span> %(span)s, read from <code>%(rel)s/*/summary.json</code>.
Every figure carries its date, commit, tool and envelope; a dash means not measured. Nothing here is estimated.</p>
</header>
<main>
%(notice)s
%(empty)s
<section aria-labelledby="h-latest"><h2 id="h-latest">Latest run of each scenario</h2>%(cards)s</section>
<section aria-labelledby="h-trends"><h2 id="h-trends">Trends by commit</h2>
<p class="small">One chart per scenario and tool (their numbers are not comparable with each other). Points are runs in date order.
Hover or focus a point (Tab) to read its figures; each chart's data is also in the table under it.</p>
%(charts)s
</section>
%(compare)s
<section aria-labelledby="h-runs" id="runs"><h2 id="h-runs">All runs</h2>
%(table)s
</section>
<section aria-labelledby="h-how"><h2 id="h-how">How to read this</h2>
<ul class="small">
<li><b>Scenarios.</b> <i>rinha</i>: the official load (k6 port of the Gatling simulation), judged on the SLA (98%% of responses 200/422 under 250 ms, zero inconsistencies). <i>stress</i>: open-loop rates raised until the SLA breaks. <i>bench-mix</i>: closed-loop wrk at fixed connection counts.</li>
<li><b>Peak level.</b> A run may hold several load levels; the table and charts show the level with the highest measured req/s, named next to the figure. Every level is listed in the run's details.</li>
<li><b>Envelope.</b> The CPU and memory limits the stack ran under, and how they were enforced (<i>docker</i>, <i>cgroup-v1/v2</i> for the native stack, or <i>not enforced</i>).</li>
<li><b>Errors</b>: responses outside the expected status codes plus socket errors and timeouts. <b>Inconsistencies</b>: responses showing a balance past the limit, or a wrong limit.</li>
<li><b>+dirty</b>: the measured tree had uncommitted changes.</li>
<li><b>Thresholds</b> pass only when every check passed. A stress ramp stops at its p99 or error-rate bound: that stop is the measurement, shown in the run's report, never a pass or a failure.</li>
<li><b>Limited by</b>: what limited the run, from the CPU of each service (its cgroup), of the whole stack and of the load generator: <i>stack-cpu</i>, <i>database</i>, <i>&lt;service&gt;-throttling</i>, or <i>generator</i>. A <b>generator-bound</b> run measured the load generator (k6 or wrk on the same cores), not the stack: its ceiling is not the stack's.</li>
</ul>
</section>
</main>
<script>%(js)s</script>
</body>
</html>
""" % dict(css=CSS, js=JS, n=n, s="" if n == 1 else "s", span=esc(span), rel=esc(rel_runs), notice=notice,
           empty=body_runs, cards=latest_cards(runs) if runs else "", charts=charts(runs), table=runs_table(runs, page_dir),
           compare=compare_section(runs, page_dir))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default="reports/runs", help="folder of archived runs (default: reports/runs)")
    ap.add_argument("--out", default="reports/index.html", help="page to write (default: reports/index.html)")
    args = ap.parse_args(argv)
    runs, skipped = load_runs(args.runs)
    page_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(page_dir, exist_ok=True)
    text = page(runs, skipped, page_dir, os.path.abspath(args.runs))
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    for run_id, why in skipped:
        print("site: skipped %s: %s" % (run_id, why), file=sys.stderr)
    print("site: %s: %d run%s%s" % (args.out, len(runs), "" if len(runs) == 1 else "s",
                                   ", %d skipped" % len(skipped) if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
