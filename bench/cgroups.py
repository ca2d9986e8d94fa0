"""The Rinha envelope as cgroups: one cgroup per service under a parent
holding the whole envelope, created below this process's own cgroup (v1: in
the cpu, cpuacct and memory hierarchies) or below the root of the unified
hierarchy (v2), with each service's CPU and memory measured over a window.
Python 3 standard library only."""
import os
import threading
import time

SERVICES = ["db", "api01", "api02", "nginx"]
V2_ROOT = "/sys/fs/cgroup"

# Where each figure lives, per hierarchy: (controller, file, key of a
# "key value" file or None for a file holding one number, nanoseconds or
# bytes per unit).
FIGURES = {
    "cgroup-v1": {"cpu": ("cpuacct", "cpuacct.usage", None, 1), "throttled": ("cpu", "cpu.stat", "throttled_time", 1),
                  "mem": ("memory", "memory.usage_in_bytes", None, 1), "peak": ("memory", "memory.max_usage_in_bytes", None, 1)},
    "cgroup-v2": {"cpu": ("unified", "cpu.stat", "usage_usec", 1000), "throttled": ("unified", "cpu.stat", "throttled_usec", 1000),
                  "mem": ("unified", "memory.current", None, 1)},
}


def limits(kind, cpus, memory_mb):
    """The files that confine one cgroup: [(controller, file, value, required)]."""
    quota, mem = round(cpus * 100000), str(int(memory_mb * 2**20))
    if kind == "cgroup-v1":
        # Charges follow a moved process (deprecated on recent kernels: best effort).
        return [("cpu", "cpu.cfs_period_us", "100000", True), ("cpu", "cpu.cfs_quota_us", str(quota), True),
                ("memory", "memory.limit_in_bytes", mem, True), ("memory", "memory.move_charge_at_immigrate", "3", False)]
    return [("unified", "cpu.max", "%d 100000" % quota, True), ("unified", "memory.max", mem, True),
            ("unified", "memory.swap.max", "0", False)]


def write(path, value, required=True):
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        if required:
            raise


def read(path):
    with open(path) as f:
        return f.read()


def mounts():
    with open("/proc/mounts") as f:
        return [line.split() for line in f]


def own(controller):
    """This process's cgroup in the v1 hierarchy of `controller`."""
    for line in read("/proc/self/cgroup").splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            return path
    return "/"


def children(ppid):
    """The processes whose parent is ppid."""
    kids = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(read("/proc/%s/stat" % p).rsplit(")", 1)[1].split()[1]) == ppid:
                kids.append(int(p))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def pss(pids):
    """The proportional set size of these processes (shared memory split
    among its users): what they hold, wherever it was charged."""
    total = 0
    for pid in pids:
        try:
            total += next(int(ln.split()[1]) * 1024 for ln in read("/proc/%d/smaps_rollup" % pid).splitlines() if ln.startswith("Pss:"))
        except (OSError, ValueError, StopIteration):
            pass
    return total


class Cgroups:
    def __init__(self, envelope, split=True):
        """split False (make bench ONE_CGROUP=1): only the envelope's cgroup
        is limited; the services' cgroups under it only count, so any
        service may use whatever the others leave of the whole envelope."""
        self.env = envelope
        self.split = split
        self.kind = None
        self.dirs = {}  # controller ("unified" on v2) -> the envelope's cgroup
        self._stop = threading.Event()

    def setup(self):
        name = "rinha-bench-%d" % os.getpid()
        mnts = mounts()
        v1 = {opt: m[1] for m in mnts if m[2] == "cgroup" for opt in m[3].split(",") if opt in ("cpu", "cpuacct", "memory")}
        if len(v1) == 3:
            self.kind = "cgroup-v1"
            self.dirs = {c: os.path.join(v1[c] + own(c).rstrip("/"), name) for c in v1}
        elif any(m[2] == "cgroup2" and m[1] == V2_ROOT for m in mnts):
            self.kind = "cgroup-v2"
            # A v2 cgroup cannot both hold processes and delegate controllers,
            # so the envelope hangs from the root.
            self.dirs = {"unified": os.path.join(V2_ROOT, name)}
            write(os.path.join(V2_ROOT, "cgroup.subtree_control"), "+cpu +memory")
        else:
            raise OSError("no cgroup v1 (cpu, cpuacct, memory) nor v2 hierarchy found")
        for base in self.dirs.values():
            for d in [base] + [os.path.join(base, s) for s in SERVICES]:
                os.makedirs(d, exist_ok=True)
                if d == base and self.kind == "cgroup-v2":
                    write(os.path.join(base, "cgroup.subtree_control"), "+cpu +memory")
        for svc, lim in [("", self.env)] + ([(s, self.env["services"][s]) for s in SERVICES] if self.split else []):
            for c, f, value, required in limits(self.kind, lim["cpus"], lim["memory_mb"]):
                write(os.path.join(self.dirs[c], svc, f), value, required)

    def move(self, svc, pid):
        for d in self.dirs.values():
            write(os.path.join(d, svc, "cgroup.procs"), str(pid))

    def pids(self, svc):
        try:
            return [int(x) for x in read(os.path.join(self.dirs["cpu" if self.kind == "cgroup-v1" else "unified"], svc, "cgroup.procs")).split()]
        except OSError:
            return []

    def figure(self, svc, what):
        """A service's cumulative CPU or throttled nanoseconds, or its memory
        (now, or the kernel's peak) in bytes."""
        c, f, key, unit = FIGURES[self.kind][what]
        text = read(os.path.join(self.dirs[c], svc, f))
        if key is None:
            return int(text) * unit
        return next((int(v) * unit for k, v in (ln.split() for ln in text.splitlines()) if k == key), 0)

    def cpu_ns(self, svc):
        return self.figure(svc, "cpu")

    def throttled_ns(self, svc):
        try:
            return self.figure(svc, "throttled")
        except OSError:
            return 0

    def _sample(self):
        """Every 0.1 s the memory peaks (PSS every 0.5 s) until the window ends."""
        n = 0
        while not self._stop.wait(0.1):
            n += 1
            for s in SERVICES:
                try:
                    self.peak[s] = max(self.peak[s], self.figure(s, "mem"))
                    if n % 5 == 0:
                        self.pss[s] = max(self.pss[s], pss(self.pids(s)))
                except (OSError, ValueError):
                    pass

    def start_window(self):
        """Starts measuring a window: CPU counters and the memory peaks (the
        v1 kernel peak reset; v2's cannot be)."""
        for s in SERVICES:
            if self.kind == "cgroup-v1":
                write(os.path.join(self.dirs["memory"], s, "memory.max_usage_in_bytes"), "0", required=False)
        self.peak = {s: self.figure(s, "mem") for s in SERVICES}
        self.pss = {s: pss(self.pids(s)) for s in SERVICES}
        self._stop.clear()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return {s: (self.cpu_ns(s), self.throttled_ns(s)) for s in SERVICES}

    def end_window(self, start):
        """Per service over the window: CPU and throttled seconds, peak memory
        (cgroup) and peak PSS (processes), in MB."""
        self._stop.set()
        self._sampler.join()
        res = {}
        for s in SERVICES:
            peak = max(self.peak[s], self.figure(s, "mem"))
            if self.kind == "cgroup-v1":
                try:
                    peak = max(peak, self.figure(s, "peak"))
                except (OSError, ValueError):
                    pass
            res[s] = {
                "cpu_s": round((self.cpu_ns(s) - start[s][0]) / 1e9, 3),
                "throttled_s": round((self.throttled_ns(s) - start[s][1]) / 1e9, 3),
                "mem_peak_mb": round(peak / 2**20, 1),
                "pss_peak_mb": round(max(self.pss[s], pss(self.pids(s))) / 2**20, 1),
            }
        return res

    def teardown(self):
        for base in set(self.dirs.values()):
            parent = os.path.dirname(base)
            for d in [os.path.join(base, s) for s in SERVICES] + [base]:
                if not os.path.isdir(d):
                    continue
                # Anything still inside goes back to where we came from.
                try:
                    for pid in read(os.path.join(d, "cgroup.procs")).split():
                        write(os.path.join(parent, "cgroup.procs"), pid, required=False)
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
                    print("bench: could not remove cgroup %s" % d, flush=True)
        self.dirs = {}
