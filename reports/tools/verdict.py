"""What a run's figures mean: one pass/fail verdict, and what limited the run.

Pure functions over a summary.json (reports/SCHEMA.md), shared by
bench/bench.py (applied to every run it archives, k6 runs included) and
reports/tools/report.py and site.py (applied when they read an archived
summary, so runs archived before these rules get them too). It lives beside
the site's tools because the stress workflow builds the site from
reports/tools alone. Python 3 standard library only.

- thresholds.passed is true only when every check passed. A stress ramp's
  abort bounds (p99, error rate) are not checks: crossing one is the
  measurement, so they live in stress.bounds, never in the verdict.
- limited_by names what limited a run ("generator", "stack-cpu",
  "database", "<service>-throttling", "machine" for other processes on a
  shared machine), or null when nothing did (an
  offered load well below capacity, or a closed loop whose round trips, not
  a resource, set the pace), with the evidence it was decided on. A run whose
  load generator was the limit measured the generator, not the stack.
"""

# Thresholds of the classifier, as shares (why each value: see classify()).
STACK_FULL = 0.90      # the whole envelope busy: the stack's CPU is the limit
SERVICE_FULL = 0.85    # one service busy at its own limit
THROTTLED = 0.05       # throttled seconds per second of wall time: CFS quota bites
MACHINE_FULL = 0.90    # generator + stack (or the whole machine) busy on its cores
OTHERS = 0.25          # cores taken by processes that are neither the stack nor the generator
GENERATOR_FULL = 0.85  # the generator busy on the cores it can use
IDLE_STACK = 0.60      # below this share of its envelope the stack had room left
BARELY_THROTTLED = 0.02
# k6 dropping this share of an offered load's iterations (it had no VU free
# to start them) says the load was not delivered; fewer are a blip (one
# iteration of 61,000 during a stall of the stack), not a starved generator.
DROPPED_SHARE = 0.01

SERVICES = ("db", "api01", "api02", "nginx")
# Abort bounds of k6/stress.js: thresholds with abortOnFail on performance.
STRESS_BOUNDS = ("http_req_duration p(", "http_req_failed rate")


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


# --- the single verdict ------------------------------------------------------------


def single_verdict(s):
    """Moves a stress ramp's abort bounds out of thresholds.checks into
    stress.bounds, then sets thresholds.passed to "every check passed".
    Returns s (changed in place). Idempotent."""
    th = s.get("thresholds")
    if not isinstance(th, dict):
        return s
    checks = [c for c in th.get("checks") or [] if isinstance(c, dict)]
    if s.get("scenario") == "stress":
        bounds = [c for c in checks if str(c.get("name", "")).startswith(STRESS_BOUNDS)]
        if bounds:
            st = s.setdefault("stress", {})
            old = {b.get("name") for b in st.get("bounds") or []}
            st["bounds"] = (st.get("bounds") or []) + [
                {"name": c.get("name"), "crossed": c.get("passed") is False, "value": c.get("value"), "limit": c.get("limit")}
                for c in bounds if c.get("name") not in old]
            checks = [c for c in checks if c not in bounds]
    th["checks"] = checks
    th["passed"] = all(c.get("passed") is True for c in checks)
    return s


# --- what limited the run ------------------------------------------------------------


def window_figures(services, wall_s, envelope, generator, machine_cpus, machine_busy_s=None):
    """Per-second shares of one measurement window (None where not measured)."""
    limits = (envelope or {}).get("services") or {}
    out = {"window_s": wall_s, "machine_cpus": machine_cpus, "envelope_cpus": _num((envelope or {}).get("cpus")),
           "stack_cores": None, "stack_share": None, "services": {}, "generator_cores": None,
           "generator_cores_usable": None, "generator_share": None, "machine_busy_cores": None, "other_cores": None}
    if not wall_s or not services:
        return out
    total = 0.0
    for name in SERVICES:
        sv = services.get(name) or {}
        cpu, thr = _num(sv.get("cpu_s")), _num(sv.get("throttled_s"))
        if cpu is None:
            continue
        total += cpu
        lim = _num((limits.get(name) or {}).get("cpus"))
        out["services"][name] = {
            "cores": round(cpu / wall_s, 3),
            "share_of_limit": round(cpu / wall_s / lim, 3) if lim else None,
            "throttled_per_s": round(thr / wall_s, 4) if thr is not None else None,
        }
    out["stack_cores"] = round(total / wall_s, 3)
    if out["envelope_cpus"]:
        out["stack_share"] = round(total / wall_s / out["envelope_cpus"], 3)
    g = generator or {}
    gcpu = _num(g.get("cpu_s"))
    gwall = _num(g.get("window_s")) or wall_s
    if gcpu is not None and gwall:
        out["generator_cores"] = round(gcpu / gwall, 3)
        usable = _num(g.get("threads")) or machine_cpus
        if usable and machine_cpus:
            usable = min(usable, machine_cpus)
        out["generator_cores_usable"] = usable
        if usable:
            out["generator_share"] = round(out["generator_cores"] / usable, 3)
    if _num(machine_busy_s) is not None:
        out["machine_busy_cores"] = round(machine_busy_s / wall_s, 3)
        out["other_cores"] = round(max(0.0, out["machine_busy_cores"] - out["stack_cores"] - (out["generator_cores"] or 0)), 3)
    return out


def dropped_share(lv, dropped):
    """The share of the level's offered iterations k6 dropped (None when
    unknown): dropped / (requests + dropped)."""
    done = _num(lv.get("requests"))
    if done is None and _num(lv.get("rps")) is not None and _num(lv.get("duration_s")) is not None:
        done = lv["rps"] * lv["duration_s"]
    if not dropped or done is None:
        return None
    return dropped / (done + dropped)


def classify(f, bound_hit, dropped_iterations=None, dropped_fraction=None):
    """(limited_by, rule) from window_figures() output.

    bound_hit: the run met a limit by design (a stress ramp aborted, or a
    closed loop, which always runs as fast as something lets it). An offered
    load below capacity (the official scenario) has none: limited_by stays
    null unless a resource was saturated anyway.

    Order matters: the stack's own resources first (a saturated stack is the
    limit whoever else is busy), then the generator, measured or inferred."""
    svcs = f["services"]
    if not svcs:
        return None, "not measured: no per-service CPU for this window"
    share = f["stack_share"]
    if share is not None and share >= STACK_FULL:
        return "stack-cpu", "the stack used %.0f%% of its %.2g CPU envelope" % (100 * share, f["envelope_cpus"])
    # The busiest service at its own limit (or throttled by it) is the
    # bottleneck; the database by name, any other by its throttling.
    hot = [((v.get("share_of_limit") or 0), (v.get("throttled_per_s") or 0), n) for n, v in svcs.items()
           if (v.get("share_of_limit") or 0) >= SERVICE_FULL or (v.get("throttled_per_s") or 0) >= THROTTLED]
    if hot:
        used, thr, name = max(hot)
        why = "%s at %.0f%% of its CPU limit, throttled %.3f s per s" % (name, 100 * used, thr)
        return ("database" if name == "db" else "%s-throttling" % name), why
    gen, mcpu = f["generator_cores"], f["machine_cpus"]
    if gen is not None:
        if (f["generator_share"] or 0) >= GENERATOR_FULL:
            return "generator", "the load generator used %.2f of the %s cores it can use while the stack used %.0f%% of its envelope" % (
                gen, f["generator_cores_usable"], 100 * (share or 0))
        if mcpu and f["stack_cores"] is not None and gen + f["stack_cores"] >= MACHINE_FULL * mcpu:
            return "generator", ("the machine's %d cores were busy (generator %.2f + stack %.2f) with the stack at %.0f%% of its "
                                 "envelope: the generator took the cores the stack could have used") % (mcpu, gen, f["stack_cores"], 100 * (share or 0))
    # The machine is shared: when it was full and processes that are neither
    # the stack nor the generator held a good part of it, they were the limit.
    busy, others = f.get("machine_busy_cores"), f.get("other_cores")
    if busy is not None and mcpu and busy >= MACHINE_FULL * mcpu and (others or 0) >= OTHERS * mcpu:
        return "machine", ("the machine's %d cores were busy (%.2f), %.2f of them by other processes (stack %.2f, generator %s): "
                           "a noisy neighbour, not the stack, was the limit") % (
            mcpu, busy, others, f["stack_cores"], "?" if gen is None else "%.2f" % gen)
    throttled = max((v.get("throttled_per_s") or 0) for v in svcs.values())
    busiest = max((v.get("share_of_limit") or 0) for v in svcs.values())
    # Inferred only where the generator's CPU was not measured (a measured,
    # unbusy generator was not the limit), or where k6 itself reported that
    # it could not start iterations for want of a VU.
    many_dropped = (dropped_iterations or 0) > 0 and (dropped_fraction is None or dropped_fraction >= DROPPED_SHARE)
    starved = (bound_hit and gen is None) or many_dropped
    if starved and share is not None and share < IDLE_STACK and busiest < SERVICE_FULL and throttled < BARELY_THROTTLED:
        how = ("measured: %.2f cores" % gen) if gen is not None else (
            "not measured; inferred: it shared the machine's %s cores with a stack using %.2f of them" % (mcpu, f["stack_cores"]))
        return "generator", ("the run hit its limit while the stack used %.0f%% of its envelope (busiest service %.0f%% of its limit, "
                             "throttled at most %.3f s per s)%s; the load generator's CPU: %s") % (
            100 * share, 100 * busiest, throttled,
            ", k6 dropped %d iterations" % dropped_iterations if dropped_iterations else "", how)
    return None, "no resource saturated (stack at %s of its envelope%s%s)" % (
        "?" if share is None else "%.0f%%" % (100 * share),
        "; the closed loop's round trips set the pace" if bound_hit and gen is not None else "",
        "; k6 dropped %d iterations, %.3f%% of the offered load" % (dropped_iterations, 100 * dropped_fraction)
        if dropped_iterations and dropped_fraction is not None and not many_dropped else "")


def level_window(lv):
    return _num(lv.get("services_window_s")) or _num(lv.get("duration_s"))


def limited_by(s):
    """Sets levels[].limited_by and the run's limited_by (its peak level's,
    the one whose figures it is quoted by) with their evidence. Returns s."""
    env = s.get("envelope") or {}
    mcpu = _num((s.get("machine") or {}).get("cpus"))
    gen_run = s.get("generator") or {}
    wrk = s.get("tool") == "wrk"
    stress = s.get("stress") or {}
    levels = [lv for lv in s.get("levels") or [] if isinstance(lv, dict)]
    for lv in levels:
        gen = lv.get("generator") or (gen_run if len(levels) == 1 else {})
        f = window_figures(lv.get("services"), level_window(lv), env, gen, mcpu, lv.get("machine_busy_s"))
        # wrk's levels are closed loops, except an offered rate (make bench's official-rate level, levels[].rate)
        bound = (wrk and _num(lv.get("rate")) is None) or bool(stress.get("aborted"))
        dropped = _num(gen.get("dropped_iterations"))
        by, rule = classify(f, bound, dropped, dropped_share(lv, dropped))
        lv["limited_by"] = by
        lv["limited_by_evidence"] = dict(f, rule=rule, generator_tool=s.get("tool"),
                                         dropped_iterations=_num(gen.get("dropped_iterations")),
                                         vus_peak=_num(gen.get("vus_peak")), vus_max=_num(gen.get("vus_max")))
    measured = [lv for lv in levels if _num(lv.get("rps")) is not None]
    peak = max(measured, key=lambda lv: lv["rps"]) if measured else None
    s["limited_by"] = peak.get("limited_by") if peak else None
    s["limited_by_evidence"] = dict(peak["limited_by_evidence"], level=peak.get("name")) if peak else None
    return s


def apply(s):
    """Both rules, in place; returns s."""
    return limited_by(single_verdict(s))


def headline(s):
    """One line for consoles and reports: the verdict and what limited it."""
    th = s.get("thresholds") or {}
    checks = th.get("checks") or []
    failed = [c.get("name") for c in checks if c.get("passed") is not True]
    parts = ["thresholds: %s" % ("passed (%d checks)" % len(checks) if th.get("passed") else "FAILED (%s)" % ", ".join(map(str, failed)))]
    st = s.get("stress") or {}
    if s.get("scenario") == "stress" and st.get("aborted") is not None:
        crossed = [b["name"] for b in st.get("bounds") or [] if b.get("crossed")]
        parts.append("stress ramp %s" % ("stopped at its bound (%s): the measurement, not a failure" % ", ".join(crossed)
                                         if st.get("aborted") else "ran to its end"))
    by = s.get("limited_by")
    parts.append("limited by: %s" % (by or "nothing saturated"))
    if by == "generator":
        parts.append("GENERATOR-BOUND: this run's ceiling is the load generator's, not the stack's")
    return "; ".join(parts)
