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
from envelope import compose_limits, parse_memory_mb  # noqa: E402,F401  (this module's interface)


def machine():
    """Host name, CPUs, memory, kernel and CPU model (None where unreadable)."""
    cpu_model, mem_mb = None, None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_mb = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "memory_mb": mem_mb,
        "kernel": platform.release(),
        "cpu_model": cpu_model,
    }
