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
import sys

# The envelope and machine are described exactly as bench/bench.py does.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from runinfo import compose_limits, machine  # noqa: E402


def envelope(compose_path, enforced):
    services = compose_limits(compose_path)
    cpus = [s["cpus"] for s in services.values()]
    mems = [s["memory_mb"] for s in services.values()]
    return {"cpus": round(sum(cpus), 3) if None not in cpus else None,
            "memory_mb": round(sum(mems), 1) if None not in mems else None,
            "enforced": enforced, "services": services}


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
