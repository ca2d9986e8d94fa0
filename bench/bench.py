#!/usr/bin/python3
"""The local benchmark and the k6 runner, on the native stack confined to the
Rinha envelope (1.5 CPU / 550MB, split per service as in compose.yml).

  bench/bench.py bench [--quick] [--no-confine] [--perf]
      wrk with bench/mix.lua at a few concurrency levels, then the
      database-only ceiling with pgbench; a table, and the run archived in
      reports/runs/<UTC timestamp>-<short commit>/ (summary.json, report.html).
  bench/bench.py k6 rinha|stress [k6 run args...]
      the same confined stack under k6/rinha.js or k6/stress.js; the summary
      of the script plus the machine, envelope and per-service CPU and memory.

Every parameter of the mix and of the levels comes from k6/mix.json; the
split of the envelope from compose.yml (services.*.deploy.resources.limits).
Environment: API_BIN (server binary, as scripts/stack.sh), BENCH_OUT (runs
folder, default reports/runs), BENCH_STACK_ENV (extra API_ENV for replicas).
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
import threading
import time

from runinfo import compose_limits, machine
import series
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reports", "tools"))
import verdict  # noqa: E402  (reports/tools: the site and reports apply the same rules)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "observe"))
import scrape  # noqa: E402  (observe/scrape.py: the replicas' /metrics, once a second)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The measured tree: the working tree, or with --rev a clean export of a
# commit in var/bench-src/<commit>/ (its server, db/, nginx/, stack.sh and
# compose.yml; the load definitions and tools stay this tree's).
TREE = REPO
VAR = os.path.join(TREE, "var")
STACK = os.path.join(TREE, "scripts", "stack.sh")


def use_tree(tree):
    global TREE, VAR, STACK
    TREE, VAR, STACK = tree, os.path.join(tree, "var"), os.path.join(tree, "scripts", "stack.sh")


def export_rev(rev, keep=()):
    """Exports and builds commit `rev`; returns (tree, short commit)."""
    commit = out(["git", "-C", REPO, "rev-parse", "--short=7", rev + "^{commit}"])
    tree = os.path.join(REPO, "var", "bench-src", commit)
    # Keep only the exports measured now (the stack lock is held): this one
    # and those in keep (make compare's other side).
    for old in os.listdir(os.path.dirname(tree)) if os.path.isdir(os.path.dirname(tree)) else []:
        if old != commit and old not in keep:
            shutil.rmtree(os.path.join(os.path.dirname(tree), old), ignore_errors=True)
    if not os.path.exists(os.path.join(tree, "build", "rinha-api")):
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        say("exporting %s to %s and building it" % (commit, os.path.relpath(tree, REPO)))
        archive = subprocess.Popen(["git", "-C", REPO, "archive", commit], stdout=subprocess.PIPE)
        run(["tar", "-x", "-C", tree], stdin=archive.stdout)
        if archive.wait() != 0:
            raise RuntimeError("git archive %s failed" % commit)
        run(["make", "-C", tree, "--no-print-directory", "all"], stdout=subprocess.DEVNULL)
    return tree, commit
LOCK = "/tmp/rinha-stack.lock"
URL = "http://127.0.0.1:9999"
PGCONN = ["-h", "/run/rinha", "-U", "rinha", "-d", "rinha"]
SERVICES = ["db", "api01", "api02", "nginx"]


def say(*a):
    print("bench:", *a, flush=True)


def die(msg, code=2):
    print("bench: error:", msg, file=sys.stderr, flush=True)
    sys.exit(code)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def out(cmd):
    return subprocess.run(cmd, check=True, text=True, capture_output=True).stdout.strip()


# --- configuration -------------------------------------------------------------


def load_clients(path):
    """db/clientes.csv (header id,limite): the one client table, the seed's."""
    with open(path) as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["id", "limite"]:
        raise ValueError("%s: expected the header id,limite" % path)
    return [{"id": int(r[0]), "limite": int(r[1])} for r in rows[1:] if r]


def load_mix():
    """k6/mix.json plus the client table of the measured tree's seed (a
    commit older than db/clientes.csv: this tree's)."""
    with open(os.path.join(REPO, "k6", "mix.json")) as f:
        mix = json.load(f)
    path = os.path.join(TREE, "db", "clientes.csv")
    mix["clients"] = load_clients(path if os.path.exists(path) else os.path.join(REPO, "db", "clientes.csv"))
    return mix


def load_envelope():
    """The per-service split from compose.yml: {svc: {cpus, memory_mb}}."""
    try:
        limits = compose_limits(os.path.join(TREE, "compose.yml"))
    except ImportError:
        die("python3-yaml is missing (apt-get install python3-yaml)")
    services = {n: v for n, v in limits.items() if v["cpus"] is not None and v["memory_mb"] is not None}
    missing = [s for s in SERVICES if s not in services]
    if missing:
        die("compose.yml has no deploy.resources.limits for %s" % ", ".join(missing))
    return {
        "cpus": round(sum(s["cpus"] for s in services.values()), 3),
        "memory_mb": round(sum(s["memory_mb"] for s in services.values()), 1),
        "services": services,
    }


def git_meta(rev_commit=None):
    if rev_commit:
        return rev_commit, False
    try:
        commit = out(["git", "-C", REPO, "rev-parse", "--short=7", "HEAD"])
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown", None
    # Dirty: uncommitted changes to what is measured (the server, database,
    # proxy, stack and the load definitions), not to reports or docs.
    paths = ["api", "db", "nginx", "compose.yml", "scripts/stack.sh", "k6", "bench"]
    st = out(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--"] + paths)
    return commit, bool(st)


# --- cgroups --------------------------------------------------------------------


class Cgroups:
    """One cgroup per service under a parent holding the whole envelope,
    created below this process's own cgroup (v1: in the cpu, cpuacct and
    memory hierarchies; v2: in the unified hierarchy)."""

    def __init__(self, envelope):
        self.env = envelope
        self.kind = None
        self.dirs = {}  # controller -> parent dir (v1) / "unified" -> parent dir (v2)
        self.peak = {s: 0 for s in SERVICES}
        self.pss = {s: 0 for s in SERVICES}
        self._stop = threading.Event()
        self._sampler = None

    @staticmethod
    def _mounts():
        with open("/proc/mounts") as f:
            return [line.split() for line in f]

    @staticmethod
    def _own(controller):
        with open("/proc/self/cgroup") as f:
            for line in f:
                hid, ctrls, path = line.rstrip("\n").split(":", 2)
                if controller is None and hid == "0":
                    return path
                if controller is not None and controller in ctrls.split(","):
                    return path
        return "/"

    def setup(self):
        name = "rinha-bench-%d" % os.getpid()
        mounts = self._mounts()
        v2root = next((m[1] for m in mounts if m[2] == "cgroup2" and m[1] == "/sys/fs/cgroup"), None)
        v1 = {}
        for m in mounts:
            if m[2] == "cgroup":
                for opt in m[3].split(","):
                    if opt in ("cpu", "cpuacct", "memory"):
                        v1[opt] = m[1]
        if all(c in v1 for c in ("cpu", "cpuacct", "memory")):
            self.kind = "cgroup-v1"
            for c in ("cpu", "cpuacct", "memory"):
                base = os.path.join(v1[c] + self._own(c).rstrip("/"), name)
                os.makedirs(base, exist_ok=True)
                self.dirs[c] = base
                for s in SERVICES:
                    os.makedirs(os.path.join(base, s), exist_ok=True)
            self._limit_v1(self.dirs["cpu"], self.dirs["memory"], self.env["cpus"], self.env["memory_mb"])
            for s in SERVICES:
                lim = self.env["services"][s]
                self._limit_v1(os.path.join(self.dirs["cpu"], s), os.path.join(self.dirs["memory"], s), lim["cpus"], lim["memory_mb"])
        elif v2root:
            self.kind = "cgroup-v2"
            # A v2 cgroup cannot both hold processes and delegate controllers,
            # so the envelope hangs from the root (or this process's cgroup when
            # that one is empty of other processes, e.g. in a container).
            base = os.path.join(v2root, name)
            os.makedirs(base, exist_ok=True)
            self.dirs["unified"] = base
            self._write(os.path.join(v2root, "cgroup.subtree_control"), "+cpu +memory")
            self._write(os.path.join(base, "cgroup.subtree_control"), "+cpu +memory")
            self._write(os.path.join(base, "cpu.max"), "%d 100000" % round(self.env["cpus"] * 100000))
            self._write(os.path.join(base, "memory.max"), str(int(self.env["memory_mb"] * 2**20)))
            for s in SERVICES:
                d = os.path.join(base, s)
                os.makedirs(d, exist_ok=True)
                lim = self.env["services"][s]
                self._write(os.path.join(d, "cpu.max"), "%d 100000" % round(lim["cpus"] * 100000))
                self._write(os.path.join(d, "memory.max"), str(int(lim["memory_mb"] * 2**20)))
                self._write(os.path.join(d, "memory.swap.max"), "0", required=False)
        else:
            raise OSError("no cgroup v1 (cpu, cpuacct, memory) nor v2 hierarchy found")

    def _limit_v1(self, cpu_dir, mem_dir, cpus, memory_mb):
        self._write(os.path.join(cpu_dir, "cpu.cfs_period_us"), "100000")
        self._write(os.path.join(cpu_dir, "cpu.cfs_quota_us"), str(round(cpus * 100000)))
        self._write(os.path.join(mem_dir, "memory.limit_in_bytes"), str(int(memory_mb * 2**20)))
        # Charges follow a moved process (deprecated on recent kernels: best effort).
        self._write(os.path.join(mem_dir, "memory.move_charge_at_immigrate"), "3", required=False)

    @staticmethod
    def _write(path, value, required=True):
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError:
            if required:
                raise

    @staticmethod
    def _read(path):
        with open(path) as f:
            return f.read()

    def move(self, svc, pid):
        paths = [os.path.join(d, svc, "cgroup.procs") for d in self.dirs.values()]
        for p in paths:
            self._write(p, str(pid))

    def _svc_dir(self, c, s):
        return os.path.join(self.dirs[c], s)

    def pids(self, svc):
        key = "cpu" if self.kind == "cgroup-v1" else "unified"
        try:
            return [int(x) for x in self._read(os.path.join(self._svc_dir(key, svc), "cgroup.procs")).split()]
        except OSError:
            return []

    def cpu_ns(self, s):
        if self.kind == "cgroup-v1":
            return int(self._read(os.path.join(self._svc_dir("cpuacct", s), "cpuacct.usage")))
        for line in self._read(os.path.join(self._svc_dir("unified", s), "cpu.stat")).splitlines():
            k, v = line.split()
            if k == "usage_usec":
                return int(v) * 1000
        return 0

    def throttled_ns(self, s):
        if self.kind == "cgroup-v1":
            path, key, mult = os.path.join(self._svc_dir("cpu", s), "cpu.stat"), "throttled_time", 1
        else:
            path, key, mult = os.path.join(self._svc_dir("unified", s), "cpu.stat"), "throttled_usec", 1000
        try:
            for line in self._read(path).splitlines():
                k, v = line.split()
                if k == key:
                    return int(v) * mult
        except OSError:
            pass
        return 0

    def mem_now(self, s):
        if self.kind == "cgroup-v1":
            return int(self._read(os.path.join(self._svc_dir("memory", s), "memory.usage_in_bytes")))
        return int(self._read(os.path.join(self._svc_dir("unified", s), "memory.current")))

    def _kernel_peak(self, s):
        try:
            if self.kind == "cgroup-v1":
                return int(self._read(os.path.join(self._svc_dir("memory", s), "memory.max_usage_in_bytes")))
            return int(self._read(os.path.join(self._svc_dir("unified", s), "memory.peak")))
        except (OSError, ValueError):
            return 0

    def pss_now(self, s):
        """The proportional set size of the service's processes (shared
        memory split among its users): what the processes hold, wherever it
        was charged."""
        total = 0
        for pid in self.pids(s):
            try:
                with open("/proc/%d/smaps_rollup" % pid) as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except (OSError, ValueError):
                pass
        return total

    def _sample(self):
        n = 0
        while not self._stop.wait(0.1):
            n += 1
            for s in SERVICES:
                try:
                    self.peak[s] = max(self.peak[s], self.mem_now(s))
                    if n % 5 == 0:
                        self.pss[s] = max(self.pss[s], self.pss_now(s))
                except (OSError, ValueError):
                    pass

    def start_window(self):
        """Starts measuring a window: CPU counters and the memory peak."""
        self.peak = {s: 0 for s in SERVICES}
        self.pss = {s: self.pss_now(s) for s in SERVICES}
        for s in SERVICES:
            if self.kind == "cgroup-v1":
                self._write(os.path.join(self._svc_dir("memory", s), "memory.max_usage_in_bytes"), "0", required=False)
            self.peak[s] = self.mem_now(s)
        self._stop.clear()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return {s: (self.cpu_ns(s), self.throttled_ns(s)) for s in SERVICES}

    def end_window(self, start):
        self._stop.set()
        self._sampler.join()
        res = {}
        for s in SERVICES:
            peak = max(self.peak[s], self.mem_now(s))
            if self.kind == "cgroup-v1":
                peak = max(peak, self._kernel_peak(s))
            res[s] = {
                "cpu_s": round((self.cpu_ns(s) - start[s][0]) / 1e9, 3),
                "throttled_s": round((self.throttled_ns(s) - start[s][1]) / 1e9, 3),
                "mem_peak_mb": round(peak / 2**20, 1),
                "pss_peak_mb": round(max(self.pss[s], self.pss_now(s)) / 2**20, 1),
            }
        return res

    def verify(self):
        """Every process of the stack is where it should be."""
        return {s: len(self.pids(s)) for s in SERVICES}

    def teardown(self):
        for c, base in self.dirs.items():
            parent = os.path.dirname(base)
            for s in SERVICES + [""]:
                d = os.path.join(base, s) if s else base
                if not os.path.isdir(d):
                    continue
                # Anything still inside goes back to where we came from.
                try:
                    for pid in self._read(os.path.join(d, "cgroup.procs")).split():
                        self._write(os.path.join(parent, "cgroup.procs"), pid, required=False)
                except OSError:
                    pass
                for _ in range(50):
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)
                else:
                    say("could not remove cgroup %s" % d)
        self.dirs = {}


def children(ppid):
    kids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                stat = f.read()
            if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
                kids.append(int(p))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def read_pid(path, first_line=True):
    with open(path) as f:
        return int(f.readline().strip())


# --- the stack ----------------------------------------------------------------


class Stack:
    def __init__(self, confine, envelope):
        self.cg = Cgroups(envelope) if confine else None
        self.enforced = "none"
        self.up = False

    def start(self):
        env = dict(os.environ)
        extra = os.environ.get("BENCH_STACK_ENV")
        if extra:
            env["API_ENV"] = (env.get("API_ENV", "") + " " + extra).strip()
        if TREE != REPO:
            env.pop("API_BIN", None)  # the exported tree's own build
        run([STACK, "start"], env=env)
        self.up = True
        if self.cg is None:
            return
        self.cg.setup()
        self.enforced = self.cg.kind
        # The postmaster first, so that every backend forked from now on is
        # born inside; then the backends that already exist (the replicas'
        # connections, the background workers).
        pm = read_pid(os.path.join(VAR, "pgdata", "postmaster.pid"))
        self.cg.move("db", pm)
        for _ in range(2):
            for k in children(pm):
                self.cg.move("db", k)
        for svc in ("api01", "api02"):
            self.cg.move(svc, read_pid(os.path.join(VAR, svc + ".pid")))
        ng = read_pid(os.path.join(VAR, "nginx.pid"))
        self.cg.move("nginx", ng)
        for k in children(ng):
            self.cg.move("nginx", k)
        counts = self.cg.verify()
        say("confined (%s): %s" % (self.enforced, ", ".join("%s %d procs" % kv for kv in counts.items())))
        if counts["db"] < 2 or counts["api01"] < 1 or counts["api02"] < 1 or counts["nginx"] < 2:
            raise RuntimeError("some stack processes are not in their cgroups: %s" % counts)

    def window(self):
        return self.cg.start_window() if self.cg else None

    def measure(self, start):
        return self.cg.end_window(start) if self.cg else None

    def stop(self):
        if self.up:
            subprocess.run([STACK, "stop"], check=False)
            self.up = False
        if self.cg:
            self.cg.teardown()


# --- wrk ------------------------------------------------------------------------


def wrk_args(mix):
    clients = ",".join("%d:%d" % (c["id"], c["limite"]) for c in mix["clients"])
    r = mix["load"]["rates"]
    return [
        "clients=" + clients,
        "weights=%d,%d,%d" % (r["debitos"], r["creditos"], r["extratos"]),
        "valor=%d,%d" % (mix["valor"]["min"], mix["valor"]["max"]),
        "dlen=%d" % mix["descricao"]["length"],
        "alphabet=" + mix["descricao"]["alphabet"],
    ]


def run_wrk(mix, conns, seconds, threads, gen=None):
    """One wrk run; its CPU is added to gen (a series.GeneratorCPU)."""
    threads = min(threads, conns)
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout", "2s",
           "-s", os.path.join(REPO, "bench", "mix.lua"), URL, "--"] + wrk_args(mix)
    p = subprocess.Popen(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if gen:
        gen.started(p.pid)
    try:
        stdout, stderr = p.communicate(timeout=seconds + 30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        cpu = gen.finished() if gen else None
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError("wrk failed (%d): %s %s" % (p.returncode, stdout[-2000:], stderr[-2000:]))
    r = json.loads(line[len("BENCH_RESULT "):])
    r["generator_cpu_s"] = cpu
    return r


def run_wrk_sliced(mix, conns, seconds, threads, gen, t0, level, slices, slice_s=1):
    """A level's run as 1-second wrk runs (slice_s: their length; the whole
    run as one with --continuous), one time-series point each (appended to
    slices, times from t0), combined into one result of run_wrk's shape:
    counts summed, latency percentiles merged from the slices' grids. What
    the restarts cost is measured in bench/README.md."""
    parts = []
    for _ in range(max(1, seconds // slice_s)):
        r = run_wrk(mix, conns, slice_s, threads, gen)
        slices.append({"t": time.time() - t0, "result": r, "level": level})
        parts.append(r)
    out = {k: sum(r[k] for r in parts) for k in ("duration_us", "requests", "bytes", "inconsistencies", "malformed")}
    out["errors"] = {k: sum(r["errors"][k] for r in parts) for k in parts[0]["errors"]}
    out["sent"] = {k: sum(r["sent"][k] for r in parts) for k in parts[0]["sent"]}
    out["status"] = {}
    for r in parts:
        for k, v in r["status"].items():
            out["status"][k] = out["status"].get(k, 0) + v
    q = series.merge_quantiles([(r["requests"], r.get("q") or [], r["latency_us"]["max"]) for r in parts], (50, 90, 99))
    out["latency_us"] = {"p50": q["p50"], "p90": q["p90"], "p99": q["p99"], "max": q["max"]}
    out["generator_cpu_s"] = sum(r["generator_cpu_s"] or 0 for r in parts)
    return out


def cpu_reader(stack, gen):
    """Cumulative CPU seconds of each service's cgroup (and its throttled
    seconds) and of the load generator, for a series.Sampler."""
    def read():
        d = {"generator": gen.total(), "machine": series.machine_busy_s()}
        if stack.cg:
            for s in SERVICES:
                d[s] = stack.cg.cpu_ns(s) / 1e9
                d[s + ".throttled"] = stack.cg.throttled_ns(s) / 1e9
        return d
    return read


def cpu_series(sampler, t0):
    """The sampler's CPU as cores per second and throttled seconds per second."""
    r = series.rates(sampler.samples, t0)
    return {"t": r["t"],
            "cores": {k: v for k, v in r.items() if k != "t" and not k.endswith(".throttled")},
            "throttled": {k[:-len(".throttled")]: v for k, v in r.items() if k.endswith(".throttled")}}


def wrk_version():
    p = subprocess.run(["wrk", "-v"], text=True, capture_output=True)
    m = re.search(r"wrk\s+(\S+)", p.stdout + p.stderr)
    return m.group(1) if m else None


def level_entry(name, conns, seconds, reps, services):
    """One schema level from the repetitions of a level: medians of rates and
    latencies, sums of counts."""
    status = {}
    for r in reps:
        for k, v in r["status"].items():
            status[k] = status.get(k, 0) + v
    sock = sum(r["errors"]["connect"] + r["errors"]["read"] + r["errors"]["write"] + r["errors"]["timeout"] for r in reps)
    unexpected = sum(v for k, v in status.items() if k not in ("200", "422"))
    med = lambda xs: statistics.median(xs)  # noqa: E731
    return {
        "name": name,
        "connections": conns,
        "rate": None,
        "duration_s": seconds * len(reps),
        "requests": sum(r["requests"] for r in reps),
        "rps": round(med([r["requests"] / (r["duration_us"] / 1e6) for r in reps]), 1),
        "latency_ms": {k: round(med([r["latency_us"][k] for r in reps]) / 1000, 3) for k in ("p50", "p90", "p99", "max")},
        "status": dict(sorted(status.items())),
        "errors": unexpected + sock + sum(r["malformed"] for r in reps),
        "inconsistencies": sum(r["inconsistencies"] for r in reps),
        "services": services,
        "socket_errors": sock,
        "repeats": [
            {
                "rps": round(r["requests"] / (r["duration_us"] / 1e6), 1),
                "latency_ms": {k: round(r["latency_us"][k] / 1000, 3) for k in ("p50", "p90", "p99", "max")},
            }
            for r in reps
        ],
    }


# --- pgbench ------------------------------------------------------------------------


def pgbench_script(variant, mix):
    """A pgbench script of `calls` requests, client ids ascending (as the API
    sends a round trip's writes), random valor, debits : credits as in the mix:
      tx:       transacao() calls, one transaction (BEGIN..COMMIT; a single
                call without them);
      pipeline: transacao() calls in one pipeline with one Sync;
      lote:     one transacoes_lote() call with all of them (the API's way
                since 12133fc: one call per round trip)."""
    n = variant["calls"]
    r = mix["load"]["rates"]
    deb, tot = r["debitos"], r["debitos"] + r["creditos"]
    ids = [c["id"] for c in mix["clients"]]
    order = sorted(ids[i % len(ids)] for i in range(n)) if n > 1 else None
    lines = []
    for i in range(n):
        lines.append("\\set v%d random(%d, %d)" % (i, mix["valor"]["min"], mix["valor"]["max"]))
        lines.append("\\set k%d random(1, %d)" % (i, tot))
    if order is None:
        lines.append("\\set c0 random(%d, %d)" % (min(ids), max(ids)))
    cid = lambda i: ":c0" if order is None else str(order[i])  # noqa: E731
    tipo = lambda i: "(CASE WHEN :k%d <= %d THEN 'd' ELSE 'c' END)" % (i, deb)  # noqa: E731
    if variant["mode"] == "lote":
        lines.append("SELECT * FROM transacoes_lote(ARRAY[%s]::integer[], ARRAY[%s]::bigint[], %s, '[%s]'::json);" % (
            ", ".join(cid(i) for i in range(n)), ", ".join(":v%d" % i for i in range(n)),
            " || ".join(tipo(i) for i in range(n)), ", ".join('"pgbench%02d"' % (i % 100) for i in range(n))))
        return "\n".join(lines) + "\n"
    calls = ["SELECT * FROM transacao(%s, :v%d, %s::char, 'pgbench%02d');" % (cid(i), i, tipo(i), i % 100) for i in range(n)]
    if variant["mode"] == "pipeline":
        lines += ["\\startpipeline"] + calls + ["\\endpipeline"]
    elif n > 1:
        lines += ["BEGIN;"] + calls + ["COMMIT;"]
    else:
        lines += calls
    return "\n".join(lines) + "\n"


def db_commits():
    """Committed transactions of the rinha database so far (the statistics
    lag by up to a second), or None."""
    p = subprocess.run(["psql", "-X", "-Atq"] + PGCONN + ["-c", "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"],
                       text=True, capture_output=True)
    try:
        return int(p.stdout.strip())
    except ValueError:
        return None


def db_has(function):
    p = subprocess.run(["psql", "-X", "-Atq"] + PGCONN + ["-c", "SELECT count(*) FROM pg_proc WHERE proname = '%s'" % function],
                       text=True, capture_output=True)
    return p.returncode == 0 and p.stdout.strip() not in ("", "0")


def run_pgbench(variant, mix, seconds, tmp):
    path = os.path.join(tmp, "%s.sql" % variant["name"])
    with open(path, "w") as f:
        f.write(pgbench_script(variant, mix))
    c = variant["clients"]
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(c), "-j", str(c), "-T", str(seconds), "-f", path] + PGCONN
    p = subprocess.run(cmd, text=True, capture_output=True, timeout=seconds + 60)
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError("pgbench %s failed: %s %s" % (variant["name"], p.stdout[-1500:], p.stderr[-1500:]))
    fail = re.search(r"number of failed transactions: (\d+)", p.stdout)
    tps = float(m.group(1))
    return {"tps": round(tps, 1), "calls_per_s": round(tps * variant["calls"], 1),
            "failed": int(fail.group(1)) if fail else 0}


# --- runs ------------------------------------------------------------------------


def run_dir(date, commit):
    base = os.environ.get("BENCH_OUT") or os.path.join(REPO, "reports", "runs")
    d = os.path.join(base, "%s-%s" % (date.strftime("%Y%m%dT%H%M%SZ"), commit))
    os.makedirs(d, exist_ok=True)
    return d


def render(d):
    subprocess.run([sys.executable, os.path.join(REPO, "reports", "tools", "report.py"), os.path.join(d, "summary.json")], check=False)


def write_summary(d, s):
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(s, f, indent=2)
        f.write("\n")
    render(d)


def table(s):
    lines = []
    hdr = "%-6s %6s %8s %9s %8s %8s %8s %8s %7s %7s %8s  %s" % (
        "level", "conns", "reqs", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "incons", "req/cmt", "cpu s db/api01/api02/nginx  (peak MB)")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for lv in s["levels"]:
        sv = lv.get("services") or {}
        cpu = "/".join("%.1f" % sv[x]["cpu_s"] for x in SERVICES) if sv else "-"
        mem = "/".join("%.0f" % sv[x]["mem_peak_mb"] for x in SERVICES) if sv else "-"
        L = lv["latency_ms"]
        lines.append("%-6s %6s %8d %9.0f %8.2f %8.2f %8.2f %8.1f %7d %7d %8s  %s  (%s)" % (
            lv["name"], lv["connections"], lv["requests"], lv["rps"], L["p50"], L["p90"], L["p99"], L["max"],
            lv["errors"], lv["inconsistencies"], lv.get("requests_per_commit") or "-", cpu, mem))
    c = s.get("db_ceiling")
    if c:
        lines.append("")
        lines.append("database-only ceiling (pgbench, transacao calls/s): " + ", ".join(
            "%s %.0f" % (v["name"], v["calls_per_s"]) for v in c.get("variants", [])))
        lines.append("ceiling: %.0f calls/s (%s); best end-to-end %.0f req/s = %.0f%% of it" % (
            c["tps"], c["variant"], s.get("best_rps") or 0, 100 * (s.get("ceiling_fraction") or 0)))
    lines.append("")
    for ch in s["thresholds"]["checks"]:
        lines.append("%-6s %s (value %s, limit %s)" % ("ok" if ch["passed"] else "MISS", ch["name"], ch["value"], ch["limit"]))
    return "\n".join(lines)


def level_line(lv):
    """The progress line printed as each level ends."""
    L = lv["latency_ms"]
    g = (lv.get("generator") or {})
    ev = lv.get("limited_by_evidence") or {}
    return "%-6s %8.0f req/s  p50 %6.2f  p99 %6.2f  max %6.1f ms  errors %d  incons %d  stack %s cores, wrk %s cores: limited by %s" % (
        lv["name"], lv["rps"], L["p50"], L["p99"], L["max"], lv["errors"], lv["inconsistencies"],
        "?" if ev.get("stack_cores") is None else "%.2f" % ev["stack_cores"],
        "?" if g.get("cpu_s") is None else "%.2f" % (g["cpu_s"] / (lv.get("services_window_s") or 1)),
        lv.get("limited_by") or "nothing saturated")


def measure_levels(a, mix, cfg, stack, run):
    """Warm-up, then every level of cfg (repeats of 1-second wrk slices);
    run = {"t0", "gen", "slices", "phases"} collects the time series.
    Returns the schema levels, each with its generator CPU and verdict."""
    levels = []
    t0, gen, slices, phases = run["t0"], run["gen"], run["slices"], run["phases"]
    pre = run.get("prefix", "")  # make compare: which side and round
    say("%swarm-up: %d s at 64 connections" % (pre, cfg["warmup_s"]))
    w0 = time.time()
    sl = cfg["level_s"] if getattr(a, "continuous", False) else 1
    run_wrk_sliced(mix, 64, cfg["warmup_s"], cfg["threads"], gen, t0, pre + "warm-up", slices, cfg["warmup_s"] if sl > 1 else 1)
    phases.append({"name": pre + "warm-up", "start_s": round(w0 - t0, 2), "end_s": round(time.time() - t0, 2)})
    for conns in cfg["levels"]:
        name = "c%d" % conns
        reps = []
        c0 = db_commits()
        w = stack.window()
        l0, m0 = time.time(), series.machine_busy_s()
        for i in range(cfg["repeats"]):
            perf = start_perf(stack, cfg["level_s"]) if a.perf and i == 0 and conns == 64 else None
            reps.append(run_wrk_sliced(mix, conns, cfg["level_s"], cfg["threads"], gen, t0, pre + name, slices, sl))
            if perf:
                run["perf_note"] = finish_perf(perf)
        services = stack.measure(w)
        wall = time.time() - l0
        phases.append({"name": pre + name, "start_s": round(l0 - t0, 2), "end_s": round(l0 + wall - t0, 2)})
        lv = level_entry(name, conns, cfg["level_s"], reps, services)
        lv["services_window_s"] = round(wall, 2)
        m1 = series.machine_busy_s()
        lv["machine_busy_s"] = round(m1 - m0, 3) if m0 is not None and m1 is not None else None
        lv["generator"] = {"tool": "wrk", "cpu_s": round(sum(r["generator_cpu_s"] for r in reps), 3),
                           "window_s": round(wall, 2), "threads": min(cfg["threads"], conns)}
        time.sleep(1.1)  # let the backends publish their statistics
        c1 = db_commits()
        lv["db_commits"] = c1 - c0 if c0 is not None and c1 is not None else None
        lv["requests_per_commit"] = round(lv["requests"] / lv["db_commits"], 1) if lv["db_commits"] else None
        run["verdict_of"](lv)
        say(pre + level_line(lv))
        levels.append(lv)
    return levels


def measure_ceiling(cfg, mix, stack):
    variants = []
    with tempfile.TemporaryDirectory() as tmp:
        for v in cfg["pgbench"]:
            if v.get("fallback") and variants:
                continue  # only when nothing before it could run
            fn = "transacoes_lote" if v["mode"] == "lote" else "transacao"
            if not db_has(fn):
                say("pgbench %s skipped: the database has no %s()" % (v["name"], fn))
                continue
            res = []
            for _ in range(cfg["pgbench_repeats"]):
                w = stack.window()
                r = run_pgbench(v, mix, cfg["pgbench_s"], tmp)
                r["services"] = stack.measure(w)
                res.append(r)
            best = dict(res[0])
            best["calls_per_s"] = statistics.median([x["calls_per_s"] for x in res])
            best["tps"] = statistics.median([x["tps"] for x in res])
            variants.append(dict({k: x for k, x in v.items() if k != "fallback"}, **best, duration_s=cfg["pgbench_s"]))
            say("pgbench %-10s %2d clients: %8.0f tx/s = %8.0f calls/s  (db cpu %.1f s)" % (
                v["name"], v["clients"], best["tps"], best["calls_per_s"], best["services"]["db"]["cpu_s"] if best["services"] else 0))
    if not variants:
        raise RuntimeError("no pgbench variant could run")
    top = max(variants, key=lambda x: x["calls_per_s"])
    return {"tool": "pgbench", "tps": top["calls_per_s"], "clients": top["clients"], "duration_s": cfg["pgbench_s"],
            "variant": top["name"], "unit": "transacao calls/s", "variants": variants}


def new_run(stack, envelope):
    """The time-series collectors of one run: the generator's CPU, the
    per-second CPU sampler, the wrk slices and the phases; verdict_of(level)
    classifies a level as soon as it is measured (for the progress line)."""
    gen = series.GeneratorCPU()
    run = {"t0": time.time(), "gen": gen, "slices": [], "phases": []}
    run["sampler"] = series.Sampler(cpu_reader(stack, gen)).start()
    run["scrape"] = scrape.Sampler().start()  # the stack's own view: the replicas' /metrics
    mach = machine()
    run["verdict_of"] = lambda lv: verdict.limited_by({"tool": "wrk", "envelope": envelope, "machine": mach, "levels": [lv]})
    return run


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
    if not any(v is not None for _, by in samples for v in by.values()):
        return None, ("Server-side series (observe/scrape.py): not recorded, the replicas' metrics endpoints (%s) never answered "
                      "(METRICS_LISTEN off, e.g. API_ENV=METRICS_LISTEN=, or a tree without metrics)." % (addrs or "none sampled"))
    if len(samples) < 2:
        return None, "Server-side series (observe/scrape.py): not recorded, fewer than two samples."
    raw = scrape.series(samples)
    if wall_minus_mono is None:
        wall_minus_mono = time.time() - time.monotonic()
    t0 = samples[0][0] + wall_minus_mono - start_unix
    seen = [sum(1 for r in names if a.get(r) is not None and b.get(r) is not None) for (_, a), (_, b) in zip(samples, samples[1:])]
    full = [n == len(names) for n in seen]

    def col(key, digits=3):
        return [None if not ok or v is None else round(v, digits) for v, ok in zip(raw[key], full)]

    out = {
        "source": "observe/scrape.py: GET /metrics of %s, once a second" % addrs,
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_unix)),
        "t": [round(t + t0, 2) for t in raw["t"]],
        "dt": [round(b[0] - a[0], 3) for a, b in zip(samples, samples[1:])],
        "replicas": seen,
        "rps": col("requests_per_s", 1),
        "p99_ms": col("p99_ms"),
        "writes_per_commit": col("writes_per_commit", 2),
        "queued": col("queued", 0),
        "commits_per_s": col("commits_per_s", 1),
        "errors_per_s": col("errors_per_s", 2),
        "cpu": {r: [None if v is None else round(v, 3) for v in vs] for r, vs in raw["cpu"].items()},
        "missed": raw["missed"],
    }
    partial = sum(1 for ok in full if not ok)
    note = None
    if partial:
        note = ("Server-side series (observe/scrape.py): in %d of %d intervals a replica's metrics endpoint did not answer; "
                "the stack-wide figures are null there (replicas: how many answered)." % (partial, len(full)))
    return out, note


def finish_scrape(run, start_unix):
    """Stops the run's metrics sampler (while the stack is still up) and
    returns (server_series, note); never raises: a run is not failed for it."""
    sampler = run.get("scrape")
    if sampler is None:
        return None, None
    try:
        sampler.stop()
        return server_series(sampler.samples, start_unix)
    except Exception as e:  # noqa: BLE001  (the series is optional; the run's figures stand without it)
        return None, "Server-side series (observe/scrape.py): not recorded, %s: %s." % (type(e).__name__, e)


def add_note(s, note):
    if note:
        s["notes"] = ((s.get("notes") or "").rstrip() + " " + note).strip()


def run_series(run, source):
    run["sampler"].stop()
    return series.build(source, series.wrk_points(run["slices"]), cpu_series(run["sampler"], run["t0"]), run["phases"], run["t0"])


def cmd_bench(a):
    mix = load_mix()
    cfg = mix["bench"]["quick" if a.quick else "default"]
    envelope = load_envelope()
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            die("%s not found (make bench installs it: apt-get install %s)" % (tool, {"wrk": "wrk", "pgbench": "postgresql-client-15"}[tool]))
    commit, dirty = git_meta(a.rev_commit)
    date = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    stack = Stack(not a.no_confine, envelope)
    levels, ceiling = [], None
    t0 = time.time()
    try:
        stack.start()
        run = new_run(stack, envelope)
        levels = measure_levels(a, mix, cfg, stack, run)
        c0 = time.time()
        ceiling = measure_ceiling(cfg, mix, stack)
        run["phases"].append({"name": "pgbench", "start_s": round(c0 - run["t0"], 2), "end_s": round(time.time() - run["t0"], 2)})
        timeseries = run_series(run, "wrk, 1-second slices")
        srv, srv_note = finish_scrape(run, run["t0"])
    except (RuntimeError, OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        stack.stop()
        die(str(e))
    finally:
        stack.stop()
    perf_note = run.get("perf_note")
    say("measured in %.0f s" % (time.time() - t0))

    t = mix["targets"]
    ok_levels = [lv for lv in levels if lv["latency_ms"]["p99"] < t["p99_ms"]]
    best = max(ok_levels, key=lambda lv: lv["rps"]) if ok_levels else None
    best_any = max(levels, key=lambda lv: lv["rps"])
    incons = sum(lv["inconsistencies"] for lv in levels)
    errors = sum(lv["errors"] for lv in levels)
    frac = best_any["rps"] / ceiling["tps"] if ceiling and ceiling["tps"] else None
    checks = [
        {"name": "req/s >= %d with p99 < %g ms (best such level)" % (t["rps"], t["p99_ms"]),
         "passed": bool(best and best["rps"] >= t["rps"]), "value": best["rps"] if best else None, "limit": t["rps"]},
        {"name": "inconsistencies == 0", "passed": incons == 0, "value": incons, "limit": 0},
        {"name": "unexpected answers and socket errors == 0", "passed": errors == 0, "value": errors, "limit": 0},
        {"name": "end-to-end >= %d%% of the database-only ceiling" % round(t["ceiling_fraction"] * 100),
         "passed": bool(frac is not None and frac >= t["ceiling_fraction"]), "value": round(frac, 3) if frac else None,
         "limit": t["ceiling_fraction"]},
    ]
    s = {
        "schema": 1,
        "tool": "wrk",
        "tool_version": wrk_version(),
        "scenario": "bench-mix",
        "commit": commit,
        "dirty": dirty,
        "date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "envelope": dict(envelope, enforced=stack.enforced),
        "levels": levels,
        "db_ceiling": ceiling,
        "thresholds": {"passed": all(c["passed"] for c in checks), "checks": checks},
        "notes": ("make bench%s: wrk %d threads, closed loop, %d s warm-up, then %d x %d s per level, %s (medians of the repeats' rates and "
                  "latencies, sums of counts); load generator outside the envelope. Ceiling: the best pgbench variant, in "
                  "transacao calls/s; the end-to-end figure also contains the ~3%% statements. Measured: %s.%s") % (
            " quick" if a.quick else "", cfg["threads"], cfg["warmup_s"], cfg["repeats"], cfg["level_s"],
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
    verdict.apply(s)
    d = run_dir(date, commit)
    write_summary(d, s)
    print()
    print(table(s))
    print()
    say(verdict.headline(s))
    say("archived in %s" % os.path.relpath(d, REPO))
    return 0 if incons == 0 and errors == 0 else 1


# --- perf (optional) ----------------------------------------------------------------


def start_perf(stack, seconds):
    if not shutil.which("perf"):
        return None
    f = tempfile.NamedTemporaryFile(prefix="rinha-perf-", suffix=".data", delete=False)
    f.close()
    p = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "499", "-o", f.name, "--", "sleep", str(seconds)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (p, f.name)


def finish_perf(perf):
    p, path = perf
    p.wait()
    r = subprocess.run(["perf", "report", "-i", path, "--no-children", "--sort", "comm,dso", "--stdio", "-g", "none",
                        "--percent-limit", "2"], text=True, capture_output=True)
    keep = [ln.strip() for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")][:12]
    with open(os.path.join(VAR, "log", "perf-report.txt"), "w") as f:
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
    latency percentiles, errors), its phases, and the sampled CPU (the
    sampler stopped before the stack's cgroups went)."""
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
    version = out([k6, "version"]).split()[1] if out([k6, "version"]) else None
    d = run_dir(date, commit)
    # k6's own files (its per-request CSV, its dashboard when asked for) stay
    # in var/k6/: the archive holds this project's summary.json and report.
    scratch = os.path.join(VAR, "k6", os.path.basename(d))
    os.makedirs(scratch, exist_ok=True)
    csv_path = os.path.join(scratch, "k6-metrics.csv.gz")
    env = dict(os.environ, BASE_URL=URL, SUMMARY_PATH=os.path.join(d, "summary.json"), K6_VERSION=version or "",
               RUN_COMMIT=commit, RUN_DIRTY="true" if dirty else "false", RUN_DATE=date.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if os.environ.get("K6_DASHBOARD") == "1":  # costs the generator CPU: opt-in
        env.update(K6_WEB_DASHBOARD="true", K6_WEB_DASHBOARD_EXPORT=os.path.join(scratch, "k6-dashboard.html"),
                   K6_WEB_DASHBOARD_OPEN="false", K6_WEB_DASHBOARD_PORT=os.environ.get("K6_WEB_DASHBOARD_PORT", "-1"))
    stack = Stack(not a.no_confine, envelope)
    rc = 0
    try:
        stack.start()
        run = new_run(stack, envelope)
        w = stack.window()
        t0, m0 = time.time(), series.machine_busy_s()
        # K6_CSV=0: no per-request CSV (it costs k6 CPU; the run then has no time series).
        csv_out = [] if os.environ.get("K6_CSV") == "0" else ["--out", "csv=" + csv_path]
        p = subprocess.Popen([k6, "run"] + csv_out + a.k6_args + [os.path.join(REPO, "k6", a.script + ".js")], env=env)
        run["gen"].started(p.pid)
        rc = p.wait()
        gen_cpu = run["gen"].finished()
        services = stack.measure(w)
        wall = time.time() - t0
        m1 = series.machine_busy_s()
        run["sampler"].stop()
        srv, srv_note = finish_scrape(run, t0)
    finally:
        stack.stop()
    path = os.path.join(d, "summary.json")
    if not os.path.exists(path):
        die("k6 wrote no summary (exit %d)" % rc, 1)
    with open(path) as f:
        s = json.load(f)
    s["tool_version"] = s.get("tool_version") or version
    s["machine"] = machine()
    s["envelope"] = dict(envelope, enforced=stack.enforced)
    s["generator"] = dict(s.get("generator") or {"tool": "k6"}, cpu_s=round(gen_cpu, 3), window_s=round(wall, 2))
    if s.get("levels"):
        s["levels"][0]["services"] = services
        s["levels"][0]["services_window_s"] = round(wall, 1)
        s["levels"][0]["machine_busy_s"] = round(m1 - m0, 3) if m0 is not None and m1 is not None else None
    s["timeseries"] = k6_timeseries(s, csv_path, mix, run, t0)
    s["server_series"] = srv
    add_note(s, srv_note)
    verdict.apply(s)
    if s.get("limited_by") == "generator":  # the script's notes cannot know whose ceiling it measured
        s["notes"] = (s.get("notes") or "") + ". GENERATOR-BOUND: the rates above are the load generator's ceiling, not the stack's (%s)" % (
            s["limited_by_evidence"]["rule"])
    write_summary(d, s)
    say(verdict.headline(s))
    say("archived in %s (k6 exit %d; k6's own output in %s)" % (os.path.relpath(d, REPO), rc, os.path.relpath(scratch, REPO)))
    return rc


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="wrk levels + pgbench ceiling")
    b.add_argument("--quick", action="store_true", help="the ~20 s CI variant")
    b.add_argument("--no-confine", action="store_true", help="no cgroups (envelope not enforced)")
    b.add_argument("--perf", action="store_true", help="perf record -a during the first c64 run")
    b.add_argument("--rev", help="measure a clean export of this commit (e.g. HEAD) instead of the working tree")
    b.add_argument("--continuous", action="store_true",
                   help="each repeat as one wrk run (as before 1-second slices): one time-series point per repeat")
    c = sub.add_parser("compare", help="two commits interleaved (A B A B ...), same envelope and levels: ratios B/A")
    c.add_argument("A", help="the baseline commit (any git revision)")
    c.add_argument("B", help="the commit compared with it")
    c.add_argument("--quick", action="store_true", help="one short level, two rounds (tests)")
    c.add_argument("--rounds", type=int, help="rounds of A then B (default: compare.<mode>.rounds in k6/mix.json)")
    c.add_argument("--no-confine", action="store_true")
    c.add_argument("--perf", action="store_true", help=argparse.SUPPRESS)
    c.add_argument("--continuous", action="store_true", help="each level as one wrk run, not 1-second slices")
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
    if a.cmd == "compare":
        import compare  # noqa: E402  (imports this module)
        try:
            sys.exit(compare.cmd_compare(a))
        except (RuntimeError, OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            die(str(e))
    a.rev_commit = None
    if a.rev:
        try:
            tree, a.rev_commit = export_rev(a.rev)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            die("cannot measure %s: %s" % (a.rev, e))
        use_tree(tree)
    sys.exit(cmd_bench(a) if a.cmd == "bench" else cmd_k6(a))


if __name__ == "__main__":
    main()
