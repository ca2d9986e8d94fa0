"""What every archived run records about where it ran: the envelope split
declared in compose.yml (read by scripts/envelope.py, the one reader of
compose's limits) and the machine. Shared by bench/bench.py (native runs)
and .github/scripts/annotate_run.py (k6 runs under docker compose), so that
both describe a run the same way. Python 3 standard library plus Debian's
python3-yaml."""

import os
import platform
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
from envelope import compose_limits  # noqa: E402,F401  (this module's interface)


def first(path, prefix):
    """What follows the first line of `path` that starts with prefix, or None."""
    try:
        with open(path) as f:
            return next((ln[len(prefix):].strip() for ln in f if ln.startswith(prefix)), None)
    except OSError:
        return None


def machine():
    """Host name, CPUs, memory, kernel and CPU model (None where unreadable)."""
    mem = first("/proc/meminfo", "MemTotal:")
    model = first("/proc/cpuinfo", "model name")
    return {"host": platform.node(), "cpus": os.cpu_count(), "memory_mb": int(mem.split()[0]) // 1024 if mem else None,
            "kernel": platform.release(), "cpu_model": model.lstrip(": \t") if model else None}
