#!/usr/bin/python3
"""The local benchmark and the k6 runner, on the native stack confined to the
Rinha envelope (1.5 CPU / 550MB, split per service as in compose.yml).

  bench/bench.py bench [--quick] [--no-confine] [--perf] [--rev REV] [--continuous]
      wrk with bench/mix.lua at a few concurrency levels, then the
      database-only ceiling with pgbench; a table, and the run archived in
      reports/runs/<UTC timestamp>-<short commit>/ (summary.json, report.html).
  bench/bench.py k6 rinha|stress [k6 run args...]
      the same confined stack under k6/rinha.js or k6/stress.js; the summary
      of the script plus the machine, envelope and per-service CPU and memory.
  bench/bench.py compare A B [--quick] [--rounds N]   (bench/compare.py)

Every parameter of the mix and of the levels comes from k6/mix.json; the
split of the envelope from compose.yml (services.*.deploy.resources.limits).
Environment: API_BIN and API_ENV (the replicas' binary and environment, as
scripts/stack.sh), BENCH_OUT (runs folder, default reports/runs).
Exit status: 0 when every answer was expected and consistent (performance
targets are reported, not enforced), 1 otherwise, 2 on a setup failure.
"""
import argparse
import csv
import datetime as dt
import fcntl
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "reports", "tools"), os.path.join(REPO, "observe")]
import scrape  # noqa: E402  (observe/scrape.py: the replicas' /metrics, once a second)
import series  # noqa: E402
import verdict  # noqa: E402  (reports/tools: the site and reports apply the same rules)
from cgroups import SERVICES, Cgroups, children  # noqa: E402
from runinfo import compose_limits, machine  # noqa: E402
import envelope as envelope_limits  # noqa: E402  (scripts/envelope.py: the Rinha's 1.5 CPU / 550 MB)

# The measured tree: the working tree, or with --rev (and make compare) a
# clean export of a commit in var/bench-src/<commit>/ (its server, db/,
# nginx/, stack.sh and compose.yml; the load definitions and tools stay this
# tree's).
TREE = REPO
LOCK = "/tmp/rinha-stack.lock"
URL = "http://127.0.0.1:9999"
PGCONN = ["-h", "/run/rinha", "-U", "rinha", "-d", "rinha"]
LATENCIES = ("p50", "p90", "p99", "max")


def say(*a):
    print("bench:", *a, flush=True)


def die(msg, code=2):
    print("bench: error:", msg, file=sys.stderr, flush=True)
    sys.exit(code)


def out(cmd):
    return subprocess.run(cmd, check=True, text=True, capture_output=True).stdout.strip()


def var(*p):
    return os.path.join(TREE, "var", *p)


def export_rev(rev, keep=()):
    """Exports and builds commit `rev`; returns (tree, short commit)."""
    commit = out(["git", "-C", REPO, "rev-parse", "--short=7", rev + "^{commit}"])
    top = os.path.join(REPO, "var", "bench-src")
    tree = os.path.join(top, commit)
    # Keep only the exports measured now (the stack lock is held): this one
    # and those in keep (make compare's other side).
    for old in os.listdir(top) if os.path.isdir(top) else []:
        if old != commit and old not in keep:
            shutil.rmtree(os.path.join(top, old), ignore_errors=True)
    if not os.path.exists(os.path.join(tree, "build", "rinha-api")):
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        say("exporting %s to %s and building it" % (commit, os.path.relpath(tree, REPO)))
        archive = subprocess.Popen(["git", "-C", REPO, "archive", commit], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", tree], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise RuntimeError("git archive %s failed" % commit)
        subprocess.run(["make", "-C", tree, "--no-print-directory", "all"], stdout=subprocess.DEVNULL, check=True)
    return tree, commit


# --- configuration -------------------------------------------------------------


def load_mix():
    """k6/mix.json plus the client table of the measured tree's seed,
    db/clientes.csv (a commit older than that file: this tree's)."""
    with open(os.path.join(REPO, "k6", "mix.json")) as f:
        mix = json.load(f)
    path = os.path.join(TREE, "db", "clientes.csv")
    with open(path if os.path.exists(path) else os.path.join(REPO, "db", "clientes.csv")) as f:
        mix["clients"] = [{"id": int(r["id"]), "limite": int(r["limite"])} for r in csv.DictReader(f)]
    return mix


def load_envelope(tree=None):
    """The per-service split from the compose.yml of `tree` (default: the
    measured tree): {cpus, memory_mb, services: {svc: {cpus, memory_mb}}}."""
    try:
        limits = compose_limits(os.path.join(tree or TREE, "compose.yml"))
    except ImportError:
        die("python3-yaml is missing (apt-get install python3-yaml)")
    services = {n: v for n, v in limits.items() if v["cpus"] is not None and v["memory_mb"] is not None}
    missing = [s for s in SERVICES if s not in services]
    if missing:
        die("compose.yml has no deploy.resources.limits for %s" % ", ".join(missing))
    return {"cpus": round(sum(s["cpus"] for s in services.values()), 3),
            "memory_mb": round(sum(s["memory_mb"] for s in services.values()), 1), "services": services}


def one_cgroup_envelope(envelope):
    """make bench ONE_CGROUP=1: the Rinha's whole envelope (1.5 CPU / 550 MB,
    scripts/envelope.py) as one cgroup for the whole stack, no per-service
    split; each service's limit is the whole envelope (what it may take when
    the others are idle), so the verdicts judge the stack as one, and
    `one_cgroup` says so in summary.json."""
    cpus, mem = float(envelope_limits.CPU_MAX), float(envelope_limits.MEM_MAX_MB)
    return {"cpus": cpus, "memory_mb": mem, "services": {s: {"cpus": cpus, "memory_mb": mem} for s in SERVICES}, "one_cgroup": True}


def git_meta(rev_commit=None):
    """(short commit, dirty) of what is measured."""
    if rev_commit:
        return rev_commit, False
    try:
        commit = out(["git", "-C", REPO, "rev-parse", "--short=7", "HEAD"])
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown", None
    # Dirty: uncommitted changes to what is measured (the server, database,
    # proxy, stack and the load definitions), not to reports or docs.
    paths = ["api", "db", "nginx", "compose.yml", "scripts/stack.sh", "k6", "bench"]
    return commit, bool(out(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--"] + paths))


# --- the stack ----------------------------------------------------------------


def read_pid(path):
    with open(path) as f:
        return int(f.readline())


def sched_policy(tree):
    """The scheduling policy the stack of `tree` runs under: SCHED_POLICY
    from the environment, or the default of that tree's scripts/stack.sh
    (None if it has no such setting: commits before it)."""
    if os.environ.get("SCHED_POLICY"):
        return os.environ["SCHED_POLICY"]
    try:
        with open(os.path.join(tree, "scripts", "stack.sh")) as f:
            m = re.search(r"case \$\{SCHED_POLICY:-([a-z-]+)\} in", f.read())
    except OSError:
        return None
    return m.group(1) if m else None


class Stack:
    """scripts/stack.sh of the measured tree, confined to the envelope."""

    def __init__(self, confine, envelope, split=True):
        self.cg = Cgroups(envelope, split) if confine else None
        self.enforced = "none"
        self.up = False

    def start(self):
        env = dict(os.environ)
        if TREE != REPO:
            env.pop("API_BIN", None)  # the exported tree's own build
        subprocess.run([os.path.join(TREE, "scripts", "stack.sh"), "start"], env=env, check=True)
        self.up = True
        if self.cg is None:
            return
        self.cg.setup()
        self.enforced = self.cg.kind + ("" if self.cg.split else ", one cgroup for the whole stack")
        # The postmaster first, so that every backend forked from now on is
        # born inside; then the backends that already exist (the replicas'
        # connections, the background workers).
        pm = read_pid(var("pgdata", "postmaster.pid"))
        self.cg.move("db", pm)
        for _ in range(2):
            for k in children(pm):
                self.cg.move("db", k)
        for svc in ("api01", "api02"):
            self.cg.move(svc, read_pid(var(svc + ".pid")))
        ng = read_pid(var("nginx.pid"))
        for k in [ng] + children(ng):
            self.cg.move("nginx", k)
        counts = {s: len(self.cg.pids(s)) for s in SERVICES}
        say("confined (%s): %s" % (self.enforced, ", ".join("%s %d procs" % kv for kv in counts.items())))
        if counts["db"] < 2 or counts["api01"] < 1 or counts["api02"] < 1 or counts["nginx"] < 2:
            raise RuntimeError("some stack processes are not in their cgroups: %s" % counts)

    def window(self):
        return self.cg.start_window() if self.cg else None

    def measure(self, start):
        return self.cg.end_window(start) if self.cg else None

    def stop(self):
        if self.up:
            subprocess.run([os.path.join(TREE, "scripts", "stack.sh"), "stop"], check=False)
            self.up = False
        if self.cg:
            self.cg.teardown()


# --- wrk ------------------------------------------------------------------------


def wrk_args(mix, think_ms=None):
    """mix.lua's arguments; think_ms: the mean think time of the official-rate level."""
    r = mix["load"]["rates"]
    return (["think=%g" % think_ms] if think_ms else []) + ["clients=" + ",".join("%d:%d" % (c["id"], c["limite"]) for c in mix["clients"]),
            "weights=%d,%d,%d" % (r["debitos"], r["creditos"], r["extratos"]),
            "valor=%d,%d" % (mix["valor"]["min"], mix["valor"]["max"]),
            "dlen=%d" % mix["descricao"]["length"], "alphabet=" + mix["descricao"]["alphabet"]]


def official_rate(mix):
    """The official test's peak arrivals per second: its scenarios' rates summed (debitos + creditos + extratos)."""
    return sum(mix["load"]["rates"].values())


def level_specs(mix, cfg):
    """cfg's levels in run order, each {name, connections, rate, think_ms,
    level_s, repeats}: with cfg["rate"], first the official-rate level
    ("r340": `connections` each waiting a random exponential think time of
    mean connections / rate between requests, so that they offer about the
    official peak rate; before the closed loops, so that it meets the tables
    as the official test does, not swollen by the saturation levels' writes:
    bench/README.md), then the closed loops at cfg["levels"] connections."""
    closed = [{"name": "c%d" % c, "connections": c, "rate": None, "think_ms": None, "level_s": cfg["level_s"],
               "repeats": cfg["repeats"]} for c in cfg["levels"]]
    r = cfg.get("rate")
    if not r:
        return closed
    rate = official_rate(mix)
    return [{"name": "r%d" % rate, "connections": r["connections"], "rate": rate, "think_ms": round(r["connections"] * 1000 / rate, 3),
             "level_s": r["level_s"], "repeats": r["repeats"]}] + closed


def rate_reached(lv, mix):
    """(reached, share) of an official-rate level: its req/s over its offered
    rate, reached when at least targets.official_rate.reached (90%) of it."""
    share = round(lv["rps"] / lv["rate"], 3) if lv["rps"] is not None else None
    return share is not None and share >= mix["targets"]["official_rate"]["reached"], share


def run_wrk(mix, conns, seconds, threads, gen, think_ms=None):
    """One wrk run (mix.lua's BENCH_RESULT); its CPU is added to gen (a series.GeneratorCPU)."""
    cmd = ["wrk", "-t%d" % min(threads, conns), "-c%d" % conns, "-d%ds" % seconds, "--timeout", "2s",
           "-s", os.path.join(REPO, "bench", "mix.lua"), URL, "--"] + wrk_args(mix, think_ms)
    p = subprocess.Popen(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    gen.started(p.pid)
    try:
        stdout, stderr = p.communicate(timeout=seconds + 30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        cpu = gen.finished()
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError("wrk failed (%d): %s %s" % (p.returncode, stdout[-2000:], stderr[-2000:]))
    return dict(json.loads(line[len("BENCH_RESULT "):]), generator_cpu_s=cpu)


def run_wrk_sliced(mix, conns, seconds, threads, run, level, slice_s=1, think_ms=None):
    """A level's run as 1-second wrk runs (slice_s: their length; the whole
    run as one with --continuous), one time-series point each (appended to
    run["slices"]), combined into one result of run_wrk's shape: counts
    summed, latency percentiles merged from the slices' grids. What the
    restarts cost is measured in bench/README.md."""
    parts = []
    for _ in range(max(1, seconds // slice_s)):
        r = run_wrk(mix, conns, slice_s, threads, run["gen"], think_ms)
        run["slices"].append({"t": time.time() - run["t0"], "result": r, "level": level})
        parts.append(r)
    res = {k: sum(r[k] for r in parts) for k in ("duration_us", "requests", "inconsistencies", "malformed", "generator_cpu_s")}
    res.update({k: add_up(r[k] for r in parts) for k in ("errors", "sent", "status")})
    q = series.merge_quantiles([(r["requests"], r.get("q") or [], r["latency_us"]["max"]) for r in parts], (50, 90, 99))
    res["latency_us"] = {k: q[k] for k in LATENCIES}
    return res


def add_up(dicts):
    """{key: sum of its values} over dicts of counts."""
    total = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


def combine(parts):
    """Repeats (or make compare's rounds) of a level as one: medians of the
    rates and latencies (and of the latency splits of rounds), sums of the counts."""
    out = dict({k: sum(p[k] for p in parts) for k in ("requests", "duration_s", "errors", "socket_errors", "inconsistencies")},
               rps=round(statistics.median(p["rps"] for p in parts), 1),
               latency_ms={k: round(statistics.median(p["latency_ms"][k] for p in parts), 3) for k in LATENCIES},
               status=dict(sorted(add_up(p["status"] for p in parts).items())),
               repeats=[{"rps": p["rps"], "latency_ms": p["latency_ms"]} for p in parts])
    splits = [p["latency_split"] for p in parts if p.get("latency_split")]
    if splits:
        out["latency_split"] = median_split(splits, out["latency_ms"])
    wals = [p["wal"] for p in parts if p.get("wal")]
    if wals:
        out["wal"] = median_wal(wals)
    return out


def median_wal(wals):
    """make compare's rounds of a level's `wal` as one: sums of the counts,
    medians of the means and of flushes per commit (None where no round had one)."""
    def med(k):
        xs = [w[k] for w in wals if w[k] is not None]
        return round(statistics.median(xs), 3) if xs else None

    return {"flushes": sum(w["flushes"] for w in wals), "flush_ms_mean": med("flush_ms_mean"),
            "writes": sum(w["writes"] for w in wals), "write_ms_mean": med("write_ms_mean"),
            "flushes_per_commit": med("flushes_per_commit")}


def level_entry(name, conns, seconds, reps, services, rate=None, think_ms=None):
    """One schema level from the repetitions (run_wrk results) of a level
    (rate, think_ms: an official-rate level's offered req/s and think time)."""
    parts = [dict(series.wrk_figures(r), duration_s=seconds) for r in reps]
    return dict(combine(parts), name=name, connections=conns, rate=rate, services=services, **({"think_ms": think_ms} if rate else {}))


def cpu_reader(stack, gen):
    """Cumulative CPU seconds of each service's cgroup (and its throttled
    seconds), of the load generator and of the machine, for a series.Sampler."""
    def read():
        d = {"generator": gen.total(), "machine": series.machine_busy_s()}
        for s in SERVICES if stack.cg else []:
            d[s] = stack.cg.cpu_ns(s) / 1e9
            d[s + ".throttled"] = stack.cg.throttled_ns(s) / 1e9
        return d
    return read


def cpu_series(sampler, t0):
    """The sampler's CPU as cores per second and throttled seconds per second."""
    r = series.rates(sampler.samples, t0)
    return {"t": r.pop("t"), "cores": {k: v for k, v in r.items() if not k.endswith(".throttled")},
            "throttled": {k[:-len(".throttled")]: v for k, v in r.items() if k.endswith(".throttled")}}


def wrk_version():
    p = subprocess.run(["wrk", "-v"], text=True, capture_output=True)
    m = re.search(r"wrk\s+(\S+)", p.stdout + p.stderr)
    return m.group(1) if m else None


# --- pgbench ------------------------------------------------------------------------


# The database function each pgbench mode calls.
PGBENCH_FUNCTION = {"tx": "transacao", "pipeline": "transacao", "lote": "transacoes_lote", "lote_c": "transacoes_lote_c"}


def has_function(name):
    return bool(psql("SELECT count(*) FROM pg_proc WHERE proname = '%s'" % name))


def pgbench_script(variant, mix):
    """A pgbench script of `calls` requests, client ids ascending (as the API
    sends a round trip's writes), random valor, debits : credits as in the mix:
      tx:       transacao() calls, one transaction (BEGIN..COMMIT; a single
                call without them);
      pipeline: transacao() calls in one pipeline with one Sync;
      lote:     one transacoes_lote() call with all of them (the API's way
                since 12133fc: one call per round trip);
      lote_c:   one transacoes_lote_c() call (db/c: the same in C, the API's
                call for a round trip without Idempotency-Keys)."""
    n = variant["calls"]
    r = mix["load"]["rates"]
    ids = [c["id"] for c in mix["clients"]]
    lines = []
    for i in range(n):
        lines += ["\\set v%d random(%d, %d)" % (i, mix["valor"]["min"], mix["valor"]["max"]),
                  "\\set k%d random(1, %d)" % (i, r["debitos"] + r["creditos"])]
    if n == 1:
        lines.append("\\set c0 random(%d, %d)" % (min(ids), max(ids)))
    cid = [":c0"] if n == 1 else [str(c) for c in sorted(ids[i % len(ids)] for i in range(n))]
    tipo = ["(CASE WHEN :k%d <= %d THEN 'd' ELSE 'c' END)" % (i, r["debitos"]) for i in range(n)]
    if variant["mode"] in ("lote", "lote_c"):
        lines.append("SELECT * FROM " + PGBENCH_FUNCTION[variant["mode"]] + "(ARRAY[%s]::integer[], ARRAY[%s]::bigint[], %s, '{%s}'::text[]);" % (
            ", ".join(cid), ", ".join(":v%d" % i for i in range(n)), " || ".join(tipo),
            ",".join("pgbench%02d" % (i % 100) for i in range(n))))
        return "\n".join(lines) + "\n"
    calls = ["SELECT * FROM transacao(%s, :v%d, %s::char, 'pgbench%02d');" % (cid[i], i, tipo[i], i % 100) for i in range(n)]
    if variant["mode"] == "pipeline":
        calls = ["\\startpipeline"] + calls + ["\\endpipeline"]
    elif n > 1:
        calls = ["BEGIN;"] + calls + ["COMMIT;"]
    return "\n".join(lines + calls) + "\n"


def psql_fields(sql):
    """The fields of the one row a query answers (text), or None if it failed."""
    p = subprocess.run(["psql", "-X", "-Atq", "-F", " "] + PGCONN + ["-c", sql], text=True, capture_output=True)
    return p.stdout.split() if p.returncode == 0 else None


def psql(sql):
    """The one integer a query answers, or None."""
    f = psql_fields(sql)
    try:
        return int(f[0]) if f and len(f) == 1 else None
    except ValueError:
        return None


# The WAL's own counters (PostgreSQL 15's pg_stat_wal): flushes and writes, and
# their time when track_wal_io_timing is on (db/postgresql.conf), else no time.
WAL_SQL = ("SELECT wal_sync, wal_sync_time, wal_write, wal_write_time, current_setting('track_wal_io_timing') = 'on' "
           "FROM pg_stat_wal")


def wal_counters():
    """(flushes, flush ms, writes, write ms, timed) from pg_stat_wal, or None
    (the query failed: a database without the view, or none answering)."""
    f = psql_fields(WAL_SQL)
    if f is None or len(f) != 5:
        return None
    try:
        return int(f[0]), float(f[1]), int(f[2]), float(f[3]), f[4] == "t"
    except ValueError:
        return None


def wal_delta(w0, w1, commits):
    """A level's `wal` (reports/SCHEMA.md) from the counters before and after
    it: how many WAL flushes (fdatasync here) and writes the database made,
    their mean time, and flushes per commit. A commit's flush is part of every
    write's database round trip; its mean says how much of it is the disk.
    Times are None when track_wal_io_timing was off (pg_stat_wal then counts
    no time: a zero would read as free flushes), and a mean is None when there
    was nothing to average; the whole is None when either read failed."""
    if w0 is None or w1 is None:
        return None
    syncs, sync_ms, writes, write_ms = (b - a for a, b in zip(w0[:4], w1[:4]))
    timed = w0[4] and w1[4]
    mean = lambda ms, n: round(ms / n, 3) if timed and n > 0 else None  # noqa: E731
    return {"flushes": syncs, "flush_ms_mean": mean(sync_ms, syncs), "writes": writes, "write_ms_mean": mean(write_ms, writes),
            "flushes_per_commit": round(syncs / commits, 2) if commits else None}


def db_counters():
    """The database's commit and WAL counters now, for db_activity."""
    return psql("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"), wal_counters()


def db_activity(before):
    """(commits, `wal`) since db_counters() returned `before`, once the
    backends have published their statistics (they do about once a second);
    commits None if either read failed."""
    time.sleep(1.1)
    (c0, w0), (c1, w1) = before, db_counters()
    commits = c1 - c0 if c0 is not None and c1 is not None else None
    return commits, wal_delta(w0, w1, commits)


def log_latencies(lines):
    """(count, {p50, p90, p99, max} in ms) of pgbench's per-transaction log
    lines (--log: client, transaction, latency in µs, script, epoch s, µs
    [, schedule lag]); with --rate the latency counts from the scheduled
    start, as an arrival-rate client sees it. Nearest-rank percentiles;
    (0, None) without a transaction (a "skipped" one has no latency)."""
    xs = sorted(int(f[2]) for f in (ln.split() for ln in lines) if len(f) >= 3 and f[2].isdigit())
    if not xs:
        return 0, None
    q = lambda p: round(xs[min(len(xs) - 1, int(p * len(xs)))] / 1000, 3)  # noqa: E731
    return len(xs), {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": round(xs[-1] / 1000, 3)}


def measure_db_alone(cfg, mix, stack):
    """The database alone at the official rate (`db_alone`, reports/SCHEMA.md):
    pgbench calling what the replicas call for a round trip of one write (the
    official test's usual case): transacoes_lote_c() with one request, or
    transacao() in a database from before it, at the sum of the mix's rates over
    cfg["db_alone"]["clients"] connections, as the two replicas would, with no
    nginx and no replica; run right after the official-rate level, so on the
    same database in the same minute: what the stack adds on top of the
    database at that rate. None when the mode has none or the database has
    neither function."""
    f = cfg.get("db_alone")
    mode = next((m for m in ("lote_c", "tx") if has_function(PGBENCH_FUNCTION[m])), None) if f else None
    if mode is None:
        return None
    rate = sum(mix["load"]["rates"].values())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "alone.sql")
        with open(path, "w") as fh:
            fh.write(pgbench_script({"calls": 1, "mode": mode}, mix))
        before, w = db_counters(), stack.window()
        c = str(f["clients"])
        p = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", c, "-j", c, "-R", str(rate), "-T", str(f["seconds"]),
                            "-l", "--log-prefix", os.path.join(tmp, "log"), "-f", path] + PGCONN,
                           text=True, capture_output=True, timeout=f["seconds"] + 60, cwd=tmp)
        services = stack.measure(w)
        if p.returncode != 0:
            raise RuntimeError("pgbench (the database alone) failed: %s %s" % (p.stdout[-1500:], p.stderr[-1500:]))
        lines = [ln for name in sorted(os.listdir(tmp)) if name.startswith("log") for ln in open(os.path.join(tmp, name))]
    n, lat = log_latencies(lines)
    return {"tool": "pgbench", "call": PGBENCH_FUNCTION[mode] + "()", "rate": rate, "clients": f["clients"], "duration_s": f["seconds"], "calls": n,
            "latency_ms": lat, "wal": db_activity(before)[1], "services": services}


def db_alone_line(fl, levels=()):
    """db_alone's line, beside the official-rate level's own figures when there is one."""
    if not fl or not fl.get("latency_ms"):
        return "database alone at the official rate: not measured"
    L, wal = fl["latency_ms"], fl.get("wal") or {}
    rate_lv = next((lv for lv in levels if lv.get("rate")), None)
    return "database alone at the official rate (pgbench, %g %s calls/s over %d connections, no nginx, no replica): p50 %.2f  p99 %.2f  " \
           "max %.1f ms%s%s" % (
               fl["rate"], fl["call"], fl["clients"], L["p50"], L["p99"], L["max"],
               "" if wal.get("flush_ms_mean") is None else "; WAL flush mean %.2f ms" % wal["flush_ms_mean"],
               "" if not rate_lv else "; the stack at %s: p50 %.2f  p99 %.2f  max %.1f ms" % (
                   rate_lv["name"], rate_lv["latency_ms"]["p50"], rate_lv["latency_ms"]["p99"], rate_lv["latency_ms"]["max"]))


def run_pgbench(variant, mix, seconds, tmp):
    path = os.path.join(tmp, "%s.sql" % variant["name"])
    with open(path, "w") as f:
        f.write(pgbench_script(variant, mix))
    c = str(variant["clients"])
    p = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", c, "-j", c, "-T", str(seconds), "-f", path] + PGCONN,
                       text=True, capture_output=True, timeout=seconds + 60)
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError("pgbench %s failed: %s %s" % (variant["name"], p.stdout[-1500:], p.stderr[-1500:]))
    fail = re.search(r"number of failed transactions: (\d+)", p.stdout)
    tps = float(m.group(1))
    return {"tps": round(tps, 1), "calls_per_s": round(tps * variant["calls"], 1), "failed": int(fail.group(1)) if fail else 0}


# --- runs ------------------------------------------------------------------------


def run_dir(date, name):
    d = os.path.join(os.environ.get("BENCH_OUT") or os.path.join(REPO, "reports", "runs"), "%s-%s" % (date.strftime("%Y%m%dT%H%M%SZ"), name))
    os.makedirs(d, exist_ok=True)
    return d


def write_summary(d, s):
    """summary.json, then report.html beside it (reports/tools/report.py)."""
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(s, f, indent=2)
        f.write("\n")
    subprocess.run([sys.executable, os.path.join(REPO, "reports", "tools", "report.py"), os.path.join(d, "summary.json")], check=False)


def archive(s, d, text):
    """Writes the run (its verdicts applied) and prints text(s) and its headline."""
    write_summary(d, s)
    print("\n%s\n" % text(s))
    say(verdict.headline(s))
    say("archived in %s" % os.path.relpath(d, REPO))


def best_levels(levels, p99_ms):
    """(the highest-req/s level with p99 < p99_ms or None, the highest-req/s
    level) among the closed loops: an offered-rate level's req/s is its rate,
    not what the stack can do."""
    closed = [lv for lv in levels if not lv["rate"]]
    ok = [lv for lv in closed if lv["latency_ms"]["p99"] < p99_ms]
    return max(ok, key=lambda lv: lv["rps"]) if ok else None, max(closed, key=lambda lv: lv["rps"])


def rate_checks(levels, mix):
    """The official-rate levels' checks: the offered rate reached, and the
    latency targets at it (targets.official_rate), recorded like the others."""
    t, out = mix["targets"]["official_rate"], []
    for lv in (lv for lv in levels if lv["rate"]):
        ok, share = rate_reached(lv, mix)
        out.append({"name": "%s: req/s >= %d%% of the offered %g" % (lv["name"], round(100 * t["reached"]), lv["rate"]),
                    "passed": ok, "value": share, "limit": t["reached"]})
        out += [{"name": "%s: %s <= %g ms" % (lv["name"], k, t[k + "_ms"]), "passed": lv["latency_ms"][k] <= t[k + "_ms"],
                 "value": lv["latency_ms"][k], "limit": t[k + "_ms"]} for k in ("p50", "p99", "max")]
    return out


def correctness_checks(levels, suffix=""):
    incons = sum(lv["inconsistencies"] for lv in levels)
    errors = sum(lv["errors"] for lv in levels)
    return [{"name": "inconsistencies == 0" + suffix, "passed": incons == 0, "value": incons, "limit": 0},
            {"name": "unexpected answers and socket errors == 0" + suffix, "passed": errors == 0, "value": errors, "limit": 0}]


def table(s):
    hdr = "%-6s %6s %8s %9s %8s %8s %8s %8s %7s %7s %8s  %s" % (
        "level", "conns", "reqs", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "incons", "req/cmt", "cpu s db/api01/api02/nginx  (peak MB)")
    lines = [hdr, "-" * len(hdr)]
    for lv in s["levels"]:
        sv = lv.get("services")
        cpu = "/".join("%.1f" % sv[x]["cpu_s"] for x in SERVICES) if sv else "-"
        mem = "/".join("%.0f" % sv[x]["mem_peak_mb"] for x in SERVICES) if sv else "-"
        L = lv["latency_ms"]
        lines.append("%-6s %6s %8d %9.0f %8.2f %8.2f %8.2f %8.1f %7d %7d %8s  %s  (%s)" % (
            lv["name"], lv["connections"], lv["requests"], lv["rps"], L["p50"], L["p90"], L["p99"], L["max"],
            lv["errors"], lv["inconsistencies"], lv.get("requests_per_commit") or "-", cpu, mem))
    c = s.get("db_ceiling")
    if c:
        lines += ["", "database-only ceiling (pgbench, transacao calls/s): " + ", ".join("%s %.0f" % (v["name"], v["calls_per_s"]) for v in c["variants"]),
                  "ceiling: %.0f calls/s (%s); best end-to-end %.0f req/s = %.0f%% of %s" % (
                      c["tps"], c["variant"], s.get("best_rps") or 0, 100 * (s.get("ceiling_fraction") or 0),
                      "the ceiling" if not c.get("matched") else "%s's %.0f calls/s (%s requests a call%s; the best level's round "
                      "trips: %s)" % (c["matched"]["variant"], c["matched"]["calls_per_s"], c["matched"]["calls"],
                                      "" if c["matched"]["calls"] <= c["matched"]["requests_per_commit"] else ", the fewest of the variants",
                                      c["matched"]["requests_per_commit"]))]
    if s.get("db_alone"):
        lines.append(db_alone_line(s["db_alone"], s["levels"]))
    lines.append("")
    for ch in s["thresholds"]["checks"]:
        lines.append("%-6s %s (value %s, limit %s)" % ("ok" if ch["passed"] else "MISS", ch["name"], ch["value"], ch["limit"]))
    return "\n".join(lines)


def level_line(lv):
    """The progress line printed as each level ends."""
    L, g, ev = lv["latency_ms"], lv.get("generator") or {}, lv.get("limited_by_evidence") or {}
    return "%-6s %8.0f req/s  p50 %6.2f  p99 %6.2f  max %6.1f ms  errors %d  incons %d  stack %s cores, wrk %s cores: limited by %s" % (
        lv["name"], lv["rps"], L["p50"], L["p99"], L["max"], lv["errors"], lv["inconsistencies"],
        "?" if ev.get("stack_cores") is None else "%.2f" % ev["stack_cores"],
        "?" if g.get("cpu_s") is None else "%.2f" % (g["cpu_s"] / (lv.get("services_window_s") or 1)),
        lv.get("limited_by") or "nothing saturated")


def rate_note(specs):
    """The official-rate level's sentence of a run's notes ("" without one)."""
    return "".join("%s: the official peak rate, %g req/s offered by %d connections each waiting a random exponential think time "
                   "(mean %g ms, not in the latencies) before each request, %d x %d s; then " % (
                       x["name"], x["rate"], x["connections"], x["think_ms"], x["repeats"], x["level_s"]) for x in specs if x["rate"])


def rate_line(lv, mix):
    """An official-rate level's offered rate and whether it was reached, printed under its progress line."""
    ok, share = rate_reached(lv, mix)
    return "%-6s offered %g req/s (%d connections, think %g ms): %s" % (
        lv["name"], lv["rate"], lv["connections"], lv["think_ms"], "reached %.0f%%" % (100 * share) if ok else
        "NOT REACHED, %.0f%% of it (under %.0f%%): its latencies are not the official load's" % (
            100 * (share or 0), 100 * mix["targets"]["official_rate"]["reached"]))


def split_line(lv):
    """The level's latency split, printed under its progress line."""
    sp = lv["latency_split"]
    if sp["replicas"] == 0 or sp["replica"]["p50_ms"] is None:
        return "%-6s split: no request in the replicas' metrics (endpoints off or not answering)" % lv["name"]
    f = lambda v: "-" if v is None else "%.2f" % v  # noqa: E731
    wal = lv.get("wal")
    return "%-6s split p50/p99 ms: replica %s/%s, queue %s/%s, db %s/%s, outside %s%s%s" % (
        lv["name"], *(f(sp[k][q]) for k in ("replica", "queue", "db") for q in ("p50_ms", "p99_ms")),
        f(sp["outside_replica_p50_ms"]), "" if not wal else "; WAL flush mean %s ms, %s per commit" % (
            f(wal["flush_ms_mean"]), f(wal["flushes_per_commit"])), "" if sp["replicas"] > 1 else "  (1 replica answered)")


def new_run(envelope):
    """The collectors of one run: the generator's CPU, the wrk slices and the
    phases; verdict_of(level) classifies a level as soon as it is measured
    (for the progress line). start_sampling adds the per-second samplers."""
    return {"t0": time.time(), "gen": series.GeneratorCPU(), "slices": [], "phases": [], "prefix": "",
            "verdict_of": verdict_in(envelope)}


def verdict_in(envelope):
    """What limited a level, judged against this envelope's split."""
    mach = machine()
    return lambda lv: verdict.limited_by({"tool": "wrk", "envelope": envelope, "machine": mach, "levels": [lv]})


def start_sampling(run, stack):
    """Once a second: the services' and the generator's CPU, and the
    replicas' /metrics, the stack's own view (each level's latency split)."""
    run["sampler"] = series.Sampler(cpu_reader(stack, run["gen"])).start()
    run["scrape"] = scrape.Sampler().start()
    return run


def measure_levels(a, mix, cfg, stack, run):
    """Warm-up, then every level of cfg (repeats of 1-second wrk slices).
    Returns the schema levels, each with its generator CPU and verdict."""
    levels = []
    pre = run["prefix"]  # make compare: which side and round
    say("%swarm-up: %d s at 64 connections" % (pre, cfg["warmup_s"]))
    w0 = time.time()
    run_wrk_sliced(mix, 64, cfg["warmup_s"], cfg["threads"], run, pre + "warm-up", cfg["warmup_s"] if a.continuous else 1)
    run["phases"].append({"name": pre + "warm-up", "start_s": round(w0 - run["t0"], 2), "end_s": round(time.time() - run["t0"], 2)})
    time.sleep(1.1)  # as between levels: the metrics sampler's sample before the first level holds none of the warm-up
    for spec in level_specs(mix, cfg):
        name, conns = spec["name"], spec["connections"]
        reps = []
        before, w = db_counters(), stack.window()
        l0, m0, s0 = time.time(), series.machine_busy_s(), time.monotonic()
        for i in range(spec["repeats"]):
            perf = start_perf(spec["level_s"]) if a.perf and i == 0 and name == "c64" else None
            reps.append(run_wrk_sliced(mix, conns, spec["level_s"], cfg["threads"], run, pre + name,
                                       spec["level_s"] if a.continuous else 1, spec["think_ms"]))
            if perf:
                run["perf_note"] = finish_perf(perf)
        s1 = time.monotonic()
        services = stack.measure(w)
        wall = time.time() - l0
        m1 = series.machine_busy_s()
        run["phases"].append({"name": pre + name, "start_s": round(l0 - run["t0"], 2), "end_s": round(l0 + wall - run["t0"], 2)})
        lv = level_entry(name, conns, spec["level_s"], reps, services, spec["rate"], spec["think_ms"])
        lv["services_window_s"] = round(wall, 2)
        lv["machine_busy_s"] = round(m1 - m0, 3) if m0 is not None and m1 is not None else None
        lv["generator"] = {"tool": "wrk", "cpu_s": round(sum(r["generator_cpu_s"] for r in reps), 3),
                           "window_s": round(wall, 2), "threads": min(cfg["threads"], conns)}
        add_stack_side(lv, *db_activity(before), level_split(run, lv, s0, s1))
        split = lv.get("latency_split")
        run["verdict_of"](lv)
        say(pre + level_line(lv))
        if lv["rate"]:
            say(pre + rate_line(lv, mix))
        if split:
            say(pre + split_line(lv))
        levels.append(lv)
        if lv["rate"] and cfg.get("db_alone"):
            time.sleep(1.1)  # idle, as between levels
            a0 = time.time()
            run["db_alone"] = measure_db_alone(cfg, mix, stack)
            if run["db_alone"]:
                run["phases"].append({"name": pre + "pgbench alone", "start_s": round(a0 - run["t0"], 2),
                                      "end_s": round(time.time() - run["t0"], 2)})
                say(pre + db_alone_line(run["db_alone"], [lv]))
    return levels


def measure_ceiling(cfg, mix, stack):
    """The database-only ceiling: each pgbench variant the database can run
    (a fallback only when none before it could), the best in calls/s."""
    variants = []
    with tempfile.TemporaryDirectory() as tmp:
        for v in cfg["pgbench"]:
            fn = PGBENCH_FUNCTION[v["mode"]]
            if v.get("fallback") and variants:
                continue
            if not has_function(fn):
                say("pgbench %s skipped: the database has no %s()" % (v["name"], fn))
                continue
            w = stack.window()
            r = dict(run_pgbench(v, mix, cfg["pgbench_s"], tmp), services=stack.measure(w))
            variants.append(dict({k: x for k, x in v.items() if k != "fallback"}, **r, duration_s=cfg["pgbench_s"]))
            say("pgbench %-10s %2d clients: %8.0f tx/s = %8.0f calls/s  (db cpu %.1f s)" % (
                v["name"], v["clients"], r["tps"], r["calls_per_s"], r["services"]["db"]["cpu_s"] if r["services"] else 0))
    if not variants:
        raise RuntimeError("no pgbench variant could run")
    top = max(variants, key=lambda x: x["calls_per_s"])
    return {"tool": "pgbench", "tps": top["calls_per_s"], "clients": top["clients"], "duration_s": cfg["pgbench_s"],
            "variant": top["name"], "unit": "transacao calls/s", "variants": variants}


def matched_ceiling(ceiling, requests_per_commit):
    """The database-only ceiling at the stack's own batch size: the best
    pgbench variant that settles no more requests per call than the best
    level's round trips did (requests_per_commit), or, when every variant
    settles more, the best of those that settle the fewest. The overall best
    (100 requests a call) is a batch the stack never forms, so measured
    against it the stack always looks far off. None when the level's commits
    were not counted: then the overall ceiling is used."""
    vs = [v for v in ceiling.get("variants") or [] if v.get("calls_per_s") and v.get("calls")]
    if not vs or not requests_per_commit:
        return None
    fit = [v for v in vs if v["calls"] <= requests_per_commit]
    if not fit:
        least = min(v["calls"] for v in vs)
        fit = [v for v in vs if v["calls"] == least]
    top = max(fit, key=lambda v: v["calls_per_s"])
    return {"variant": top["name"], "calls_per_s": top["calls_per_s"], "calls": top["calls"],
            "requests_per_commit": requests_per_commit}


# --- the stack's own view (observe/scrape.py) ----------------------------------------


def server_series(samples, start_unix, wall_minus_mono=None):
    """The optional `server_series` of summary.json from observe/scrape.py's
    samples [(monotonic s, {replica: parsed /metrics or None})]: the stack's
    own view of the run, t in seconds from start_unix (the CPU series' t0).
    Returns (series or None, a sentence for the notes or None). None when no
    replica's endpoint ever answered (METRICS_LISTEN off, a tree without
    metrics): nothing is invented. In an interval where a replica did not
    answer, the stack-wide figures are null (a partial sum would read as a
    real drop) and `replicas` says how many answered."""
    names = sorted({r for _, by in samples for r in by})
    addrs = ", ".join("%s %s:%d" % (r, *scrape.REPLICAS[r]) if r in scrape.REPLICAS else r for r in names)
    what = "Server-side series (observe/scrape.py): "
    if not any(v is not None for _, by in samples for v in by.values()):
        return None, what + ("not recorded, the replicas' metrics endpoints (%s) never answered (METRICS_LISTEN off, "
                             "e.g. API_ENV=METRICS_LISTEN=, or a tree without metrics)." % (addrs or "none sampled"))
    if len(samples) < 2:
        return None, what + "not recorded, fewer than two samples."
    raw = scrape.series(samples)
    t0 = samples[0][0] + (time.time() - time.monotonic() if wall_minus_mono is None else wall_minus_mono) - start_unix
    seen = [sum(1 for r in names if a.get(r) is not None and b.get(r) is not None) for (_, a), (_, b) in zip(samples, samples[1:])]
    full = [n == len(names) for n in seen]
    col = lambda key, digits=3: [None if not ok or v is None else round(v, digits) for v, ok in zip(raw[key], full)]  # noqa: E731
    s = {"source": "observe/scrape.py: GET /metrics of %s, once a second" % addrs,
         "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_unix)),
         "t": [round(t + t0, 2) for t in raw["t"]], "dt": [round(b[0] - a[0], 3) for a, b in zip(samples, samples[1:])],
         "replicas": seen, "rps": col("requests_per_s", 1), "p99_ms": col("p99_ms"), "writes_per_commit": col("writes_per_commit", 2),
         "queued": col("queued", 0), "commits_per_s": col("commits_per_s", 1), "errors_per_s": col("errors_per_s", 2),
         "cpu": {r: [None if v is None else round(v, 3) for v in vs] for r, vs in raw["cpu"].items()}, "missed": raw["missed"]}
    partial = full.count(False)
    note = what + ("in %d of %d intervals a replica's metrics endpoint did not answer; the stack-wide figures are null there "
                   "(replicas: how many answered)." % (partial, len(full)))
    return s, note if partial else None


# Where a level's latency went, from the replicas' histograms (api/src/metrics.c):
# a request's whole time inside a replica, its wait there before its round trip
# was sent, and the round trips themselves (send to last answer).
SPLIT = (("replica", "rinha_http_request_duration_seconds"), ("queue", "rinha_db_queue_wait_seconds"),
         ("db", "rinha_db_round_trip_seconds"))


def latency_split(samples, t0, t1, client):
    """A level's `latency_split` (reports/SCHEMA.md) from observe/scrape.py's
    samples [(monotonic s, {replica: parsed /metrics or None})] and the
    level's window [t0, t1] (monotonic s): each histogram's increments between
    the two samples that bracket the window (the last taken at or before t0,
    the first at or after t1), summed over the replicas that answered both (a
    replica whose counters went back, i.e. restarted, is left out), and their
    p50 and p99 interpolated inside the buckets (scrape.quantile). client: the
    level's latency_ms (wrk's own). No sample, no replica or no request:
    nulls, never a guess."""
    ta, a = next(((t, by) for t, by in reversed(samples) if t <= t0), (None, {}))
    tb, b = next(((t, by) for t, by in samples if t >= t1), (None, {}))
    hists, used = {key: {} for key, _ in SPLIT}, 0
    for r in sorted(a):
        if a[r] is None or b.get(r) is None:
            continue
        inc = {}
        for key, name in SPLIT:
            lo = scrape.buckets(a[r], name)
            inc[key] = {le: v - lo.get(le, 0.0) for le, v in scrape.buckets(b[r], name).items()}
        if any(v < 0 for h in inc.values() for v in h.values()):
            continue
        used += 1
        for key, h in inc.items():
            for le, v in h.items():
                hists[key][le] = hists[key].get(le, 0.0) + v

    def ms(q, h):
        v = scrape.quantile(q, h)
        return None if v is None else round(v * 1e3, 3)

    out = {"client": {"p50_ms": client.get("p50"), "p99_ms": client.get("p99")}}
    out.update({key: {"p50_ms": ms(0.5, hists[key]), "p99_ms": ms(0.99, hists[key])} for key, _ in SPLIT})
    return finish_split(out, replicas=used, window_s=round(tb - ta, 2) if used else None)


def finish_split(out, replicas, window_s):
    c, r = out["client"]["p50_ms"], out["replica"]["p50_ms"]
    return dict(out, outside_replica_p50_ms=None if c is None or r is None else round(c - r, 3), replicas=replicas, window_s=window_s)


def median_split(splits, latency_ms):
    """make compare's rounds of a level as one split: the median of each
    figure over the rounds (nulls left out), the client's from the rounds'
    combined latency_ms; window_s their sum, replicas the fewest."""
    def med(xs):
        xs = [x for x in xs if x is not None]
        return round(statistics.median(xs), 3) if xs else None

    out = {"client": {"p50_ms": latency_ms.get("p50"), "p99_ms": latency_ms.get("p99")}}
    out.update({key: {q: med(sp[key][q] for sp in splits) for q in ("p50_ms", "p99_ms")} for key, _ in SPLIT})
    windows = [sp["window_s"] for sp in splits if sp.get("window_s") is not None]
    return finish_split(out, replicas=min(sp["replicas"] for sp in splits), window_s=round(sum(windows), 2) if windows else None)


def add_stack_side(lv, commits, wal, split):
    """The stack's side of a level, for make bench's levels and a k6 run's
    alike: db_commits and requests_per_commit, the WAL flushes, and the
    latency split with the level's own latency_ms as the client's."""
    lv["db_commits"] = commits
    lv["requests_per_commit"] = round(lv["requests"] / commits, 1) if commits else None
    if wal:
        lv["wal"] = wal
    if split:
        lat = lv.get("latency_ms") or {}
        split["client"] = {"p50_ms": lat.get("p50"), "p99_ms": lat.get("p99")}
        lv["latency_split"] = finish_split(split, replicas=split["replicas"], window_s=split["window_s"])


def level_split(run, lv, t0, t1):
    """The level's latency_split from the run's metrics sampler (None when the
    run has none), once the sampler has a sample at or after t1 (its next
    tick: the caller already paused 1.1 s; at most 2 s more)."""
    sampler = run.get("scrape")
    if sampler is None:
        return None
    end = time.monotonic() + 2.0
    while not any(t >= t1 for t, _ in sampler.samples[-2:]) and time.monotonic() < end:
        time.sleep(0.05)
    return latency_split(list(sampler.samples), t0, t1, lv["latency_ms"])


def finish_scrape(run, start_unix):
    """Stops the run's metrics sampler (while the stack is still up) and
    returns (server_series, note); never raises: a run is not failed for it."""
    if run.get("scrape") is None:
        return None, None
    try:
        run["scrape"].stop()
        return server_series(run["scrape"].samples, start_unix)
    except Exception as e:  # noqa: BLE001  (the series is optional; the run's figures stand without it)
        return None, "Server-side series (observe/scrape.py): not recorded, %s: %s." % (type(e).__name__, e)


def add_note(s, note):
    if note:
        s["notes"] = ((s.get("notes") or "").rstrip() + " " + note).strip()


# --- make bench ------------------------------------------------------------------------


def cmd_bench(a):
    mix = load_mix()
    cfg = mix["bench"]["quick" if a.quick else "default"]
    envelope = one_cgroup_envelope(load_envelope()) if a.one_cgroup else load_envelope()
    for tool, pkg in (("wrk", "wrk"), ("pgbench", "postgresql-client-15")):
        if not shutil.which(tool):
            die("%s not found (make bench installs it: apt-get install %s)" % (tool, pkg))
    commit, dirty = git_meta(a.rev_commit)
    date = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    stack = Stack(not a.no_confine, envelope, split=not a.one_cgroup)
    t0 = time.time()
    try:
        stack.start()
        run = start_sampling(new_run(envelope), stack)
        levels = measure_levels(a, mix, cfg, stack, run)
        c0 = time.time()
        ceiling = measure_ceiling(cfg, mix, stack)
        run["phases"].append({"name": "pgbench", "start_s": round(c0 - run["t0"], 2), "end_s": round(time.time() - run["t0"], 2)})
        run["sampler"].stop()
        timeseries = series.build("wrk, 1-second slices", series.wrk_points(run["slices"]), cpu_series(run["sampler"], run["t0"]),
                                  run["phases"], run["t0"])
        srv, srv_note = finish_scrape(run, run["t0"])
    except (RuntimeError, OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        die(str(e))  # the stack stops on the way out
    finally:
        stack.stop()
    say("measured in %.0f s" % (time.time() - t0))

    t = mix["targets"]
    best, best_any = best_levels(levels, t["p99_ms"])
    ceiling["matched"] = matched_ceiling(ceiling, best_any.get("requests_per_commit"))
    against = ceiling["matched"]["calls_per_s"] if ceiling["matched"] else ceiling["tps"]
    frac = best_any["rps"] / against if against else None
    correct = correctness_checks(levels)
    checks = [{"name": "req/s >= %d with p99 < %g ms (best such level)" % (t["rps"], t["p99_ms"]),
               "passed": bool(best and best["rps"] >= t["rps"]), "value": best["rps"] if best else None, "limit": t["rps"]}] + correct + [
              {"name": "end-to-end >= %d%% of the database-only ceiling at its batch size" % round(t["ceiling_fraction"] * 100),
               "passed": bool(frac is not None and frac >= t["ceiling_fraction"]), "value": round(frac, 3) if frac else None,
               "limit": t["ceiling_fraction"]}] + rate_checks(levels, mix)
    perf_note = run.get("perf_note")
    s = {
        "schema": 1, "tool": "wrk", "tool_version": wrk_version(), "scenario": "bench-mix",
        "commit": commit, "dirty": dirty, "date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(), "envelope": dict(envelope, enforced=stack.enforced, sched_policy=sched_policy(TREE)),
        "levels": levels, "db_ceiling": ceiling, **({"db_alone": run["db_alone"]} if run.get("db_alone") else {}),
        "thresholds": {"passed": all(c["passed"] for c in checks), "checks": checks},
        "notes": ("make bench%s: wrk %d threads, closed loop, %d s warm-up, then %s%d x %d s per level, %s (medians of the repeats' rates and "
                  "latencies, sums of counts); load generator outside the envelope. Ceiling: the best pgbench variant, in "
                  "transacao calls/s; the end-to-end fraction is taken against the best variant that settles no more requests "
                  "per call than the best level's round trips (db_ceiling.matched); the end-to-end figure also contains the ~3%% "
                  "statements. Measured: %s.%s") % (
            " quick" if a.quick else "", cfg["threads"], cfg["warmup_s"], rate_note(level_specs(mix, cfg)), cfg["repeats"], cfg["level_s"],
            "each repeat one wrk run (--continuous)" if a.continuous else
            "each repeat as 1-second wrk slices (its latency percentiles merged from the slices' percentile grids)",
            ("a clean export of commit " + commit) if a.rev_commit else "the working tree",
            (" " + perf_note) if perf_note else ""),
        "mode": "quick" if a.quick else "default",
        "best_rps": best_any["rps"],
        "ceiling_fraction": round(frac, 3) if frac else None,
        "generator": {"tool": "wrk", "cpu_s": round(sum(lv["generator"]["cpu_s"] for lv in levels), 3),
                      "window_s": round(sum(lv["services_window_s"] for lv in levels), 2), "threads": cfg["threads"]},
        "timeseries": timeseries,
        "server_series": srv,
    }
    add_note(s, srv_note)
    archive(verdict.apply(s), run_dir(date, commit + ("-one-cgroup" if a.one_cgroup else "")), table)
    return 0 if all(c["passed"] for c in correct) else 1


# --- perf (optional) ----------------------------------------------------------------


def start_perf(seconds):
    if not shutil.which("perf"):
        return None
    f = tempfile.NamedTemporaryFile(prefix="rinha-perf-", suffix=".data", delete=False)
    f.close()
    return subprocess.Popen(["perf", "record", "-a", "-g", "-F", "499", "-o", f.name, "--", "sleep", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), f.name


def finish_perf(perf):
    p, path = perf
    p.wait()
    r = subprocess.run(["perf", "report", "-i", path, "--no-children", "--sort", "comm,dso", "--stdio", "-g", "none",
                        "--percent-limit", "2"], text=True, capture_output=True)
    keep = [ln.strip() for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")][:12]
    with open(var("log", "perf-report.txt"), "w") as f:
        f.write(r.stdout)
    os.unlink(path)
    return "perf (c64, whole machine, comm/dso over 2%): " + "; ".join(re.sub(r"\s+", " ", k) for k in keep)


# --- k6 -----------------------------------------------------------------------------------


K6_HELP = """k6 is not installed (it is not packaged by Debian nor npm).
Get it from Grafana: https://grafana.com/docs/k6/latest/set-up/install-k6/
  - Debian/Ubuntu: add the repository https://dl.k6.io/deb (key: https://dl.k6.io/key.gpg), then apt-get install k6
  - or a static binary: https://github.com/grafana/k6/releases (k6-vX.Y.Z-linux-amd64.tar.gz), put k6 on the PATH
Then: make stress (or bench/bench.py k6 rinha for the official scenario)."""


def k6_timeseries(s, csv_path, mix, run, k6_start):
    """The run's time series from k6's CSV output (per-second req/s,
    latency percentiles, errors), its phases, and the sampled CPU."""
    cpu = cpu_series(run["sampler"], k6_start)
    if not os.path.exists(csv_path):
        return series.build("k6 (no CSV output found)", [], cpu, [], k6_start)
    expected = {k: set(v) for k, v in mix["expected_status"].items()}
    pts, csv_t0, spans = series.k6_csv_points(csv_path, expected, t0=math.floor(k6_start))
    phases = series.k6_phases(s.get("scenario"), spans, s.get("time_scale") or 1, mix)
    return series.build("k6 --out csv, 1-second buckets", pts, cpu, phases, csv_t0)


def cmd_k6(a):
    k6 = shutil.which("k6")
    if not k6:
        print(K6_HELP, file=sys.stderr)
        return 2
    mix = load_mix()
    envelope = load_envelope()
    commit, dirty = git_meta(a.rev_commit)
    date = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    version = (out([k6, "version"]).split() + [None, None])[1]
    d = run_dir(date, commit)
    # k6's own files (its per-request CSV, its dashboard when asked for) stay
    # in var/k6/: the archive holds this project's summary.json and report.
    scratch = var("k6", os.path.basename(d))
    os.makedirs(scratch, exist_ok=True)
    csv_path = os.path.join(scratch, "k6-metrics.csv.gz")
    env = dict(os.environ, BASE_URL=URL, SUMMARY_PATH=os.path.join(d, "summary.json"), K6_VERSION=version or "",
               RUN_COMMIT=commit, RUN_DIRTY="true" if dirty else "false", RUN_DATE=date.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if os.environ.get("K6_DASHBOARD") == "1":  # costs the generator CPU: opt-in
        env.update(K6_WEB_DASHBOARD="true", K6_WEB_DASHBOARD_EXPORT=os.path.join(scratch, "k6-dashboard.html"),
                   K6_WEB_DASHBOARD_OPEN="false", K6_WEB_DASHBOARD_PORT=os.environ.get("K6_WEB_DASHBOARD_PORT", "-1"))
    # K6_CSV=0: no per-request CSV (it costs k6 CPU; the run then has no time series).
    csv_out = [] if os.environ.get("K6_CSV") == "0" else ["--out", "csv=" + csv_path]
    stack = Stack(not a.no_confine, envelope)
    try:
        stack.start()
        run = start_sampling(new_run(envelope), stack)
        w = stack.window()
        t0, m0 = time.time(), series.machine_busy_s()
        before, s0 = db_counters(), time.monotonic()
        p = subprocess.Popen([k6, "run"] + csv_out + a.k6_args + [os.path.join(REPO, "k6", a.script + ".js")], env=env)
        run["gen"].started(p.pid)
        rc = p.wait()
        s1 = time.monotonic()
        gen_cpu = run["gen"].finished()
        services = stack.measure(w)
        wall = time.time() - t0
        m1 = series.machine_busy_s()
        # The stack's side of the run, as make bench records it per level:
        # commits and WAL flushes, and where the latency went inside the
        # replicas (k6's own percentiles are added once its summary is read).
        commits, wal = db_activity(before)
        split = level_split(run, {"latency_ms": {}}, s0, s1)
        run["sampler"].stop()
        srv, srv_note = finish_scrape(run, t0)
    finally:
        stack.stop()
    try:
        with open(os.path.join(d, "summary.json")) as f:
            s = json.load(f)
    except OSError:
        die("k6 wrote no summary (exit %d)" % rc, 1)
    s["tool_version"] = s.get("tool_version") or version
    s["machine"] = machine()
    s["envelope"] = dict(envelope, enforced=stack.enforced, sched_policy=sched_policy(TREE))
    s["generator"] = dict(s.get("generator") or {"tool": "k6"}, cpu_s=round(gen_cpu, 3), window_s=round(wall, 2))
    if s.get("levels"):
        lv = s["levels"][0]
        lv.update(services=services, services_window_s=round(wall, 1),
                  machine_busy_s=round(m1 - m0, 3) if m0 is not None and m1 is not None else None)
        add_stack_side(lv, commits, wal, split)
        if lv.get("latency_split"):
            say(split_line(dict(lv, name=lv.get("name") or "k6")))
    s["timeseries"] = k6_timeseries(s, csv_path, mix, run, t0)
    s["server_series"] = srv
    add_note(s, srv_note)
    verdict.apply(s)
    if s.get("limited_by") == "generator":  # the script's notes cannot know whose ceiling it measured
        s["notes"] = (s.get("notes") or "") + ". GENERATOR-BOUND: the rates above are the load generator's ceiling, not the stack's (%s)" % (
            s["limited_by_evidence"]["rule"])
    archive(s, d, lambda s: "k6 exit %d; k6's own output in %s" % (rc, os.path.relpath(scratch, REPO)))
    return rc


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--no-confine", action="store_true", help="no cgroups (envelope not enforced)")
    common.add_argument("--continuous", action="store_true",
                        help="each repeat as one wrk run (as before 1-second slices): one time-series point per repeat")
    common.add_argument("--perf", action="store_true", help="perf record -a during the first c64 run")
    b = sub.add_parser("bench", parents=[common], help="wrk levels + pgbench ceiling")
    b.add_argument("--quick", action="store_true", help="the ~25 s CI variant")
    b.add_argument("--one-cgroup", action="store_true",
                   help="the whole stack in one cgroup of 1.5 CPU / 550 MB, no per-service split (compose.yml's split is the default)")
    b.add_argument("--rev", help="measure a clean export of this commit (e.g. HEAD) instead of the working tree")
    c = sub.add_parser("compare", parents=[common], help="two commits interleaved (A B A B ...), same envelope and levels: ratios B/A")
    c.add_argument("A", help="the baseline commit (any git revision)")
    c.add_argument("B", help="the commit compared with it")
    c.add_argument("--quick", action="store_true", help="one short level, two rounds (tests)")
    c.add_argument("--rounds", type=int, help="rounds of A then B (default: compare.<mode>.rounds in k6/mix.json)")
    c.add_argument("--levels", help="only these levels, comma-separated (e.g. r340 or r340,c64; default: all of the mode)")
    k = sub.add_parser("k6", help="run k6/<script>.js against the confined stack")
    k.add_argument("script", choices=["rinha", "stress"])
    k.add_argument("--no-confine", action="store_true")
    k.add_argument("--rev", help="measure a clean export of this commit instead of the working tree")
    k.add_argument("k6_args", nargs=argparse.REMAINDER, help="extra arguments for k6 run")
    a = p.parse_args()
    if os.geteuid() != 0:
        die("run as root (the stack runs PostgreSQL as postgres; cgroups need root)")
    # One stack at a time on this machine (fixed :9999 and /run/rinha).
    lock = open(LOCK, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say("waiting for another stack user (%s)" % LOCK)
        fcntl.flock(lock, fcntl.LOCK_EX)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    global TREE
    a.rev_commit = None
    try:
        if a.cmd == "compare":
            import compare  # noqa: E402  (imports this module)
            sys.exit(compare.cmd_compare(a))
        if a.rev:
            TREE, a.rev_commit = export_rev(a.rev)
    except (RuntimeError, OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        die(str(e))
    sys.exit(cmd_bench(a) if a.cmd == "bench" else cmd_k6(a))


if __name__ == "__main__":
    main()
