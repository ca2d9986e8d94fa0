#!/usr/bin/python3
"""Renders a run's report.html from its summary.json (reports/SCHEMA.md).

  reports/tools/report.py reports/runs/<run>/summary.json [-o report.html]

A self-contained page: inline SVG charts and CSS, no script, no network, no
external asset; opens from the file system. Python 3 standard library only.
"""
import argparse
import html
import json
import math
import os
import sys

SERVICES = ["db", "api01", "api02", "nginx"]
COLORS = {"p50": "#4e79a7", "p90": "#f28e2b", "p99": "#e15759", "max": "#9c755f",
          "db": "#4e79a7", "api01": "#59a14f", "api02": "#8cd17d", "nginx": "#f28e2b",
          "rps": "#4e79a7", "limit": "#bab0ac"}


def esc(x):
    return html.escape("" if x is None else str(x))


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
    s = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">'
         % (width, height, width, height, esc(title))]
    s.append('<text x="%d" y="16" class="t">%s</text>' % (ml, esc(title)))
    for t in ticks:
        yy = y(t)
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>' % (ml, ml + pw, yy, yy))
        s.append('<text x="%d" y="%.1f" class="yl">%s</text>' % (ml - 6, yy + 4, esc(fmt(int(t)) if t == int(t) else fmt(float(t), 2))))
    s.append('<text x="12" y="%d" class="yl" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>'
             % (mt + ph // 2, mt + ph // 2, esc(unit)))
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
    lx = ml
    for name, color, _ in series:
        s.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="lg">%s</text>'
                 % (lx, height - 14, color, lx + 14, height - 5, esc(name)))
        lx += 24 + 7 * len(name)
    s.append("</svg>")
    return "".join(s)


def hbar_split(title, parts, total, unit, width=640):
    """One stacked horizontal bar: [(name, value, color)] out of total."""
    h = 56
    ml, pw = 8, width - 16
    s = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">'
         % (width, h, width, h, esc(title)), '<text x="%d" y="14" class="t">%s</text>' % (ml, esc(title))]
    x = ml
    for name, v, color in parts:
        w = pw * v / total if total else 0
        s.append('<rect x="%.1f" y="22" width="%.1f" height="22" fill="%s"><title>%s: %s %s</title></rect>'
                 % (x, max(w - 1, 0), color, esc(name), esc(fmt(v, 2)), esc(unit)))
        if w > 50:
            s.append('<text x="%.1f" y="37" class="in">%s %s</text>' % (x + 4, esc(name), esc(fmt(v, 2))))
        x += w
    s.append("</svg>")
    return "".join(s)


def figure(svg, caption, stamp):
    return '<figure>%s<figcaption>%s <span class="stamp">%s</span></figcaption></figure>' % (svg, esc(caption), esc(stamp))


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px}
header .meta{opacity:.85;font-size:13px}
main{padding:8px 24px 40px;max-width:1400px}
h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px 14px;min-width:150px}
.card .v{font-size:22px;font-weight:600}
.card .k{font-size:12px;color:#666}
.card.ok{border-left:4px solid #59a14f}.card.miss{border-left:4px solid #e15759}
.grid2{display:flex;flex-wrap:wrap;gap:16px}
figure{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:0;padding:8px}
figcaption{font-size:12px;color:#555;margin-top:4px;max-width:640px}
.stamp{color:#888;white-space:nowrap}
svg{display:block;max-width:100%;height:auto}
svg .t{font-size:13px;font-weight:600;fill:#333}
svg .grid{stroke:#eee}
svg .yl{font-size:11px;fill:#666;text-anchor:end}
svg .xl{font-size:12px;fill:#333;text-anchor:middle}
svg .vl{font-size:10px;fill:#333;text-anchor:middle}
svg .rl{font-size:11px;text-anchor:end}
svg .lg{font-size:11px;fill:#333}
svg .in{font-size:11px;fill:#fff}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:6px 0}
th,td{border:1px solid #e3e3e3;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f0f0f0}
td.ok{color:#2e7d32;font-weight:600}td.miss{color:#c62828;font-weight:600}
.notes{white-space:pre-wrap;background:#fff;border:1px solid #e3e3e3;padding:8px;font-size:12px}
.empty{color:#888}
"""


def render(s, run_dir):
    commit = (s.get("commit") or "?") + (" (dirty)" if s.get("dirty") else "")
    stamp = "commit %s · %s" % (commit, s.get("date") or "?")
    levels = s.get("levels") or []
    env = s.get("envelope") or {}
    m = s.get("machine") or {}
    names = [lv.get("name") for lv in levels]
    ceiling = s.get("db_ceiling") or None
    title = "%s · %s" % (s.get("scenario"), commit)
    p = ['<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title>'
         '<meta name="viewport" content="width=device-width,initial-scale=1"><style>%s</style></head><body>' % (esc(title), CSS)]
    p.append('<header><h1>crébitos · %s run · commit %s</h1><div class="meta">%s · %s %s · %s · machine %s: %s CPUs, %s MB, %s, kernel %s · envelope %s CPU / %s MB enforced by %s</div></header><main>'
             % (esc(s.get("scenario")), esc(commit), esc(s.get("date")), esc(s.get("tool")), esc(s.get("tool_version")),
                esc(s.get("mode") or ""), esc(m.get("host")), esc(m.get("cpus")), esc(m.get("memory_mb")), esc(m.get("cpu_model")),
                esc(m.get("kernel")), esc(env.get("cpus")), esc(env.get("memory_mb")), esc(env.get("enforced"))))

    # Key figures.
    th = s.get("thresholds") or {}
    cards = []
    if levels:
        best = max(levels, key=lambda lv: lv.get("rps") or 0)
        cards.append(("best throughput", "%s req/s" % fmt(best.get("rps")), "at %s" % best.get("name"), None))
        cards.append(("p99 at that level", "%s ms" % fmt((best.get("latency_ms") or {}).get("p99"), 2), best.get("name"), None))
        inc = sum(lv.get("inconsistencies") or 0 for lv in levels)
        err = sum(lv.get("errors") or 0 for lv in levels)
        cards.append(("inconsistencies", fmt(inc), "all levels", inc == 0))
        cards.append(("unexpected answers", fmt(err), "all levels", err == 0))
    if ceiling:
        cards.append(("database-only ceiling", "%s/s" % fmt(ceiling.get("tps")), "pgbench %s" % (ceiling.get("variant") or ""), None))
    if s.get("ceiling_fraction") is not None:
        cards.append(("end-to-end / ceiling", "%.0f%%" % (100 * s["ceiling_fraction"]), "best level", None))
    if s.get("stress"):
        cards.append(("highest rate sustained", "%s/s" % fmt(s["stress"].get("sustained_rate")), "stress ramp", None))
    cards.append(("thresholds", "passed" if th.get("passed") else "missed", "%d checks" % len(th.get("checks") or []), bool(th.get("passed"))))
    p.append('<div class="cards">')
    for k, v, sub, ok in cards:
        cls = "" if ok is None else (" ok" if ok else " miss")
        p.append('<div class="card%s"><div class="k">%s</div><div class="v">%s</div><div class="k">%s</div></div>' % (cls, esc(k), esc(v), esc(sub)))
    p.append("</div>")

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

    # Envelope and services.
    svcs = env.get("services") or {}
    if svcs:
        p.append("<h2>The envelope</h2>")
        p.append(figure(hbar_split("CPU: %s of 1.5 allowed" % fmt(env.get("cpus"), 2), [(k, svcs[k]["cpus"], COLORS.get(k, "#888")) for k in svcs], 1.5, "CPU")
                        + hbar_split("Memory: %s MB of 550 allowed" % fmt(env.get("memory_mb"), 0), [(k, svcs[k]["memory_mb"], COLORS.get(k, "#888")) for k in svcs], 550, "MB"),
                        "Per-service limits from compose.yml (deploy.resources.limits), enforced here by %s." % (env.get("enforced") or "nothing"), stamp))
    if any(lv.get("services") for lv in levels):
        p.append("<h2>Per-service CPU and memory</h2><div class=\"grid2\">")
        cpu_series, mem_series = [], []
        for k in SERVICES:
            cpu_series.append((k, COLORS[k], [
                round(lv["services"][k]["cpu_s"] / (lv.get("services_window_s") or lv.get("duration_s") or 1), 3) if lv.get("services") else None
                for lv in levels]))
            mem_series.append((k, COLORS[k], [max(lv["services"][k]["mem_peak_mb"], lv["services"][k].get("pss_peak_mb") or 0) if lv.get("services") else None for lv in levels]))
        lim_refs = [(svcs[k]["cpus"], "%s limit" % k, COLORS[k]) for k in SERVICES if k in svcs and k in ("db", "nginx")]
        p.append(figure(bar_chart(names, cpu_series, "CPU used (cores, average over the level)", "cores", lim_refs),
                        "CPU seconds per service read from the cgroups, divided by the level's duration; dashed: the limits of db and nginx (api01/api02: %s each)."
                        % fmt(svcs.get("api01", {}).get("cpus"), 2), stamp))
        p.append(figure(bar_chart(names, mem_series, "Peak memory (MB)", "MB", [(svcs[k]["memory_mb"], "%s limit" % k, COLORS[k]) for k in ("db",) if k in svcs]),
                        "Peak memory per service during the level: the larger of the cgroup's peak charge (page cache included) and the processes' peak PSS (memory touched before the processes were moved into the cgroup stays charged outside it; PSS counts it).", stamp))
        p.append("</div>")
        p.append("<table><tr><th>level</th>" + "".join("<th>%s cpu s</th><th>%s throttled s</th><th>%s peak MB</th><th>%s PSS MB</th>" % (k, k, k, k) for k in SERVICES) + "</tr>")
        for lv in levels:
            sv = lv.get("services") or {}
            p.append("<tr><td>%s</td>%s</tr>" % (esc(lv.get("name")), "".join(
                "<td>%s</td><td>%s</td><td>%s</td><td>%s</td>" % (fmt((sv.get(k) or {}).get("cpu_s"), 2), fmt((sv.get(k) or {}).get("throttled_s"), 2),
                                                          fmt((sv.get(k) or {}).get("mem_peak_mb"), 1), fmt((sv.get(k) or {}).get("pss_peak_mb"), 1)) for k in SERVICES)))
        p.append("</table>")

    # Levels table.
    p.append("<h2>All figures</h2><table><tr><th>level</th><th>connections</th><th>rate</th><th>duration s</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>status</th><th>errors</th><th>inconsistencies</th><th>requests per commit</th></tr>")
    for lv in levels:
        L = lv.get("latency_ms") or {}
        st = ", ".join("%s: %s" % (k, fmt(v)) for k, v in sorted((lv.get("status") or {}).items()))
        p.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % tuple(
            esc(x) for x in (lv.get("name"), fmt(lv.get("connections")), fmt(lv.get("rate")), fmt(lv.get("duration_s")), fmt(lv.get("requests")),
                             fmt(lv.get("rps")), fmt(L.get("p50"), 2), fmt(L.get("p90"), 2), fmt(L.get("p99"), 2), fmt(L.get("max"), 1), st,
                             fmt(lv.get("errors")), fmt(lv.get("inconsistencies")), fmt(lv.get("requests_per_commit")))))
    p.append("</table>")
    reps = [(lv.get("name"), r) for lv in levels for r in (lv.get("repeats") or [])]
    if reps:
        p.append("<details><summary>Each repeat</summary><table><tr><th>level</th><th>req/s</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>")
        for name, r in reps:
            L = r.get("latency_ms") or {}
            p.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                esc(name), fmt(r.get("rps")), fmt(L.get("p50"), 2), fmt(L.get("p90"), 2), fmt(L.get("p99"), 2), fmt(L.get("max"), 1)))
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
            p.append("<table><tr><th>variant</th><th>mode</th><th>calls per tx</th><th>clients</th><th>tx/s</th><th>calls/s</th><th>failed tx</th><th>db cpu s</th></tr>")
            for v in vs:
                sv = (v.get("services") or {}).get("db") or {}
                p.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % tuple(
                    esc(x) for x in (v.get("name"), v.get("mode"), v.get("calls"), v.get("clients"), fmt(v.get("tps")), fmt(v.get("calls_per_s")),
                                     fmt(v.get("failed")), fmt(sv.get("cpu_s"), 2))))
            p.append("</table>")

    # Thresholds.
    if th.get("checks"):
        p.append("<h2>Thresholds</h2><table><tr><th>check</th><th>value</th><th>limit</th><th>result</th></tr>")
        for c in th["checks"]:
            p.append('<tr><td>%s</td><td>%s</td><td>%s</td><td class="%s">%s</td></tr>' % (
                esc(c.get("name")), esc(fmt(c.get("value"), 3)), esc(fmt(c.get("limit"), 3)), "ok" if c.get("passed") else "miss",
                "passed" if c.get("passed") else "missed"))
        p.append("</table>")
    if os.path.exists(os.path.join(run_dir, "k6-dashboard.html")):
        p.append('<p>k6 web dashboard export: <a href="k6-dashboard.html">k6-dashboard.html</a></p>')
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
