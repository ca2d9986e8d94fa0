#!/usr/bin/env python3
"""Completes a k6 run's summary.json with what a k6 script cannot see.

    annotate_run.py RUN_DIR     (stress.yml, after k6/rinha.js)

k6/rinha.js writes reports/SCHEMA.md's summary.json with `machine` and
`envelope` null. In the stress workflow the stack runs under docker compose,
which enforces compose.yml's limits, so this fills, when still null, the
envelope (the sum and the per-service split of compose.yml's limits,
enforced "docker") and the machine, as bench/bench.py describes its runs
(bench/runinfo.py). Fails when the summary lacks what every run must have.
Needs PyYAML (python3-yaml).
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from runinfo import compose_limits, machine  # noqa: E402


def main(run_dir):
    path = os.path.join(run_dir, "summary.json")
    with open(path) as f:
        s = json.load(f)
    if s.get("envelope") is None:
        services = compose_limits(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "compose.yml"))
        total = {k: [v[k] for v in services.values()] for k in ("cpus", "memory_mb")}
        s["envelope"] = dict({k: None if None in v else round(sum(v), 3) for k, v in total.items()}, enforced="docker", services=services)
    if s.get("machine") is None:
        s["machine"] = machine()
    with open(path + ".tmp", "w") as f:
        json.dump(s, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("annotate: %s: envelope %s CPU / %s MB (docker), machine %s" % (
        path, s["envelope"].get("cpus"), s["envelope"].get("memory_mb"), s["machine"].get("host")))
    missing = [k for k in ("schema", "tool", "scenario", "commit", "date", "levels") if s.get(k) in (None, "", [])]
    if missing:
        print("annotate: %s lacks %s" % (path, ", ".join(missing)), file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]) if len(sys.argv) == 2 else __doc__)
