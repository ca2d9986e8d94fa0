#!/usr/bin/python3
"""compose.yml's envelope: the one reader of its services'
deploy.resources.limits, for every tool that needs them.

    envelope.py check [FILE]    the Rinha's rules on the file (compose-check.sh)
    envelope.py limits [FILE]   one line per service: name cpus memory_MB
                                (compose-test.sh, compose-submission.sh)

bench/runinfo.py imports compose_limits() and parse_memory_mb() from here,
so the native benchmark's cgroups and the archived runs read the same split.
Needs Debian's python3-yaml, imported only when a file is read, so that a
caller can report its absence.
"""

import os
import re
import sys
from decimal import Decimal

COMPOSE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "compose.yml")
CPU_MAX, MEM_MAX_MB = Decimal("1.5"), 550  # the Rinha's envelope: all services' limits summed


def load(path=COMPOSE, env=os.environ):
    """The compose file as compose reads it: ${VAR} and ${VAR:-default}
    interpolated from env, then parsed."""
    import yaml  # Debian's python3-yaml

    with open(path) as f:
        text = re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: env.get(m.group(1)) or (m.group(2) or ""), f.read())
    return yaml.safe_load(text)


def limits_of(svc):
    """A service's deploy.resources.limits mapping ({} if absent)."""
    return (((svc or {}).get("deploy") or {}).get("resources") or {}).get("limits") or {}


def parse_memory_mb(v):
    """compose memory ("380MB", "1g", "512m", bytes) -> MiB, as docker reads it."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kmgt]?i?b?)?\s*", str(v), re.I)
    if not m:
        raise ValueError("memory limit %r" % v)
    unit = (m.group(2) or "b").lower().rstrip("b").rstrip("i")
    return float(m.group(1)) * {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2}[unit]


def compose_limits(path=COMPOSE):
    """{service: {"cpus": float or None, "memory_mb": float or None}} (None
    where absent). Raises ImportError without python3-yaml."""
    out = {}
    for name, svc in load(path)["services"].items():
        lim = limits_of(svc)
        out[name] = {"cpus": float(lim["cpus"]) if "cpus" in lim else None,
                     "memory_mb": round(parse_memory_mb(lim["memory"]), 1) if "memory" in lim else None}
    return out


def check(path):
    """Prints each service's limits and the sums; returns the violations of
    the Rinha's rules (every service limited, cpus positive, memory written
    in MB as the official test reads it, the sums within the envelope) and
    of the layout the stack relies on (host networking, public image names,
    health checks, nginx after healthy replicas)."""
    services = load(path).get("services") or {}
    errors = ["service %s is missing" % n for n in ("db", "api01", "api02", "nginx") if n not in services]
    cpu_sum, mem_sum = Decimal(0), 0
    for name, svc in services.items():
        svc, lim = svc or {}, limits_of(svc)
        if svc.get("network_mode") != "host":
            errors.append("%s: network_mode must be host (the layout of the native run)" % name)
        if not svc.get("image"):
            errors.append("%s: no image: (the public name it is published as)" % name)
        if name in ("db", "api01", "api02") and not svc.get("healthcheck"):
            errors.append("%s: no healthcheck" % name)
        cpus = Decimal(str(lim["cpus"])) if re.fullmatch(r"\d*\.?\d+", str(lim.get("cpus"))) else Decimal(0)
        m = re.fullmatch(r"(\d+)MB", str(lim.get("memory")))
        mb = int(m.group(1)) if m else 0
        if not (cpus > 0 and mb > 0):
            errors.append('%s: deploy.resources.limits needs cpus > 0 and memory in MB, like "40MB" (got %r)'
                          % (name, lim))
        cpu_sum, mem_sum = cpu_sum + cpus, mem_sum + mb
        print("compose-check: %-6s cpus %-5s memory %dMB" % (name, cpus, mb))
    print("compose-check: total  cpus %s / %s, memory %dMB / %dMB" % (cpu_sum, CPU_MAX, mem_sum, MEM_MAX_MB))
    if cpu_sum > CPU_MAX or mem_sum > MEM_MAX_MB:
        errors.append("the limits sum to %s CPU / %dMB, over the envelope" % (cpu_sum, mem_sum))
    dep = (services.get("nginx") or {}).get("depends_on")
    for name in ("api01", "api02"):
        if not isinstance(dep, dict) or (dep.get(name) or {}).get("condition") != "service_healthy":
            errors.append("nginx: must depend on %s with condition service_healthy" % name)
    return errors


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in ("check", "limits"):
        sys.exit("usage: envelope.py check|limits [compose file]")
    path = argv[2] if len(argv) == 3 else COMPOSE
    if argv[1] == "limits":
        for name, lim in compose_limits(path).items():
            print(name, lim["cpus"], "%g" % lim["memory_mb"])
        return 0
    errors = check(path)
    for e in errors:
        print("compose-check: FAIL: %s" % e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
