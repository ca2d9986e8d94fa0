#!/usr/bin/env bash
# `make compose-check`: cheap checks of compose.yml (no Docker engine needed).
#  1. Debian's docker-compose (v1) validates the file (`docker-compose config`).
#  2. Every service declares deploy.resources.limits with cpus and memory
#     (memory written in MB), and the sums stay within the Rinha envelope:
#     1.5 CPU and 550MB. Also: host networking, a healthcheck on db and on
#     both replicas, nginx started after healthy replicas.
#  3. The submission's file that `make submission` writes passes 1 and 2 too.
# Installs docker-compose (and only it) when it is missing.
#
#   scripts/compose-check.sh [compose file]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-$repo/compose.yml}

die() { printf 'compose-check: FAIL: %s\n' "$*" >&2; exit 1; }

"$repo/scripts/deps.sh" --only docker-compose
compose=/usr/bin/docker-compose

# 1. The file itself. `config` only reads it: no engine is contacted.
out=$("$compose" -f "$file" config -q 2>&1) || die "docker-compose config rejects $file:
$out"

# 2. Limits and layout (scripts/envelope.py), on the file as compose reads
# it (interpolated).
/usr/bin/python3 "$repo/scripts/envelope.py" check "$file"

# 3. The submission's file (images only, no build sections) passes the same
# checks; it is generated into a scratch folder, not into build/.
if [ "$file" = "$repo/compose.yml" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    SUBMISSION_DIR=$tmp SOURCE_URL=${SOURCE_URL:-https://example.invalid/source} "$repo/scripts/compose-submission.sh" >/dev/null
    sub=$(ls -d "$tmp"/*/)docker-compose.yml
    if grep -q 'build:' "$sub"; then die "the submission's docker-compose.yml still builds images"; fi
    "$0" "$sub" >/dev/null || die "the submission's docker-compose.yml fails the checks above"
fi
echo "compose-check: OK"
