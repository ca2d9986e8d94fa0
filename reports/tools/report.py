#!/usr/bin/python3
"""Renders a run's report.html from its summary.json (reports/SCHEMA.md).

  reports/tools/report.py reports/runs/<run>/summary.json [-o report.html]

A self-contained page: inline SVG charts and the style of report.css (beside
this file), no script, no network, no external asset; opens from the file
system. Python 3 standard library only.
"""
import argparse
import html
import json
import math
import os
import sys

import verdict  # the single verdict and what limited the run (same folder)

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES = ["db", "api01", "api02", "nginx"]
COLORS = {"p50": "#4e79a7", "p90": "#f28e2b", "p99": "#e15759", "max": "#9c755f",
          "db": "#4e79a7", "api01": "#59a14f", "api02": "#8cd17d", "nginx": "#f28e2b",
          "rps": "#4e79a7", "limit": "#bab0ac", "generator": "#b07aa1", "errors": "#c62828", "machine": "#555555",
          "commits": "#76b7b2", "queued": "#edc948", "batch": "#af7aa1"}
PHASE_FILL = ("#eef3f8", "#f7f1e8")


def esc(x):
    return html.escape("" if x is None else str(x))


def inline(name):
    """A file beside this one (a style sheet, a script) as one line, to
    inline into a page: the page stays one file, and does not repeat the
    file's lines."""
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return " ".join(f.read().split())


def row(*cells, tag="td"):
    """A table row of escaped cells."""
    return "<tr>%s</tr>" % "".join("<%s>%s</%s>" % (tag, esc(c), tag) for c in cells)


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return "{:,}".format(v).replace(",", " ")
    if isinstance(v, float):
        if abs(v) >= 1000:
            return "{:,.0f}".format(v).replace(",", " ")
        return ("{:.%df}" % digits).format(v)
    return str(v)


def nice_max(v):
    if v <= 0:
        return 1
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def legend(series, x, height):
    """A colour key under a chart, one entry per series."""
    out = []
    for name, color, _ in series:
        out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="lg">%s</text>'
                   % (x, height - 14, color, x + 14, height - 5, esc(name)))
        x += 24 + 7 * len(name)
    return "".join(out)


def frame(width, height, attrs, title, unit, ml, pw, mt, ph, ticks, y, under=""):
    """An SVG chart's opening: its title, what lies under the grid, the
    grid and its labels at ticks, the unit."""
    s = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" %s><text x="%d" y="16" class="t">%s</text>%s'
         % (width, height, width, height, attrs, ml, esc(title), under)]
    for t in ticks:
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="yl">%s</text>'
                 % (ml, ml + pw, y(t), y(t), ml - 6, y(t) + 4, esc(fmt(int(t)) if t == int(t) else fmt(float(t), 2))))
    s.append('<text x="12" y="%d" class="yl" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>' % (mt + ph // 2, mt + ph // 2, esc(unit)))
    return s


def bar_chart(categories, series, title, unit, refs=(), log=False, width=640, height=260):
    """Grouped vertical bars. series: [(name, color, [values per category])];
    refs: [(value, label, color)] horizontal lines. Values may be None."""
    ml, mr, mt, mb = 64, 16, 28, 48
    pw, ph = width - ml - mr, height - mt - mb
    vals = [v for _, _, vs in series for v in vs if v is not None] + [r[0] for r in refs if r[0] is not None]
    if not vals:
        return '<p class="empty">%s: not measured</p>' % esc(title)
    if log:
        lo = 10 ** math.floor(math.log10(max(min(v for v in vals if v > 0), 1e-3)))
        hi = 10 ** math.ceil(math.log10(max(vals)))
        if hi <= lo:
            hi = lo * 10

        def y(v):
            v = max(v, lo)
            return mt + ph - ph * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

        ticks = [lo * 10**i for i in range(int(round(math.log10(hi / lo))) + 1)]
    else:
        hi = nice_max(max(vals) * 1.05)

        def y(v):
            return mt + ph - ph * v / hi

        ticks = [hi * i / 5 for i in range(6)]
    s = frame(width, height, 'role="img" aria-label="%s"' % esc(title), title, unit, ml, pw, mt, ph, ticks, y)
    n = max(1, len(categories))
    gw = pw / n
    k = max(1, len(series))
    bw = min(40, gw * 0.8 / k)
    for i, cat in enumerate(categories):
        x0 = ml + gw * i + (gw - bw * k) / 2
        for j, (name, color, vs) in enumerate(series):
            v = vs[i] if i < len(vs) else None
            if v is None:
                continue
            yy = y(v) if (v > 0 or not log) else y(lo)
            h = mt + ph - yy
            s.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s %s</title></rect>'
                     % (x0 + j * bw, yy, bw - 2, max(h, 0.5), color, esc(cat), esc(name), esc(fmt(v, 2)), esc(unit)))
            if k <= 4:
                s.append('<text x="%.1f" y="%.1f" class="vl">%s</text>' % (x0 + j * bw + (bw - 2) / 2, yy - 3, esc(fmt(v, 1 if v < 100 else 0))))
        s.append('<text x="%.1f" y="%d" class="xl">%s</text>' % (ml + gw * i + gw / 2, mt + ph + 16, esc(cat)))
    for v, label, color in refs:
        if v is None:
            continue
        yy = y(v)
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="5 3" stroke-width="1.5"/>'
                 % (ml, ml + pw, yy, yy, color))
        s.append('<text x="%d" y="%.1f" class="rl" fill="%s">%s</text>' % (ml + pw - 2, yy - 4, color, esc(label)))
    s.append(legend(series, ml, height))
    s.append("</svg>")
    return "".join(s)


def latency_split_section(s):
    """Where the time went (per level): the levels' latency_split (bench.py),
    wrk's own p50/p99 beside the replicas' histograms; make compare: both
    sides' medians over the rounds. Nothing for runs without it."""
    c = s.get("sides") if isinstance(s.get("sides"), dict) else None
    rows = ([("%s %s" % (k.upper(), lv.get("name")), lv) for k in ("a", "b") for lv in c.get(k) or []] if c
            else [(lv.get("name"), lv) for lv in s.get("levels") or []])
    rows = [(n, lv["latency_split"], lv.get("wal") if isinstance(lv.get("wal"), dict) else {})
            for n, lv in rows if isinstance(lv, dict) and isinstance(lv.get("latency_split"), dict)]
    if not rows:
        return ""
    parts = (("client", "client (wrk)"), ("replica", "inside a replica"), ("queue", "queue wait"), ("db", "DB round trip"))
    p = ['<h2>Where the time went (per level)</h2><p id="latency-split">p50 / p99 in ms. <b>client</b>: what the load generator saw, '
         'request sent to answer received. From the replicas\' own histograms, over the level%s, both replicas summed: <b>inside a replica</b>, '
         'handler entry to response (every route); <b>queue wait</b>, a request waiting in its replica for its round trip to be sent; '
         '<b>DB round trip</b>, one observation per round trip (many requests each), sent to last answer. <b>outside</b>: client p50 '
         'minus replica p50, the time in nginx, the network, the generator and a replica\'s event loop around its handler (reading, writing, '
         'waiting for a throttled CPU). The replicas\' quantiles are interpolated inside their '
         'histogram buckets (50 µs, 100 µs, 250 µs, 500 µs, 1 ms, 2.5 ms, 5 ms, ...): estimates at the buckets\' resolution. '
         '<b>WAL flush</b>: PostgreSQL\'s own mean time of a WAL flush (fdatasync) over the level, and flushes per commit '
         '(pg_stat_wal): the part of a write\'s round trip that is the disk. '
         '– : not measured.</p><table><tr><th>level</th>%s<th>outside the replicas, p50</th><th>WAL flush, mean ms (per commit)</th>'
         '<th>replicas</th></tr>'
         % (" (make compare: the median of the rounds)" if c else "", "".join("<th>%s</th>" % esc(h) for _, h in parts))]
    for name, sp, wal in rows:
        cells = "".join("<td>%s / %s</td>" % (esc(fmt((sp.get(k) or {}).get("p50_ms"), 2)), esc(fmt((sp.get(k) or {}).get("p99_ms"), 2)))
                        for k, _ in parts)
        p.append("<tr><td>%s</td>%s<td>%s</td><td>%s (%s)</td><td>%s</td></tr>" % (
            esc(name), cells, esc(fmt(sp.get("outside_replica_p50_ms"), 2)), esc(fmt(wal.get("flush_ms_mean"), 3)),
            esc(fmt(wal.get("flushes_per_commit"), 2)), esc(fmt(sp.get("replicas")))))
    p.append("</table>")
    return "".join(p)


def line_chart(cid, title, unit, t, series, phases=(), width=920, height=240, digits=2):
    """Lines over time. t: seconds; series: [(name, color, values)] (None =
    gap); phases: [{name, start_s, end_s}] drawn as labelled bands. Each
    instant is a focusable column (Tab) whose figures show on focus or hover
    (CSS, no script); the same figures are in a table under the chart."""
    ml, mr, mt, mb = 64, 16, 50, 44
    pw, ph = width - ml - mr, height - mt - mb
    vals = [v for _, _, vs in series for v in vs if v is not None]
    if not t or not vals:
        return '<p class="empty">%s: not measured</p>' % esc(title)
    t_hi = max(max(t), max([p.get("end_s") or 0 for p in phases] or [0])) or 1
    hi = nice_max(max(vals) * 1.05) if max(vals) > 0 else 1

    def x(s):
        return ml + pw * s / t_hi

    steps = sorted(b - a for a, b in zip(t, t[1:]))
    gap = 2.5 * (steps[len(steps) // 2] if steps else 1)

    def y(v):
        return mt + ph - ph * v / hi

    bands = "".join('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/><text x="%.1f" y="%d" class="ph">%s</text>' % (
        x(p.get("start_s") or 0), mt, max(x(p.get("end_s") or 0) - x(p.get("start_s") or 0), 0.5), ph, PHASE_FILL[i % 2],
        x(p.get("start_s") or 0) + 2, mt - 4 - 12 * (i % 2), esc(p.get("name"))) for i, p in enumerate(phases))
    s = frame(width, height, 'role="group" aria-label="%s" data-series="%s" data-points="%d"' % (
        esc(title + ": Tab through the instants"), esc(cid), len(t)), title, unit, ml, pw, mt, ph, [hi * i / 5 for i in range(6)], y, bands)
    s += ['<text x="%.1f" y="%d" class="xl">%s s</text>' % (x(t_hi * i / 5), mt + ph + 16, esc(fmt(round(t_hi * i / 5)))) for i in range(6)]
    for name, color, vs in series:
        runs, cur, prev = [], [], None
        for tt, v in zip(t, vs):
            if prev is not None and tt - prev > gap and cur:  # no data in between (e.g. between levels): no line
                runs.append(cur)
                cur = []
            prev = tt
            if v is None:
                if cur:
                    runs.append(cur)
                cur = []
            else:
                cur.append("%.1f,%.1f" % (x(tt), y(v)))
        if cur:
            runs.append(cur)
        for r in runs:
            if len(r) == 1:
                cx, cy = r[0].split(",")
                s.append('<circle cx="%s" cy="%s" r="2" fill="%s"/>' % (cx, cy, color))
            else:
                s.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="1.6"/>' % (" ".join(r), color))
    # One focusable column per instant: its figures in a tooltip and aria-label.
    step = pw / max(len(t), 1)
    for i, tt in enumerate(t):
        label = "%s s: %s" % (fmt(tt, 1), ", ".join("%s %s" % (n, fmt(vs[i], digits) if i < len(vs) else "–") for n, _, vs in series))
        cx = x(tt)
        tx = min(max(cx, ml + 120), ml + pw - 120)
        s.append('<g class="col" tabindex="0" aria-label="%s"><rect x="%.1f" y="%d" width="%.1f" height="%d" class="hit"/>'
                 '<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="cur"/><text x="%.1f" y="%d" class="tip">%s</text></g>'
                 % (esc(label), cx - step / 2, mt, max(step, 1), ph, cx, cx, mt, mt + ph, tx, mt + 14, esc(label)))
    s.append(legend(series, ml, height))
    s.append("</svg>")
    rows = "".join(row(fmt(tt, 1), *(fmt(vs[i] if i < len(vs) else None, digits) for _, _, vs in series)) for i, tt in enumerate(t))
    table = ('<details><summary>Data of this chart (%d points)</summary><table class="data">%s%s</table></details>'
             % (len(t), row("t s", *("%s (%s)" % (n, unit) for n, _, _ in series), tag="th"), rows))
    return "".join(s) + table


def series_figures(src, t, phases, stamp, charts):
    """Line charts over the same instants t, one figure each. charts:
    [(id, title, unit, [(name, colour key, key of src)], digits, caption)]."""
    return "".join(figure(line_chart(cid, title, unit, t, [(n, COLORS[c], src.get(k) or []) for n, c, k in lines], phases, digits=digits),
                          caption, stamp) for cid, title, unit, lines, digits, caption in charts)


def timeseries_section(s, stamp):
    """req/s, p50/p99, errors and per-service CPU over the run; or why not."""
    ts = s.get("timeseries")
    if not isinstance(ts, dict) or not (ts.get("load") or {}).get("t"):
        why = "its tool gave none" if isinstance(ts, dict) else "it was recorded before this project captured per-second figures"
        return ('<h2>Over time</h2><p class="empty" id="no-timeseries">No time series for this run: %s. '
                'Only the whole-run figures below exist; nothing here is interpolated.</p>' % esc(why))
    load, phases = ts["load"], ts.get("phases") or []
    p = ['<h2>Over time</h2><div class="series">', series_figures(load, load["t"], phases, stamp, [
        ("rps", "Requests per second", "req/s", [("req/s", "rps", "rps")], 0,
         "Source: %s; t = seconds from %s. Shaded: the run's phases." % (ts.get("source") or "?", ts.get("start") or "the start")),
        ("latency", "Latency per second: p50, p99 and max", "ms", [("p50", "p50", "p50_ms"), ("p99", "p99", "p99_ms"), ("max", "max", "max_ms")], 2,
         "Percentiles of the answers received in each interval, as the load generator saw them."),
        ("errors", "Errors per interval", "errors", [("errors", "errors", "errors")], 0,
         "Answers outside the expected statuses, malformed answers and socket errors, per interval (inconsistencies are counted apart).")])]
    cpu = ts.get("cpu") or {}
    cores = cpu.get("cores") or {}
    if cpu.get("t") and cores:
        shown = {"generator": "load generator", "machine": "whole machine"}
        p.append(series_figures(cores, cpu["t"], phases, stamp, [(
            "cpu", "CPU per service and the load generator (cores)", "cores",
            [(shown.get(k, k), k, k) for k in SERVICES + ["generator", "machine"] if k in cores], 2,
            "CPU seconds per second from each service's cgroup (cpuacct) and from the generator's process, sampled once a second; "
            "whole machine: every process (/proc/stat), so what neither the stack nor the generator used was other load. "
            "The generator runs outside the envelope, on the same machine.")]))
    p.append("</div>")
    return "".join(p)


def server_series_section(s, stamp):
    """The stack's side over time (`server_series`: the replicas' own
    /metrics, scraped once a second), drawn like the generator's view above
    it. Nothing for runs recorded before it; a line when it was not recorded."""
    if "server_series" not in s:
        return ""
    ss = s.get("server_series")
    if not isinstance(ss, dict) or not ss.get("t"):
        return ('<h2>Over time: the stack\'s side</h2><p class="empty" id="no-server-series">No server-side series for this run: '
                'the replicas\' metrics endpoints did not answer (see the notes). Nothing here is interpolated.</p>')
    cap = ("The replicas' own counters and histograms (%s), summed over both replicas per interval; t = seconds from %s, as the "
           "generator's charts above. Null (a gap) where a replica did not answer." % (ss.get("source") or "?", ss.get("start") or "the start"))
    return '<h2>Over time: the stack\'s side</h2><div class="series" id="server-series">%s</div>' % series_figures(
        ss, ss["t"], (s.get("timeseries") or {}).get("phases") or [], stamp, [
            ("server-rps", "The stack's side: requests per second (replicas' counters)", "req/s", [("req/s", "rps", "rps")], 0,
             cap + " Every answer the replicas gave, whatever its status; beside the generator's req/s above, the same load seen from the server."),
            ("server-p99", "The stack's side: p99 from the replicas' latency histogram", "ms", [("p99", "p99", "p99_ms")], 2,
             "From the request parsed to the answer written, inside a replica (no nginx, no network, no queueing in the generator): "
             "Prometheus's histogram_quantile over each interval's bucket increments, so its resolution is the buckets'."),
            ("server-db", "The stack's side: database commits and errors per second", "per s",
             [("commits/s", "commits", "commits_per_s"), ("503/504 per s", "errors", "errors_per_s")], 1,
             "Transactions the replicas committed (reads and writes), and the answers they refused or timed out (503/504, every cause)."),
            ("server-batch", "The stack's side: writes per commit and queue depth", "requests",
             [("writes per commit", "batch", "writes_per_commit"), ("queued", "queued", "queued")], 2,
             "Writes per commit: the average batch a write round trip settled in the interval (null: no write committed). "
             "Queued: requests waiting for a round trip at the sample's instant, both replicas.")])


def compare_section(s, stamp):
    """make compare: the ratios B/A per level with their spread, each round."""
    c = s.get("compare")
    if not isinstance(c, dict):
        return ""
    a, b = c.get("a") or {}, c.get("b") or {}
    lv = c.get("levels") or []
    keys = [k for k in ("rps", "p50", "p99", "max") if any(x.get("ratio_" + k) for x in lv)]  # p50 and max: runs since the official-rate level
    p = ['<h2>Compare: B / A</h2><p id="compare">B = <code>%s</code> (%s) against A = <code>%s</code> (%s), %s rounds in the order %s. '
         'A ratio of req/s above 1 and of latencies below 1 favour B; the spread is the lowest and highest ratio of a round. '
         'An offered-rate level (its <code>rate</code> set) has no req/s ratio: its req/s is the rate it was offered.</p>'
         % (esc(b.get("commit")), esc(b.get("rev")), esc(a.get("commit")), esc(a.get("rev")), esc(c.get("rounds")), esc(" ".join(c.get("order") or []))),
         figure(bar_chart([x.get("name") for x in lv], [("%s B/A" % ("req/s" if k == "rps" else k), COLORS[k], [(x.get("ratio_" + k) or {}).get("median") for x in lv])
                                                        for k in keys], "Ratios B/A (median of the rounds)", "ratio", [(1, "1 = no change", "#888")]),
                "Median over the rounds of each round's ratio; the table gives the spread and every round's figures.", stamp),
         "<table>", row("level", *("%s B/A %s" % ("req/s" if k == "rps" else k, h) for k in keys for h in ("median", "min..max")),
                        "A: req/s, p50, p99, max ms per round", "B: req/s, p50, p99, max ms per round", tag="th")]
    for x in lv:
        rs = [x.get("ratio_" + k) or {} for k in keys]
        p.append(row(x.get("name"), *(v for r in rs for v in (fmt(r.get("median"), 3), "%s..%s" % (fmt(r.get("min"), 3), fmt(r.get("max"), 3)))),
                     *("; ".join(", ".join([fmt(y.get("rps"))] + [fmt(y.get(q + "_ms"), 2) for q in ("p50", "p99", "max")])
                                 for y in x.get(k) or []) for k in "ab")))
    p.append("</table>")
    return "".join(p)


def share(v):
    return "–" if v is None else "%.0f%%" % (100 * v)


def limits_section(s):
    """What limited each level, with the evidence, and the verdict."""
    p = ['<h2>What limited the run</h2><p id="limited-by" data-limited-by="%s">%s</p>' % (esc(s.get("limited_by") or ""), esc(verdict.headline(s))),
         "<table>", row("level", "limited by", "why", "stack cores (share of envelope)", "busiest service",
                        "generator cores (share of usable)", "k6 dropped iterations", "k6 VUs peak / max", tag="th")]
    for lv in (lv for lv in s.get("levels") or [] if isinstance(lv, dict)):
        e = lv.get("limited_by_evidence") or {}
        sv = e.get("services") or {}
        busy = max(sv.items(), key=lambda kv: kv[1].get("share_of_limit") or 0) if sv else None
        p.append(row(lv.get("name"), lv.get("limited_by") or "nothing saturated", e.get("rule"),
                     "%s (%s)" % (fmt(e.get("stack_cores"), 2), share(e.get("stack_share"))),
                     "%s %.0f%%" % (busy[0], 100 * (busy[1].get("share_of_limit") or 0)) if busy else "–",
                     "%s (%s)" % (fmt(e.get("generator_cores"), 2), share(e.get("generator_share"))),
                     fmt(e.get("dropped_iterations")), "%s / %s" % (fmt(e.get("vus_peak")), fmt(e.get("vus_max")))))
    p.append("</table>")
    return "".join(p)


def figure(svg, caption, stamp):
    return '<figure>%s<figcaption>%s <span class="stamp">%s</span></figcaption></figure>' % (svg, esc(caption), esc(stamp))


def render(s, run_dir=None):
    """The page of summary s (run_dir: unused, the page needs nothing beside
    its summary)."""
    s = verdict.apply(json.loads(json.dumps(s)))  # a copy: the archived file is not changed
    commit = (s.get("commit") or "?") + (" (dirty)" if s.get("dirty") else "")
    stamp = "commit %s · %s" % (commit, s.get("date") or "?")
    levels = s.get("levels") or []
    env = s.get("envelope") or {}
    m = s.get("machine") or {}
    names = [lv.get("name") for lv in levels]
    ceiling = s.get("db_ceiling") or None
    title = "%s · %s" % (s.get("scenario"), commit)
    p = ['<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title>'
         '<meta name="viewport" content="width=device-width,initial-scale=1"><style>%s</style></head><body>' % (esc(title), inline("report.css"))]
    svcs = env.get("services") or {}
    split = ("no per-service split: every service may use the whole envelope" if env.get("one_cgroup") else
             ", ".join("%s %s CPU / %s MB" % (k, v.get("cpus"), v.get("memory_mb")) for k, v in svcs.items()))
    p.append('<header><h1>crébitos · %s run · commit %s</h1><div class="meta">%s · %s %s · %s · machine %s: %s CPUs, %s MB, %s, kernel %s · envelope %s CPU / %s MB enforced by %s%s%s</div></header><main>'
             % (esc(s.get("scenario")), esc(commit), esc(s.get("date")), esc(s.get("tool")), esc(s.get("tool_version")),
                esc(s.get("mode") or ""), esc(m.get("host")), esc(m.get("cpus")), esc(m.get("memory_mb")), esc(m.get("cpu_model")),
                esc(m.get("kernel")), esc(env.get("cpus")), esc(env.get("memory_mb")), esc(env.get("enforced")), esc(split and " (%s)" % split),
                esc(" · scheduling policy %s" % env["sched_policy"] if env.get("sched_policy") else "")))

    # Key figures.
    th = s.get("thresholds") or {}
    cards = []
    if levels:
        best = max(levels, key=lambda lv: lv.get("rps") or 0)
        cards.append(("best throughput", "%s req/s" % fmt(best.get("rps")), "at %s" % best.get("name"), None))
        cards.append(("p99 at that level", "%s ms" % fmt((best.get("latency_ms") or {}).get("p99"), 2), best.get("name"), None))
        for lv in (lv for lv in levels if lv.get("rate") and s.get("tool") == "wrk"):  # make bench's official-rate level
            L = lv.get("latency_ms") or {}
            cards.append(("at the official rate (%s)" % lv.get("name"), "p99 %s ms" % fmt(L.get("p99"), 2),
                          "p50 %s, max %s ms; %s of %s req/s offered" % (fmt(L.get("p50"), 2), fmt(L.get("max"), 1), fmt(lv.get("rps")),
                                                                         fmt(lv.get("rate"))), None))
        inc = sum(lv.get("inconsistencies") or 0 for lv in levels)
        err = sum(lv.get("errors") or 0 for lv in levels)
        cards.append(("inconsistencies", fmt(inc), "all levels", inc == 0))
        cards.append(("unexpected answers", fmt(err), "all levels", err == 0))
    if ceiling:
        cards.append(("database-only ceiling", "%s/s" % fmt(ceiling.get("tps")), "pgbench %s" % (ceiling.get("variant") or ""), None))
    fl = s.get("db_alone") if isinstance(s.get("db_alone"), dict) else None
    if fl and isinstance(fl.get("latency_ms"), dict):  # make bench: the database alone at the official rate
        L = fl["latency_ms"]
        cards.append(("database alone at the official rate", "p99 %s ms" % fmt(L.get("p99"), 2),
                      "p50 %s, max %s ms: pgbench, %s %s calls/s, no nginx, no replica" % (
                          fmt(L.get("p50"), 2), fmt(L.get("max"), 1), fmt(fl.get("rate")), fl.get("call") or ""), None))
    if s.get("ceiling_fraction") is not None:
        m = (ceiling or {}).get("matched") or {}
        cards.append(("end-to-end / ceiling", "%.0f%%" % (100 * s["ceiling_fraction"]),
                      "best level, against %s (its batch size)" % m["variant"] if m.get("variant") else "best level", None))
    gen_bound = s.get("limited_by") == "generator"
    if s.get("stress"):
        cards.append(("highest rate sustained" if not gen_bound else "the generator's ceiling, not the stack's",
                      "%s/s" % fmt(s["stress"].get("sustained_rate")), "stress ramp, stopped at its bound" if s["stress"].get("aborted") else "stress ramp, ran to its end", None))
    cards.append(("limited by", s.get("limited_by") or "nothing saturated", "peak level", False if gen_bound else None))
    cards.append(("thresholds", "passed" if th.get("passed") else "missed", "%d checks" % len(th.get("checks") or []), bool(th.get("passed"))))
    if gen_bound:
        p.append('<p class="notice" id="generator-bound"><b>Generator-bound.</b> The load generator, not the stack, was the limit of this run: %s. '
                 'Its throughput and its ceiling are the generator\'s; they say nothing of how far the stack goes.</p>'
                 % esc((s.get("limited_by_evidence") or {}).get("rule")))
    p.append('<div class="cards">')
    for k, v, sub, ok in cards:
        cls = "" if ok is None else (" ok" if ok else " miss")
        p.append('<div class="card%s"><div class="k">%s</div><div class="v">%s</div><div class="k">%s</div></div>' % (cls, esc(k), esc(v), esc(sub)))
    p.append("</div>")

    p.append(compare_section(s, stamp))
    p.append(limits_section(s))
    p.append(timeseries_section(s, stamp))
    p.append(server_series_section(s, stamp))

    # Throughput and latency.
    p.append("<h2>Throughput and latency per level</h2><div class=\"grid2\">")
    refs = []
    tgt = None
    for c in th.get("checks") or []:
        if c.get("name", "").startswith("req/s >="):
            tgt = c.get("limit")
    if tgt:
        refs.append((tgt, "target %s/s" % fmt(tgt), "#59a14f"))
    if ceiling and ceiling.get("tps"):
        refs.append((ceiling["tps"], "DB-only ceiling %s/s" % fmt(ceiling["tps"]), "#e15759"))
    p.append(figure(bar_chart(names, [("req/s", COLORS["rps"], [lv.get("rps") for lv in levels])], "Requests per second", "req/s", refs),
                    "Throughput per level (%s). Dashed: the target and the database-only ceiling." % ("median of repeats" if any(lv.get("repeats") for lv in levels) else "whole run"), stamp))
    lat = [(k, COLORS[k], [(lv.get("latency_ms") or {}).get(k) for lv in levels]) for k in ("p50", "p90", "p99", "max")]
    p.append(figure(bar_chart(names, lat, "Latency percentiles (log scale)", "ms", [(10, "p99 target 10 ms", "#59a14f"), (250, "SLA 250 ms", "#e15759")], log=True),
                    "Latency per level, as the load generator saw it (request sent to answer received).", stamp))
    p.append("</div>")
    p.append(latency_split_section(s))

    # The services.
    if any(lv.get("services") for lv in levels):
        p.append("<h2>Per-service CPU and memory</h2><div class=\"grid2\">")
        cpu_series, mem_series = [], []
        for k in SERVICES:
            cpu_series.append((k, COLORS[k], [
                round(lv["services"][k]["cpu_s"] / (lv.get("services_window_s") or lv.get("duration_s") or 1), 3) if lv.get("services") else None
                for lv in levels]))
            mem_series.append((k, COLORS[k], [max(lv["services"][k]["mem_peak_mb"], lv["services"][k].get("pss_peak_mb") or 0) if lv.get("services") else None for lv in levels]))
        gen = [(lv.get("limited_by_evidence") or {}).get("generator_cores") for lv in levels]
        if any(g is not None for g in gen):
            cpu_series.append(("load generator", COLORS["generator"], gen))
        lim_refs = [(svcs[k]["cpus"], "%s limit" % k, COLORS[k]) for k in SERVICES if k in svcs and k in ("db", "nginx")]
        p.append(figure(bar_chart(names, cpu_series, "CPU used (cores, average over the level)", "cores", lim_refs),
                        "CPU seconds per service read from the cgroups, divided by the level's duration, and the load generator's (outside the envelope) "
                        "where measured; dashed: the limits of db and nginx (api01/api02: %s each)."
                        % fmt(svcs.get("api01", {}).get("cpus"), 2), stamp))
        p.append(figure(bar_chart(names, mem_series, "Peak memory (MB)", "MB", [(svcs[k]["memory_mb"], "%s limit" % k, COLORS[k]) for k in ("db",) if k in svcs]),
                        "Peak memory per service during the level: the larger of the cgroup's peak charge (page cache included) and the processes' peak PSS (memory touched before the processes were moved into the cgroup stays charged outside it; PSS counts it).", stamp))
        p.append("</div>")
        cols = (("cpu_s", "cpu s", 2), ("throttled_s", "throttled s", 2), ("mem_peak_mb", "peak MB", 1), ("pss_peak_mb", "PSS MB", 1))
        p.append("<table>" + row("level", *("%s %s" % (k, name) for k in SERVICES for _, name, _ in cols), tag="th"))
        for lv in levels:
            sv = lv.get("services") or {}
            p.append(row(lv.get("name"), *(fmt((sv.get(k) or {}).get(key), d) for k in SERVICES for key, _, d in cols)))
        p.append("</table>")

    # Levels table.
    p.append("<h2>All figures</h2><table>" + row("level", "connections", "rate", "think ms", "duration s", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms",
                                                 "max ms", "status", "errors", "inconsistencies", "requests per commit", tag="th"))
    for lv in levels:
        L = lv.get("latency_ms") or {}
        st = ", ".join("%s: %s" % (k, fmt(v)) for k, v in sorted((lv.get("status") or {}).items()))
        p.append(row(lv.get("name"), fmt(lv.get("connections")), fmt(lv.get("rate")), fmt(lv.get("think_ms")), fmt(lv.get("duration_s")), fmt(lv.get("requests")),
                     fmt(lv.get("rps")), fmt(L.get("p50"), 2), fmt(L.get("p90"), 2), fmt(L.get("p99"), 2), fmt(L.get("max"), 1), st,
                     fmt(lv.get("errors")), fmt(lv.get("inconsistencies")), fmt(lv.get("requests_per_commit"))))
    p.append("</table>")
    reps = [(lv.get("name"), r) for lv in levels for r in (lv.get("repeats") or [])]
    if reps:
        p.append("<details><summary>Each repeat</summary><table>" + row("level", "req/s", "p50", "p90", "p99", "max", tag="th"))
        for name, r in reps:
            L = r.get("latency_ms") or {}
            p.append(row(name, fmt(r.get("rps")), fmt(L.get("p50"), 2), fmt(L.get("p90"), 2), fmt(L.get("p99"), 2), fmt(L.get("max"), 1)))
        p.append("</table></details>")

    # The database-only ceiling.
    if ceiling:
        p.append("<h2>Database-only ceiling (pgbench)</h2>")
        vs = ceiling.get("variants") or [dict(name=ceiling.get("variant") or "pgbench", calls_per_s=ceiling.get("tps"))]
        best_rps = s.get("best_rps")
        p.append(figure(bar_chart([v["name"] for v in vs], [("transacao calls/s", COLORS["db"], [v.get("calls_per_s") for v in vs])],
                                  "transacao calls per second, database alone", "calls/s",
                                  [(best_rps, "end-to-end best %s req/s" % fmt(best_rps), "#59a14f")] if best_rps else []),
                        "pgbench against the confined PostgreSQL: single = one transacao() call per transaction; txN = N calls between BEGIN and COMMIT; "
                        "pipelineN = N transacao() calls in one pipeline with one Sync; loteN = one transacoes_lote() call settling N requests "
                        "(the API's way since commit 12133fc). Client ids ascending inside a transaction. "
                        "The ceiling is the best variant: %s." % (ceiling.get("variant") or "?"), stamp))
        if ceiling.get("variants"):
            p.append("<table>" + row("variant", "mode", "calls per tx", "clients", "tx/s", "calls/s", "failed tx", "db cpu s", tag="th"))
            for v in vs:
                sv = (v.get("services") or {}).get("db") or {}
                p.append(row(v.get("name"), v.get("mode"), v.get("calls"), v.get("clients"), fmt(v.get("tps")), fmt(v.get("calls_per_s")),
                             fmt(v.get("failed")), fmt(sv.get("cpu_s"), 2)))
            p.append("</table>")

    # Thresholds.
    if th.get("checks"):
        p.append("<h2>Thresholds</h2><table>" + row("check", "value", "limit", "result", tag="th"))
        for c in th["checks"]:
            p.append('<tr><td>%s</td><td>%s</td><td>%s</td><td class="%s">%s</td></tr>' % (
                esc(c.get("name")), esc(fmt(c.get("value"), 3)), esc(fmt(c.get("limit"), 3)), "ok" if c.get("passed") else "miss",
                "passed" if c.get("passed") else "missed"))
        p.append("</table>")
    if s.get("notes"):
        p.append("<h2>Notes</h2><div class=\"notes\">%s</div>" % esc(s["notes"]))
    p.append('<p class="stamp">Generated by reports/tools/report.py from <a href="summary.json">summary.json</a> · %s</p>' % esc(stamp))
    p.append("</main></body></html>\n")
    return "".join(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary")
    ap.add_argument("-o", "--output", help="default: report.html beside the summary")
    a = ap.parse_args()
    with open(a.summary) as f:
        s = json.load(f)
    d = os.path.dirname(os.path.abspath(a.summary))
    o = a.output or os.path.join(d, "report.html")
    with open(o, "w") as f:
        f.write(render(s, d))
    print("report:", os.path.relpath(o))
    return 0


if __name__ == "__main__":
    sys.exit(main())
