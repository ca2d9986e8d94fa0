"""What every archived run records about where it ran: the envelope split
declared in compose.yml and the machine. Shared by bench/bench.py (native
runs) and .github/scripts/annotate_run.py (k6 runs under docker compose), so
that both describe a run the same way. Python 3 standard library plus
Debian's python3-yaml."""

import os
import platform
import re


def parse_memory_mb(v):
    """compose memory ("380MB", "1g", "512m", bytes) -> MiB, as docker reads it."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kmgt]?i?b?)?\s*", str(v), re.I)
    if not m:
        raise ValueError("memory limit %r" % v)
    n = float(m.group(1))
    unit = (m.group(2) or "b").lower().rstrip("b").rstrip("i")
    mult = {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2}[unit]
    return n * mult


def compose_limits(path):
    """{service: {"cpus": float or None, "memory_mb": float or None}} from
    compose.yml's services.*.deploy.resources.limits (None where absent).
    Raises ImportError without python3-yaml."""
    import yaml  # Debian's python3-yaml

    with open(path) as f:
        doc = yaml.safe_load(f)
    services = {}
    for name, svc in (doc.get("services") or {}).items():
        lim = (((svc or {}).get("deploy") or {}).get("resources") or {}).get("limits") or {}
        services[name] = {
            "cpus": float(lim["cpus"]) if "cpus" in lim else None,
            "memory_mb": round(parse_memory_mb(lim["memory"]), 1) if "memory" in lim else None,
        }
    return services


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
