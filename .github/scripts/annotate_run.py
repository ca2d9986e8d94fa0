#!/usr/bin/env python3
"""Completes a k6 run's summary.json with what the k6 script cannot know.

    annotate_run.py RUN_DIR [--compose compose.yml] [--enforced docker]

k6/rinha.js writes reports/SCHEMA.md's summary.json with `machine` and
`envelope` null (a k6 script sees neither). In the stress workflow the stack
runs under docker compose, which enforces compose.yml's limits, so this fills
  - envelope: the sum and the per-service split of compose.yml's
    deploy.resources.limits, enforced "docker";
  - machine: host name, CPUs, memory, kernel and CPU model of the runner;
  - commit/date/tool_version/dirty from RUN_COMMIT, RUN_DATE, K6_VERSION,
    RUN_DIRTY when still null.
Fields already set are kept; nothing is invented (a value it cannot read
stays null). Needs PyYAML (python3-yaml).
"""

import argparse
import json
import os
import platform
import re
import socket
import sys

import yaml


def mem_mb(text):
    """'380MB' / '0.5GB' / '512m' -> MB (decimal units as docker reads them: 1MB = 1 MiB)."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([kmgKMG]?)[bB]?\s*", str(text))
    if not m:
        return None
    v = float(m.group(1))
    unit = m.group(2).lower()
    return v / 1024 if unit == "k" else v * 1024 if unit == "g" else v if unit == "m" else v / 1024 / 1024


def envelope(compose_path, enforced):
    with open(compose_path) as f:
        doc = yaml.safe_load(f)
    services = {}
    for name, svc in (doc.get("services") or {}).items():
        lim = ((svc or {}).get("deploy") or {}).get("resources", {}).get("limits") or {}
        cpus = float(lim["cpus"]) if "cpus" in lim else None
        mem = mem_mb(lim["memory"]) if "memory" in lim else None
        services[name] = {"cpus": cpus, "memory_mb": mem}
    total_cpu = sum(s["cpus"] for s in services.values()) if all(s["cpus"] is not None for s in services.values()) else None
    total_mem = sum(s["memory_mb"] for s in services.values()) if all(
        s["memory_mb"] is not None for s in services.values()) else None
    return {"cpus": None if total_cpu is None else round(total_cpu, 3),
            "memory_mb": None if total_mem is None else round(total_mem, 1),
            "enforced": enforced, "services": services}


def machine():
    cpu_model, mem = None, None
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
                    mem = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    return {"host": socket.gethostname(), "cpus": os.cpu_count(), "memory_mb": mem,
            "kernel": platform.release(), "cpu_model": cpu_model}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--compose", default="compose.yml")
    ap.add_argument("--enforced", default="docker")
    args = ap.parse_args()
    path = os.path.join(args.run_dir, "summary.json")
    with open(path) as f:
        s = json.load(f)
    if s.get("envelope") is None:
        s["envelope"] = envelope(args.compose, args.enforced)
    if s.get("machine") is None:
        s["machine"] = machine()
    for key, env in (("commit", "RUN_COMMIT"), ("date", "RUN_DATE"), ("tool_version", "K6_VERSION")):
        if s.get(key) in (None, "") and os.environ.get(env):
            s[key] = os.environ[env]
    if s.get("dirty") is None and os.environ.get("RUN_DIRTY") in ("true", "false"):
        s["dirty"] = os.environ["RUN_DIRTY"] == "true"
    missing = [k for k in ("schema", "tool", "scenario", "commit", "date", "levels") if s.get(k) in (None, "", [])]
    with open(path + ".tmp", "w") as f:
        json.dump(s, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    env = s["envelope"]
    print("annotate: %s: envelope %s CPU / %s MB (%s), machine %s" % (
        path, env.get("cpus"), env.get("memory_mb"), env.get("enforced"), s["machine"].get("host")))
    if missing:
        print("annotate: %s lacks %s" % (path, ", ".join(missing)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
