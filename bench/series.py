"""Time series of a run: what happened second by second, for wrk and k6 alike.

- Sampler: a thread reading, once a second, the CPU counters of the stack's
  cgroups and of the load generator's process, so that a run records the
  per-service CPU (and the generator's) over time.
- wrk: bench/bench.py runs each level as 1-second slices of wrk; each slice
  is one point (its req/s, latency percentiles, errors), and a level's
  latency percentiles are merged from its slices' percentile grids (mix.lua's
  "q"): ranks resolve to the grid's steps (0.5 below p99, 0.1 to p99.9).
- k6: the per-request rows of `k6 run --out csv=...` bucketed per second.

The result is the optional `timeseries` object of summary.json
(reports/SCHEMA.md). Python 3 standard library only.
"""
import csv
import gzip
import math
import os
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def r3(v):
    return None if v is None else round(v, 3)


# --- the generator's CPU ---------------------------------------------------------------


def proc_cpu_s(pid):
    """User + system CPU seconds of a live process (all its threads), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


class GeneratorCPU:
    """CPU seconds of the load generator's processes, run one after the
    other: finished ones from the kernel's rusage of waited-for children
    (exact), the running one from /proc/<pid>/stat."""

    def __init__(self):
        self.done_s = 0.0
        self.pid = None
        self._lock = threading.Lock()

    @staticmethod
    def children_s():
        import resource
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    def started(self, pid):
        with self._lock:
            self.pid = pid
            self._base = self.children_s()

    def finished(self):
        """Call after the process was waited for; returns its CPU seconds.
        Only the generator is reaped meanwhile (the stack is a daemon)."""
        with self._lock:
            spent = self.children_s() - self._base
            self.done_s += spent
            self.pid = None
            return spent

    def total(self):
        with self._lock:
            live = proc_cpu_s(self.pid) if self.pid else 0.0
            return self.done_s + (live or 0.0)


def machine_busy_s():
    """CPU seconds the whole machine spent busy (all CPUs, /proc/stat: every
    state but idle and iowait), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK  # user nice system idle iowait irq softirq steal


# --- per-second sampling ---------------------------------------------------------------------


class Sampler:
    """Samples read() -> {name: cumulative seconds} on every whole second in
    a thread; rates() turns the samples into per-interval rates."""

    def __init__(self, read):
        self.read = read
        self.samples = []
        self._stop = threading.Event()
        self._t = None

    def _take(self):
        try:
            self.samples.append((time.time(), self.read()))
        except (OSError, ValueError):
            pass  # a cgroup gone at the very end: the sample is skipped

    def _loop(self):
        while not self._stop.wait(1 - time.time() % 1):
            self._take()

    def start(self):
        self._take()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        if self._t:
            self._t.join()
        self._take()


def rates(samples, t0):
    """[(unix time, {k: cumulative s})] -> {"t": [s since t0, interval ends],
    "<k>": [s per s over each interval]}."""
    out = {"t": []}
    keys = sorted({k for _, d in samples for k in d})
    for k in keys:
        out[k] = []
    for (ta, a), (tb, b) in zip(samples, samples[1:]):
        dt = tb - ta
        if dt <= 0.05:
            continue
        out["t"].append(round(tb - t0, 2))
        for k in keys:
            out[k].append(r3((b[k] - a[k]) / dt) if k in a and k in b and a[k] is not None and b[k] is not None else None)
    return out


# --- percentiles ----------------------------------------------------------------------


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (as k6 and wrk report)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(math.ceil(p / 100.0 * len(sorted_values))) - 1))
    return sorted_values[k]


def merge_quantiles(parts, ps=(50, 90, 99)):
    """Latency percentiles of several runs merged from their percentile grids.
    parts: [(requests, [[p, value], ...], max)]. Each grid step stands for the
    share of its run's requests between it and the previous step."""
    pool = []
    for n, grid, _ in parts:
        prev = 0.0
        for p, v in sorted(grid):
            pool.append((v, n * (p - prev) / 100.0))
            prev = p
        if prev < 100:
            pool.append((grid[-1][1] if grid else 0, n * (100 - prev) / 100.0))
    pool.sort()
    total = sum(w for _, w in pool)
    out = {}
    for p in ps:
        if not total:
            out["p%g" % p] = None
            continue
        want, acc = total * p / 100.0, 0.0
        val = pool[-1][0]
        for v, w in pool:
            acc += w
            if acc >= want - 1e-9:
                val = v
                break
        out["p%g" % p] = val
    out["max"] = max((m for _, _, m in parts), default=None)
    return out


# --- wrk ----------------------------------------------------------------------------------


def wrk_figures(r):
    """One wrk result of bench/mix.lua (BENCH_RESULT) in the schema's terms:
    errors are unexpected statuses (not 200 or 422), socket errors and
    malformed answers."""
    e = r["errors"]
    sock = e["connect"] + e["read"] + e["write"] + e["timeout"]
    d = r["duration_us"] / 1e6
    return {"rps": round(r["requests"] / d, 1) if d else None, "latency_ms": {k: r3(v / 1000) for k, v in r["latency_us"].items() if k != "mean"},
            "requests": r["requests"], "status": r["status"], "inconsistencies": r["inconsistencies"], "socket_errors": sock,
            "errors": sock + r["malformed"] + sum(v for k, v in r["status"].items() if k not in ("200", "422"))}


def wrk_points(slices):
    """Each 1-second wrk slice as one point: [{t, dt, rps, p50_ms, p90_ms,
    p99_ms, max_ms, errors, inconsistencies, level}]."""
    pts = []
    for s in slices:
        f = wrk_figures(s["result"])
        pts.append(dict({k + "_ms": f["latency_ms"].get(k) for k in ("p50", "p90", "p99", "max")}, t=round(s["t"], 2),
                        dt=round(s["result"]["duration_us"] / 1e6, 3), rps=f["rps"], errors=f["errors"],
                        inconsistencies=f["inconsistencies"], level=s["level"]))
    return pts


# --- k6 --------------------------------------------------------------------------------


def k6_csv_points(path, expected, t0=None):
    """Per-second points from k6's CSV output (k6 run --out csv=FILE[.gz]):
    one row per metric sample, columns metric_name, timestamp (unix seconds;
    k6's default csv time format), metric_value, ..., name, scenario, status,
    ... Requests are the http_req_duration rows; their `name` tag (debitos,
    creditos, extratos) picks the expected statuses (mix.json's
    expected_status); a request of another name (the validation phase's) is
    an error only on a status >= 500 or 0. Returns (points, t0, scenario
    spans {scenario: [first s, last s]})."""
    buckets, spans = {}, {}
    with (gzip.open(path, "rt", newline="") if path.endswith(".gz") else open(path, newline="")) as f:
        for row in csv.DictReader(f):
            if row.get("metric_name") != "http_req_duration":
                continue
            ts = float(row["timestamp"])
            for scale in (1e9, 1e6, 1e3):  # K6_CSV_TIME_FORMAT unix_nano, _micro, _milli
                if ts > 1e9 * scale / 10:
                    ts /= scale
                    break
            if t0 is None:
                t0 = math.floor(ts)
            sec = int(math.floor(ts - t0))
            b = buckets.setdefault(sec, {"lat": [], "errors": 0})
            b["lat"].append(float(row["metric_value"]))
            try:
                status = int(row.get("status") or 0)
            except ValueError:
                status = 0
            ok = expected.get(row.get("name"))
            if (status not in ok) if ok else (status == 0 or status >= 500):
                b["errors"] += 1
            sc = row.get("scenario") or "?"
            span = spans.setdefault(sc, [sec, sec])
            span[0], span[1] = min(span[0], sec), max(span[1], sec)
    pts = []
    for sec in range(min(buckets), max(buckets) + 1) if buckets else []:
        b = buckets.get(sec, {"lat": [], "errors": 0})
        lat = sorted(b["lat"])
        pts.append({"t": sec + 1, "dt": 1, "rps": len(lat), "p50_ms": r3(percentile(lat, 50)), "p90_ms": r3(percentile(lat, 90)),
                    "p99_ms": r3(percentile(lat, 99)), "max_ms": r3(lat[-1]) if lat else None, "errors": b["errors"],
                    "inconsistencies": None, "level": None})
    return pts, t0, spans


def k6_phases(scenario, spans, time_scale, mix):
    """The phases of a k6 run from where its scenarios actually ran: rinha's
    validation (scenario validacao), then the ramp and the plateau of the
    load scenarios (their ramp lasts load.ramp_s x TIME_SCALE); stress's one
    ramp."""
    load = [v for k, v in spans.items() if k != "validacao"]
    phases = []
    if "validacao" in spans:
        phases.append({"name": "validation", "start_s": spans["validacao"][0], "end_s": spans["validacao"][1] + 1})
    if load:
        start, end = min(s for s, _ in load), max(e for _, e in load) + 1
        if scenario == "rinha":
            ramp = max(1, round(mix["load"]["ramp_s"] * time_scale))
            phases.append({"name": "ramp", "start_s": start, "end_s": min(end, start + ramp)})
            if start + ramp < end:
                phases.append({"name": "plateau", "start_s": start + ramp, "end_s": end})
        else:
            phases.append({"name": "ramp", "start_s": start, "end_s": end})
    return phases


# --- the summary's timeseries object ----------------------------------------------------


def build(source, points, cpu, phases, start_unix):
    """The `timeseries` object: load points as columns, the CPU over time,
    the phases; times in seconds from start_unix."""
    keys = ("t", "dt", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "inconsistencies", "level")
    return {
        "source": source,
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_unix)) if start_unix else None,
        "load": {k: [p.get(k) for p in points] for k in keys},
        "cpu": cpu,
        "phases": phases,
    }
