#!/usr/bin/python3
"""Build the reports site, one static page, from the archived runs.

    site.py [--runs reports/runs] [--out reports/index.html]

Reads every <runs>/<run id>/summary.json (reports/SCHEMA.md) and applies
the rules of verdict.py to it (runs archived before them get them too). The
page shows, per scenario and tool, the throughput and p99 of every run by
commit (inline SVG), each `make compare` as a pair, and a table of every run
linking to its report.html (or its summary.json) by a path relative to the
page; a folder it cannot read is listed as skipped. One file with its style
(site.css, inlined), no library, no network: it works from the file system
and from any static host. The output depends only on the inputs, so
rebuilding an unchanged archive changes nothing. Python 3 standard library.
"""

import argparse
import json
import math
import os
import sys
import urllib.parse
from datetime import datetime, timezone

import verdict  # one verdict and what limited each run, as in the per-run reports
from report import esc, inline, nice_max  # the same escaping, style inlining and axis rounding as report.py

SCENARIOS = {  # in the page's order
    "rinha": "the official Rinha scenario (open-loop arrivals, peak ~340 req/s)",
    "stress": "stress: rising open-loop rates until the SLA breaks",
    "bench-mix": "bench-mix: closed-loop wrk load, the request mix of the Rinha",
}
DASH = "\u2014"
NOT_MEASURED = '<span aria-hidden="true">%s</span><span class="sr">not measured</span>' % DASH
GEN = "the load generator was the limit, not the stack"
# A focused or hovered chart point shows its figures under the chart.
JS = ("document.querySelectorAll('figure.chart').forEach(function (fig) { var out = fig.querySelector('.readout');"
      " function show(e) { var pt = e.target.closest('.pt'); if (pt) { out.textContent = pt.getAttribute('aria-label'); } }"
      " fig.addEventListener('focusin', show); fig.addEventListener('mouseover', show); });")


# ---------------------------------------------------------------- runs


def num(v):
    """A finite number, or None (null, missing, a bool, not a number)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def load(folder):
    """The summary of the run in folder, with _id, _dir, _date, _levels,
    _peak (its level of highest req/s) and _report; or why it is skipped."""
    try:
        with open(os.path.join(folder, "summary.json"), encoding="utf-8") as f:
            s = json.load(f)
    except FileNotFoundError:
        return "no summary.json"
    except (OSError, ValueError) as e:
        return "unreadable summary.json: %s" % type(e).__name__
    if not isinstance(s, dict):
        return "summary.json is not an object"
    if s.get("schema") != 1:
        return "schema %r, expected 1" % (s.get("schema"),)
    try:
        date = datetime.fromisoformat(s["date"].replace("Z", "+00:00"))
    except (KeyError, AttributeError, ValueError):
        return "no valid date"
    try:
        verdict.apply(s)  # in memory only: the archived file is not changed
    except (TypeError, ValueError, KeyError, AttributeError):
        pass  # a malformed summary is shown as it is
    levels = [lv for lv in s.get("levels") or [] if isinstance(lv, dict)]
    measured = [lv for lv in levels if num(lv.get("rps")) is not None]
    s.update(_id=os.path.basename(folder), _dir=folder, _levels=levels,
             _date=(date if date.tzinfo else date.replace(tzinfo=timezone.utc)).astimezone(timezone.utc),
             _peak=max(measured, key=lambda lv: lv["rps"]) if measured else None,
             _report=os.path.isfile(os.path.join(folder, "report.html")))
    return s


def load_runs(runs_dir):
    """(runs oldest first, [(folder name, why skipped)])."""
    runs, skipped = [], []
    for name in sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []:
        if not name.startswith(".") and os.path.isdir(os.path.join(runs_dir, name)):
            s = load(os.path.join(runs_dir, name))
            if isinstance(s, str):
                skipped.append((name, s))
            else:
                runs.append(s)
    return sorted(runs, key=when), skipped


def when(s):
    return s["_date"], s["_id"]


# ---------------------------------------------------------------- text


def fmt(v, ms=False):
    """A figure as shown (counts whole, req/s to 0.1 below 100, ms to about
    three digits), or None when it was not measured."""
    v = num(v)
    if v is None or isinstance(v, int):
        return None if v is None else "{:,}".format(v)
    return "{:,.{}f}".format(v, (2 if v < 10 else 1 if v < 100 else 0) if ms else (1 if v < 100 else 0))


def fmt_date(d):
    return d.strftime("%Y-%m-%d %H:%M UTC")


def g(v):
    return "?" if num(v) is None else "%g" % v


def envelope(s, html=False):
    e = s.get("envelope")
    if not isinstance(e, dict):
        return "envelope not recorded"
    how = {None: "enforcement not recorded", "none": "not enforced"}.get(e.get("enforced"), "by %s" % e.get("enforced"))
    if e.get("sched_policy"):
        how += ", scheduling policy %s" % e["sched_policy"]
    size = "%s CPU / %s MB" % (g(e.get("cpus")), g(e.get("memory_mb")))
    return '%s<br><span class="small muted">(%s)</span>' % (size, esc(how)) if html else "%s (%s)" % (size, how)


def provenance(s):
    """Date, commit, tool, envelope and level of a run's headline figures."""
    parts = [fmt_date(s["_date"]), "commit %s%s" % (s.get("commit") or "?", "+dirty" if s.get("dirty") else ""),
             ("%s %s" % (s.get("tool") or "?", s.get("tool_version") or "")).strip(), "envelope " + envelope(s)]
    lv = s["_peak"]
    if lv:
        bits = [f % lv[k] for k, f in (("connections", "%d connections"), ("rate", "%g/s target"), ("duration_s", "%g s"))
                if num(lv.get(k)) is not None]
        parts.append("level %s%s" % (lv.get("name") or "?", " (%s)" % ", ".join(bits) if bits else ""))
    return ", ".join(parts)


def peak(s, key):
    lv = s["_peak"] or {}
    return num(lv.get(key) if key == "rps" else (lv.get("latency_ms") or {}).get(key))


def total(s, key):
    vals = [num(lv.get(key)) for lv in s["_levels"]]
    return sum(v for v in vals if v is not None) if any(v is not None for v in vals) else None


def failed(s):
    th = s.get("thresholds")
    return isinstance(th, dict) and th.get("passed") is False


def generator_bound(s):
    return s.get("limited_by") == "generator"


def is_compare(s):
    return s.get("scenario") == "compare" and isinstance(s.get("compare"), dict)


def href(target, page_dir):
    return urllib.parse.quote(os.path.relpath(target, page_dir).replace(os.sep, "/"))


def report_href(s, page_dir):
    return href(os.path.join(s["_dir"], "report.html" if s["_report"] else "summary.json"), page_dir)


# ---------------------------------------------------------------- trend charts (inline SVG)

W, H = 600, 270
ML, MR, MT, MB = 64, 40, 30, 54


def chart(chart_id, metric, title, unit, runs):
    """One point per run with a measured value, oldest to newest."""
    key = "rps" if unit == "req/s" else "p99"
    pts = [(s, peak(s, key)) for s in runs if peak(s, key) is not None]
    n, top = len(pts), nice_max(max(v for _, v in pts) * 1.05) if pts else 1.0
    pw, ph = W - ML - MR, H - MT - MB

    def xy(i, v):
        return round(ML + (pw / 2 if n == 1 else pw * i / (n - 1)), 1), round(MT + ph * (1 - v / top), 1)

    def shown(v):
        return "%s %s" % (fmt(v, ms=unit == "ms"), unit)

    svg = ['<text class="muted" x="%d" y="%d">%s</text>' % (ML, MT - 12, esc(unit))]
    for k in range(5):
        y = round(MT + ph * (1 - k / 4), 1)
        svg.append('<line class="grid" x1="%d" x2="%d" y1="%s" y2="%s"/><text class="y" x="%d" y="%s">%s</text>'
                   % (ML, W - MR, y, y, ML - 6, y + 4, "{:,.6f}".format(top * k / 4).rstrip("0").rstrip(".")))
    if n > 1:
        svg.append('<polyline class="line" points="%s"/>' % " ".join("%s,%s" % xy(i, v) for i, (_, v) in enumerate(pts)))
    labelled = set(range(n - 1, -1, -max(1, math.ceil(n / 8))))  # at most 8 x labels, the newest always
    for i, (s, v) in enumerate(pts):
        x, y = xy(i, v)
        label = "%s: %s%s%s" % (shown(v), provenance(s), ", generator-bound (%s)" % GEN if generator_bound(s) else "",
                                ", thresholds FAILED" if failed(s) else "")
        mark = ('<rect x="%s" y="%s" width="11" height="11" transform="rotate(45 %s %s)"/>' % (round(x - 5.5, 1), round(y - 5.5, 1), x, y)
                if failed(s) else '<circle cx="%s" cy="%s" r="5"/>' % (x, y))
        if generator_bound(s):
            mark += '<text class="genmark" x="%s" y="%s">G</text>' % (x, round(y - 9, 1))
        svg.append('<g class="pt%s" tabindex="0" role="img" aria-label="%s" data-run="%s" data-value="%s">%s</g>' % (
            " fail" if failed(s) else "", esc(label), esc(s["_id"]), v, mark))
        if i in labelled:
            svg.append('<text class="x" x="%s" y="%d">%s%s</text><text class="x muted" x="%s" y="%d">%s</text>' % (
                x, H - MB + 18, esc(s.get("commit") or "?"), "+" if s.get("dirty") else "", x, H - MB + 34, s["_date"].strftime("%m-%d %H:%M")))
    svg.append('<text class="mid muted" x="%d" y="%d">commit and date (UTC) of each run, oldest to newest</text>' % (ML + pw / 2, H - 6))
    readout = "Latest: %s \u2014 %s" % (shown(pts[-1][1]), provenance(pts[-1][0])) if pts else "Nothing measured yet."
    missing = len(runs) - n
    return ('<figure class="chart" id="%s"><figcaption><h4>%s</h4></figcaption><svg viewBox="0 0 %d %d" role="group" '
            'aria-label="%s: %d points; focus a point for its figures" data-chart="%s" data-points="%d">%s</svg>'
            '<p class="readout" aria-live="polite">%s%s</p></figure>') % (
        chart_id, esc(title), W, H, esc(title), n, metric, n, "".join(svg), esc(readout),
        ' <span class="muted">(%d run%s without a measured value: not drawn)</span>' % (missing, "" if missing == 1 else "s") if missing else "")


def trends(runs):
    """Per scenario and tool (their figures are not comparable), the
    throughput and the p99 of each run; compare runs are pairs, not trends."""
    groups = {}
    for s in runs:
        if not is_compare(s):
            groups.setdefault((s.get("scenario") or "?", s.get("tool") or "?"), []).append(s)
    out = []
    order = list(SCENARIOS)
    for (scenario, tool), rs in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 9, kv[0])):
        slug = "".join(c if c.isalnum() else "-" for c in "%s-%s" % (scenario, tool))
        envs = sorted({envelope(s) for s in rs})
        span = "on %s" % fmt_date(rs[0]["_date"]) if len(rs) == 1 else "from %s to %s" % (fmt_date(rs[0]["_date"]), fmt_date(rs[-1]["_date"]))
        out.append('<section class="group" aria-labelledby="h-%s" data-scenario="%s" data-tool="%s"><h3 id="h-%s">%s <span class="muted">with %s</span></h3>'
                   '<p class="small">%s. %d run%s %s. Envelope%s: %s. Each point is the run\'s peak level (its highest req/s).</p>'
                   '<div class="pair">%s%s</div></section>' % (
                       slug, esc(scenario), esc(tool), slug, esc(scenario), esc(tool), esc(SCENARIOS.get(scenario, "scenario " + scenario)),
                       len(rs), "" if len(rs) == 1 else "s", span, "" if len(envs) == 1 else "s (vary by run)", esc("; ".join(envs)),
                       chart("chart-%s-rps" % slug, "throughput", "Throughput: %s with %s" % (scenario, tool), "req/s", rs),
                       chart("chart-%s-p99" % slug, "p99", "p99 latency: %s with %s" % (scenario, tool), "ms", rs)))
    return "\n".join(out)


# ---------------------------------------------------------------- tables


def ratio_text(r):
    med, lo, hi = (num((r or {}).get(k)) for k in ("median", "min", "max"))
    if med is None:
        return DASH
    return "\u00d7%.3f <span class=\"muted\">(%s..%s)</span>" % (med, "?" if lo is None else "%.3f" % lo, "?" if hi is None else "%.3f" % hi)


def compare_section(runs, page_dir):
    """make compare runs as pairs: A and B, and per level the ratios B/A."""
    rows = []
    for s in sorted(filter(is_compare, runs), key=when, reverse=True):
        c = s["compare"]
        a, b = c.get("a") or {}, c.get("b") or {}
        levels = [lv for lv in c.get("levels") or [] if isinstance(lv, dict)]
        for i, lv in enumerate(levels):
            head = "" if i else ('<th scope="row" rowspan="%d"><a href="%s">%s</a><br><span class="small">A <code>%s</code> (%s) '
                                 '\u2192 B <code>%s</code> (%s), %s rounds</span></th>') % (
                len(levels), report_href(s, page_dir), fmt_date(s["_date"]), esc(a.get("commit")), esc(a.get("rev")),
                esc(b.get("commit")), esc(b.get("rev")), esc(c.get("rounds")))
            rows.append('<tr class="cmp" data-run="%s" data-level="%s" data-ratio-rps="%s" data-ratio-p99="%s">%s<td>%s</td>'
                        '<td class="num">%s</td><td class="num">%s</td></tr>' % (
                            esc(s["_id"]), esc(lv.get("name")), esc((lv.get("ratio_rps") or {}).get("median")),
                            esc((lv.get("ratio_p99") or {}).get("median")), head, esc(lv.get("name")),
                            ratio_text(lv.get("ratio_rps")), ratio_text(lv.get("ratio_p99"))))
    if not rows:
        return ""
    return ('<section aria-labelledby="h-compare" id="compare"><h2 id="h-compare">Compare runs (B / A)</h2>'
            '<p class="small">Two commits measured in turn, A B A B ..., each turn a fresh stack in the same envelope at the same levels '
            '(<code>make compare</code>). Ratios are B over A, median of the rounds, with the lowest and highest round in brackets: '
            'req/s above 1 and p99 below 1 favour B.</p><div class="scroll"><table><thead><tr><th scope="col">run (A \u2192 B)</th>'
            '<th scope="col">level</th><th scope="col">req/s B/A</th><th scope="col">p99 B/A</th></tr></thead><tbody>%s</tbody></table></div></section>'
            % "".join(rows))


def td(text, cls="num"):
    return '<td class="%s">%s</td>' % (cls, NOT_MEASURED if text is None else text)


def thresholds_cell(s):
    th = s.get("thresholds")
    if not isinstance(th, dict) or th.get("passed") is None:
        return '<td data-thresholds="none">not evaluated</td>'
    checks = [c for c in th.get("checks") or [] if isinstance(c, dict)]
    detail = "; ".join("%s %s (value %s, limit %s)" % ("passed" if c.get("passed") else "FAILED", c.get("name"), c.get("value"), c.get("limit"))
                       for c in checks)
    text = ('<span class="ok">\u2713 passed</span> <span class="muted">%d/%d</span>' % (len(checks), len(checks)) if th["passed"] else
            '<span class="bad">\u2717 FAILED</span> <span class="muted">%d of %d</span>' % (sum(c.get("passed") is False for c in checks), len(checks)))
    return '<td data-thresholds="%s" title="%s">%s</td>' % ("passed" if th["passed"] else "failed", esc(detail), text)


def limited_cell(s):
    rule = esc((s.get("limited_by_evidence") or {}).get("rule"))
    if generator_bound(s):
        return '<td class="small" title="%s"><span class="gen">generator-bound</span><span class="sr"> (%s)</span></td>' % (rule, GEN)
    return '<td class="small" title="%s">%s</td>' % (rule, esc(s.get("limited_by") or "nothing saturated"))


def runs_table(runs, page_dir):
    rows = []
    for s in sorted(runs, key=when, reverse=True):
        lv = s["_peak"] or {}
        errors, inc = total(s, "errors"), total(s, "inconsistencies")
        lat = [fmt(peak(s, k), ms=True) for k in ("p50", "p99", "max")]
        data = {"run": s["_id"], "commit": s.get("commit"), "tool": s.get("tool"), "scenario": s.get("scenario"), "date": s.get("date"),
                "rps": peak(s, "rps"), "p99": peak(s, "p99"), "errors": errors, "inconsistencies": inc, "limited-by": s.get("limited_by")}
        pair = ('<br><span class="small">B <code>%s</code> / A <code>%s</code></span>' % (
            esc((s["compare"].get("b") or {}).get("commit")), esc((s["compare"].get("a") or {}).get("commit")))) if is_compare(s) else ""
        rows.append(
            '<tr class="run"%s><th scope="row"><a href="%s">%s</a><br><span class="small"><a href="%s">summary.json</a>%s</span></th>' % (
                "".join(' data-%s="%s"' % (k, esc(v)) for k, v in data.items()), report_href(s, page_dir), fmt_date(s["_date"]),
                href(os.path.join(s["_dir"], "summary.json"), page_dir), "" if s["_report"] else ' <span class="muted">(no report.html)</span>')
            + '<td><code>%s</code>%s</td>' % (esc(s.get("commit") or DASH), ' <span class="bad small">+dirty</span>' if s.get("dirty") else "")
            + '<td>%s<br><span class="small muted">%s</span></td><td>%s%s</td><td>%s</td>' % (
                esc(s.get("tool") or "?"), esc(s.get("tool_version") or ""), esc(s.get("scenario") or "?"), pair, envelope(s, html=True))
            + td(fmt(lv.get("rps")) and '%s<br><span class="small muted">at %s</span>' % (fmt(lv.get("rps")), esc(lv.get("name") or "?")))
            + td(None if lat == [None] * 3 else " / ".join(v or DASH for v in lat))
            + td(fmt(errors), "num bad" if errors else "num") + td(fmt(inc), "num bad" if inc else "num")
            + thresholds_cell(s) + limited_cell(s) + "</tr>")
    cols = ["date (report)", "commit", "tool", "scenario", "envelope", "req/s", "p50 / p99 / max ms", "errors", "inconsist&shy;encies",
            "thresholds", "limited by"]
    return ('<div class="scroll"><table id="runs-table"><caption>All archived runs, newest first. Req/s and latencies are those of '
            'the run\'s peak level (its highest req/s); errors and inconsistencies are summed over all its levels.</caption>'
            '<thead><tr>%s</tr></thead><tbody>%s</tbody></table></div>') % (
                "".join('<th scope="col">%s</th>' % c for c in cols), "\n".join(rows))


# ---------------------------------------------------------------- page

HOW_TO_READ = [
    "<b>Scenarios.</b> <i>rinha</i>: the official load (k6 port of the Gatling simulation), judged on the SLA (98% of responses "
    "200/422 under 250 ms, zero inconsistencies). <i>stress</i>: open-loop rates raised until the SLA breaks. <i>bench-mix</i>: "
    "closed-loop wrk at fixed connection counts.",
    "<b>Peak level.</b> A run may hold several load levels; the table and charts show the level with the highest measured req/s, "
    "named next to the figure. Every level is in the run's report.",
    "<b>Envelope.</b> The CPU and memory limits the stack ran under, and how they were enforced (<i>docker</i>, <i>cgroup-v1/v2</i> "
    "for the native stack, or <i>not enforced</i>).",
    "<b>Errors</b>: responses outside the expected status codes plus socket errors and timeouts. <b>Inconsistencies</b>: responses "
    "showing a balance past the limit, or a wrong limit. <b>+dirty</b>: the measured tree had uncommitted changes.",
    "<b>Thresholds</b> pass only when every check passed. A stress ramp stops at its p99 or error-rate bound: that stop is the "
    "measurement, shown in the run's report, never a pass or a failure.",
    "<b>Limited by</b>: what limited the run, from the CPU of each service (its cgroup), of the whole stack and of the load "
    "generator: <i>stack-cpu</i>, <i>database</i>, <i>&lt;service&gt;-throttling</i>, <i>machine</i> (other processes) or "
    "<i>generator</i>. A <b>generator-bound</b> run measured the load generator (k6 or wrk on the same cores), not the stack: its "
    "ceiling is not the stack's.",
]


def page(runs, skipped, page_dir, runs_dir):
    n = len(runs)
    span = "" if not runs else "on %s" % fmt_date(runs[0]["_date"]) if n == 1 else "from %s to %s" % (
        fmt_date(runs[0]["_date"]), fmt_date(runs[-1]["_date"]))
    notice = ('<div class="notice" id="skipped"><p>%d archived folder%s skipped (not shown anywhere on this page):</p><ul>%s</ul></div>' % (
        len(skipped), "" if len(skipped) == 1 else "s", "".join('<li data-skipped="%s"><code>%s</code>: %s</li>' % (esc(i), esc(i), esc(why))
                                                                for i, why in skipped))) if skipped else ""
    empty = "" if runs else ("<p>No run archived yet: nothing to show. Runs appear here once "
                             "<code>reports/runs/&lt;id&gt;/summary.json</code> exists.</p>")
    legend = ('<p class="small legend"><i></i>thresholds passed or not evaluated, <i class="f"></i>thresholds failed, '
              '<b class="gen">G</b> generator-bound (%s). Hover or focus a point (Tab) to read its figures; '
              'every figure is also in the table of all runs.</p>' % GEN)
    return "\n".join([
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>crébitos in C: load test reports</title><style>%s</style></head>' % inline("site.css"),
        '<body><a class="skip" href="#runs">Skip to the table of runs</a><header><h1>crébitos in C: load test reports</h1>'
        '<p>Every archived load run of this Rinha de Backend 2024/Q1 backend (nginx, two C replicas, PostgreSQL; the Rinha allows '
        '1.5 CPU / 550 MB in all). <span id="count" data-runs="%d">%d run%s</span> %s, read from <code>%s/*/summary.json</code>. '
        'Every figure carries its date, commit, tool and envelope; a dash means not measured. Nothing here is estimated.</p></header><main>' % (
            n, n, "" if n == 1 else "s", span, esc(os.path.relpath(runs_dir, page_dir).replace(os.sep, "/"))),
        notice + empty,
        '<section aria-labelledby="h-trends"><h2 id="h-trends">Trends by commit</h2><p class="small">One pair of charts per scenario '
        'and tool (their numbers are not comparable with each other); points are runs in date order.</p>%s' % legend,
        trends(runs) + "</section>",
        compare_section(runs, page_dir),
        '<section aria-labelledby="h-runs" id="runs"><h2 id="h-runs">All runs</h2>%s</section>' % runs_table(runs, page_dir),
        '<section aria-labelledby="h-how"><h2 id="h-how">How to read this</h2><ul class="small">%s</ul></section>' % "".join(
            "<li>%s</li>" % li for li in HOW_TO_READ),
        "</main><script>%s</script></body></html>\n" % JS])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default="reports/runs", help="folder of archived runs (default: reports/runs)")
    ap.add_argument("--out", default="reports/index.html", help="page to write (default: reports/index.html)")
    args = ap.parse_args(argv)
    runs, skipped = load_runs(args.runs)
    page_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(page_dir, exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        f.write(page(runs, skipped, page_dir, os.path.abspath(args.runs)))
    os.replace(args.out + ".tmp", args.out)
    for name, why in skipped:
        print("site: skipped %s: %s" % (name, why), file=sys.stderr)
    print("site: %s: %d run%s%s" % (args.out, len(runs), "" if len(runs) == 1 else "s", ", %d skipped" % len(skipped) if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
