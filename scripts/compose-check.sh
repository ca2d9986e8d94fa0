#!/usr/bin/env bash
# `make compose-check`: cheap checks of compose.yml (no Docker engine needed).
#  1. Debian's docker-compose (v1) validates the file (`docker-compose config`).
#  2. Every service declares deploy.resources.limits with cpus and memory
#     (memory written in MB), and the sums stay within the Rinha envelope:
#     1.5 CPU and 550MB. Also: host networking, a healthcheck on db and on
#     both replicas, nginx started after healthy replicas.
#  3. The submission file that `make submission` writes validates too.
# Installs docker-compose (and only it) when it is missing.
#
#   scripts/compose-check.sh [compose file]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-$repo/compose.yml}
CPU_MAX=${CPU_MAX:-1.5}
MEM_MAX_MB=${MEM_MAX_MB:-550}

die() { printf 'compose-check: FAIL: %s\n' "$*" >&2; exit 1; }

if [ "$(dpkg-query -W -f='${Status}' docker-compose 2>/dev/null)" != "install ok installed" ]; then
    [ "$(id -u)" = 0 ] || die "docker-compose is missing (as root: apt-get install docker-compose)"
    echo "compose-check: installing docker-compose"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends docker-compose >/dev/null
fi
compose=/usr/bin/docker-compose

# 1. The file itself. `config` only reads it: no engine is contacted.
out=$("$compose" -f "$file" config -q 2>&1) || die "docker-compose config rejects $file:
$out"

# 2. Limits and structure, on the file as written (interpolated, as compose
# reads it) and on what compose made of it.
/usr/bin/python3 - "$file" "$CPU_MAX" "$MEM_MAX_MB" <<'EOF'
import os, re, sys
from decimal import Decimal
import yaml

path, cpu_max, mem_max = sys.argv[1], Decimal(sys.argv[2]), int(sys.argv[3])
text = open(path).read()
# ${VAR:-default} / ${VAR} interpolation, as docker-compose does.
text = re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), text)
doc = yaml.safe_load(text)
errors = []
services = doc.get("services") or {}
for need in ("db", "api01", "api02", "nginx"):
    if need not in services:
        errors.append(f"service {need} is missing")
cpu_sum, mem_sum = Decimal(0), 0
rows = []
for name, svc in services.items():
    limits = (((svc or {}).get("deploy") or {}).get("resources") or {}).get("limits")
    if not isinstance(limits, dict):
        errors.append(f"{name}: no deploy.resources.limits")
        continue
    cpus, mem = limits.get("cpus"), limits.get("memory")
    try:
        c = Decimal(str(cpus))
        if c <= 0:
            raise ValueError
    except Exception:
        errors.append(f"{name}: deploy.resources.limits.cpus is missing or not a positive number ({cpus!r})")
        c = Decimal(0)
    m = re.fullmatch(r"(\d+)MB", str(mem)) if mem is not None else None
    if not m or int(m.group(1)) <= 0:
        errors.append(f"{name}: deploy.resources.limits.memory must be written in MB, like \"40MB\" (got {mem!r})")
        mb = 0
    else:
        mb = int(m.group(1))
    cpu_sum += c
    mem_sum += mb
    rows.append((name, c, mb))
    if svc.get("network_mode") != "host":
        errors.append(f"{name}: network_mode must be host (the layout of the native run)")
    if not svc.get("image"):
        errors.append(f"{name}: no image: (the public name it is published as)")
for name in ("db", "api01", "api02"):
    if name in services and not (services[name] or {}).get("healthcheck"):
        errors.append(f"{name}: no healthcheck")
dep = (services.get("nginx") or {}).get("depends_on") or {}
for name in ("api01", "api02"):
    if not isinstance(dep, dict) or (dep.get(name) or {}).get("condition") != "service_healthy":
        errors.append(f"nginx: must depend on {name} with condition service_healthy")
if cpu_sum > cpu_max:
    errors.append(f"the CPU limits sum to {cpu_sum}, over the envelope of {cpu_max}")
if mem_sum > mem_max:
    errors.append(f"the memory limits sum to {mem_sum}MB, over the envelope of {mem_max}MB")
for name, c, mb in rows:
    print(f"compose-check: {name:6} cpus {c:<5} memory {mb}MB")
print(f"compose-check: total  cpus {cpu_sum} / {cpu_max}, memory {mem_sum}MB / {mem_max}MB")
if errors:
    for e in errors:
        print(f"compose-check: FAIL: {e}", file=sys.stderr)
    sys.exit(1)
EOF

# 3. The submission's file (images only, no build sections) must be valid
# too; it is generated into a scratch folder, not into build/.
if [ "$file" = "$repo/compose.yml" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    SUBMISSION_DIR=$tmp SOURCE_URL=${SOURCE_URL:-https://example.invalid/source} "$repo/scripts/compose-submission.sh" >/dev/null
    sub=$(ls -d "$tmp"/*/)
    out=$("$compose" -f "$sub/docker-compose.yml" config -q 2>&1) ||
        die "the submission's docker-compose.yml is invalid:
$out"
    grep -q 'build:' "$sub/docker-compose.yml" && die "the submission's docker-compose.yml still builds images"
    "$0" "$sub/docker-compose.yml" >/dev/null || die "the submission's docker-compose.yml fails the checks above"
fi
echo "compose-check: OK"
