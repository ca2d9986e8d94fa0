"""make compare: two commits, interleaved, in the same envelope, same levels.

  bench/bench.py compare A B [--quick] [--rounds N] [--levels r340,c64]

Exports and builds both commits of this repository (git archive into var/bench-src/<commit>/),
then runs them in turn, A B A B ... (N rounds, default from k6/mix.json),
each turn a fresh confined stack of that commit under the same wrk levels,
in that commit's own compose.yml split of the envelope (the split is part of
what is compared; the table says when the two differ).
A noisy shared machine drifts: interleaving spreads the drift over both
sides, and the per-round ratios show how much it moved. Prints per level the
ratio B/A of req/s and of p50, p99 and max, median and spread (min..max over the
rounds; the official-rate level's req/s is its offered rate: no req/s ratio),
and archives the run like any other (scenario "compare", reports/SCHEMA.md).
"""
import datetime as dt
import statistics

import bench
import series
import verdict


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3)}


def ratios(a_rounds, b_rounds):
    """Per level, the ratios B/A of req/s, p50, p99 and max of each round
    (A's and B's levels of round i side by side) with their median and
    spread; an offered-rate level (`rate`) has no req/s ratio: its req/s is
    the rate. a_rounds, b_rounds: [[schema level, ...] per round]."""
    def ratio(a, b, get):
        return [get(y) / get(x) if get(x) else None for x, y in zip(a, b)]

    out = []
    for i, lv in enumerate(a_rounds[0] if a_rounds else []):
        a = [r[i] for r in a_rounds]
        b = [r[i] for r in b_rounds]
        out.append(dict({
            "name": lv["name"], "connections": lv["connections"], "rate": lv.get("rate"),
            "ratio_rps": spread([] if lv.get("rate") else ratio(a, b, lambda x: x["rps"])),
            "a": [round_figures(x) for x in a],
            "b": [round_figures(y) for y in b],
        }, **{"ratio_" + k: spread(ratio(a, b, lambda x: x["latency_ms"][k])) for k in ("p50", "p99", "max")}))
    return out


def round_figures(lv):
    """A round's figures of a level in compare.levels[]: req/s, p50, p99, max and its latency split."""
    return dict({"rps": lv["rps"], **{k + "_ms": lv["latency_ms"][k] for k in ("p50", "p99", "max")}},
                **({"latency_split": lv["latency_split"]} if lv.get("latency_split") else {}))


def median_level(lvs):
    """One side's level over the rounds: medians of rates, latencies and
    latency splits, sums of counts (like the repeats of make bench); services
    of the last round."""
    return dict(lvs[-1], **bench.combine(lvs))


def ratio_text(r):
    return "-" if r["median"] is None else "%.3f (%.3f..%.3f)" % (r["median"], r["min"], r["max"])


def round_text(lv, x):
    """A round's figures in the table: req/s/p99 (a rate level: p50/p99/max, its req/s being the offered rate)."""
    if lv.get("rate"):
        return "%.2f/%.2f/%.1f" % (x["p50_ms"], x["p99_ms"], x["max_ms"])
    return "%.0f/%.1f" % (x["rps"], x["p99_ms"])


def only_levels(mix, cfg, names):
    """cfg restricted to the levels named in `names` ("r340,c64"; None: all):
    the levels in question, in more rounds for the same time."""
    if names is None:
        return cfg
    want = [n.strip() for n in names.split(",") if n.strip()]
    specs = bench.level_specs(mix, cfg)
    unknown = [n for n in want if n not in [s["name"] for s in specs]]
    if unknown or not want:
        bench.die("--levels: %s; this mode's levels are %s" % (
            "unknown " + ", ".join(unknown) if unknown else "none named", ", ".join(s["name"] for s in specs)))
    kept = [s for s in specs if s["name"] in want]
    return dict(cfg, rate=cfg["rate"] if any(s["rate"] for s in kept) else None,
                levels=[s["connections"] for s in kept if not s["rate"]])


def split_text(split):
    return ", ".join("%s %g" % kv for kv in split.items())


def table(s):
    c = s["compare"]
    lines = ["B/A: %s (%s) over %s (%s), %d rounds, order %s" % (
        c["b"]["rev"], c["b"]["commit"], c["a"]["rev"], c["a"]["commit"], c["rounds"], " ".join(c["order"]))]
    if c["a"].get("split", {}) != c["b"].get("split", {}):
        lines.append("CPU splits differ: A %s | B %s" % (split_text(c["a"]["split"]), split_text(c["b"]["split"])))
    lines += [
        "%-6s %22s %22s %22s %22s   %s" % ("level", "req/s B/A (min..max)", "p50 B/A (min..max)", "p99 B/A (min..max)", "max B/A (min..max)",
                                          "each round, A | B: req/s/p99 ms (offered rate: p50/p99/max ms)")]
    for lv in c["levels"]:
        lines.append("%-6s %22s %22s %22s %22s   %s | %s" % (
            lv["name"], *(ratio_text(lv.get("ratio_" + k) or spread([])) for k in ("rps", "p50", "p99", "max")),
            " ".join(round_text(lv, x) for x in lv["a"]), " ".join(round_text(lv, x) for x in lv["b"])))
    return "\n".join(lines)


def run_side(a, mix, cfg, envelope, tree, label, run, cpu_parts):
    """One turn: a fresh confined stack of `tree`, the levels (each with its
    latency split, from this stack's replicas' metrics), the stack stopped."""
    bench.TREE = tree
    stack = bench.Stack(not a.no_confine, envelope)
    run["verdict_of"] = bench.verdict_in(envelope)
    try:
        stack.start()
        bench.start_sampling(run, stack)
        run["prefix"] = label + " "
        levels = bench.measure_levels(a, mix, cfg, stack, run)
        run["sampler"].stop()
        cpu_parts.append(bench.cpu_series(run["sampler"], run["t0"]))
        return levels, stack.enforced
    finally:
        if run.get("scrape"):  # this stack's metrics end with it
            run.pop("scrape").stop()
        stack.stop()


def join_cpu(parts):
    """The CPU series of every turn, one after the other."""
    out = {"t": [], "cores": {}, "throttled": {}}
    for p in parts:
        n = len(out["t"])
        out["t"] += p["t"]
        for key in ("cores", "throttled"):
            for k, v in p[key].items():
                out[key].setdefault(k, [None] * n)
                out[key][k] += v
            for k in out[key]:
                out[key][k] += [None] * (len(out["t"]) - len(out[key][k]))
    return out


def cmd_compare(a):
    mix = bench.load_mix()
    mode = "quick" if a.quick else "default"
    cfg = only_levels(mix, mix["compare"][mode], a.levels)
    rounds = a.rounds or cfg["rounds"]
    sides = {}
    for side, rev in (("a", a.A), ("b", a.B)):
        tree, commit = bench.export_rev(rev, keep=[s["commit"] for s in sides.values()])
        # Each side runs in its own compose.yml's split: the split is part of
        # the submission, so a commit that changes it is measured in it.
        sides[side] = {"rev": rev, "commit": commit, "tree": tree, "rounds": [], "envelope": bench.load_envelope(tree),
                       "sched_policy": bench.sched_policy(tree)}
    split = {x: {k: v["cpus"] for k, v in sides[x]["envelope"]["services"].items()} for x in sides}
    if split["a"] != split["b"]:
        bench.say("CPU splits differ, each side runs in its own: A %s | B %s" % (split_text(split["a"]), split_text(split["b"])))
    envelope = sides["b"]["envelope"]
    date = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    run = bench.new_run(envelope)
    cpu_parts, order, enforced = [], [], None
    for r in range(rounds):
        for side in ("a", "b"):
            label = "%s%d" % (side.upper(), r + 1)
            bench.say("round %d/%d: %s = %s (%s)" % (r + 1, rounds, side.upper(), sides[side]["rev"], sides[side]["commit"]))
            levels, enforced = run_side(a, mix, cfg, sides[side]["envelope"], sides[side]["tree"], label, run, cpu_parts)
            sides[side]["rounds"].append(levels)
            order.append(label)
        lv = ratios([sides["a"]["rounds"][-1]], [sides["b"]["rounds"][-1]])
        bench.say("round %d: B/A " % (r + 1) + ", ".join(("%s p50 %.3f p99 %.3f max %.3f" % (
            x["name"], x["ratio_p50"]["median"] or 0, x["ratio_p99"]["median"] or 0, x["ratio_max"]["median"] or 0)) if x["rate"] else
            "%s req/s %.3f p99 %.3f" % (x["name"], x["ratio_rps"]["median"] or 0, x["ratio_p99"]["median"] or 0) for x in lv))
    bench.TREE = bench.REPO
    cmp_levels = ratios(sides["a"]["rounds"], sides["b"]["rounds"])
    a_levels, b_levels = ([median_level([rnd[i] for rnd in sides[x]["rounds"]]) for i in range(len(cmp_levels))] for x in "ab")
    checks = bench.correctness_checks([lv for sd in sides.values() for rnd in sd["rounds"] for lv in rnd], " (both sides)")
    ts = series.build("wrk, 1-second slices", series.wrk_points(run["slices"]), join_cpu(cpu_parts), run["phases"], run["t0"])
    s = {
        "schema": 1, "tool": "wrk", "tool_version": bench.wrk_version(), "scenario": "compare",
        "commit": sides["b"]["commit"], "dirty": False, "date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": bench.machine(), "envelope": dict(envelope, enforced=enforced, sched_policy=sides["b"]["sched_policy"]),
        "levels": b_levels, "db_ceiling": None,
        "thresholds": {"passed": all(c["passed"] for c in checks), "checks": checks},
        "notes": ("make compare%s: B = %s (%s) against A = %s (%s), clean exports of both commits, %d rounds in the order %s, "
                  "each turn a fresh stack confined to its own compose.yml's split of the envelope; wrk %d threads, %d s warm-up, %s%d x %d s per level. "
                  "levels[] are B's medians over the rounds; compare.levels[] the per-round ratios B/A.") % (
            " quick" if a.quick else "", a.B, sides["b"]["commit"], a.A, sides["a"]["commit"], rounds, " ".join(order),
            cfg["threads"], cfg["warmup_s"], bench.rate_note(bench.level_specs(mix, cfg)), cfg["repeats"], cfg["level_s"]),
        "mode": mode,
        "compare": {"a": {"rev": a.A, "commit": sides["a"]["commit"], "split": split["a"], "sched_policy": sides["a"]["sched_policy"]},
                    "b": {"rev": a.B, "commit": sides["b"]["commit"], "split": split["b"], "sched_policy": sides["b"]["sched_policy"]},
                    "rounds": rounds, "order": order, "levels": cmp_levels},
        "sides": {"a": a_levels, "b": b_levels},
        "timeseries": ts,
    }
    bench.archive(verdict.apply(s), bench.run_dir(date, "%s-vs-%s" % (sides["b"]["commit"], sides["a"]["commit"])), table)
    return 0 if s["thresholds"]["passed"] else 1
