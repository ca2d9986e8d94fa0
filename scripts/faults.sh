#!/usr/bin/env bash
# Fault, overload and hostile-input tests (tests/faults) against a fresh
# native stack running the sanitizer build, so that any memory error the
# faults provoke is reported. FAULTS_SCALE scales the durations (1 = full,
# 0.3 = the quick variant of `make test`).
#
#   scripts/faults.sh [pytest args...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# Short database deadline and a small queue bound so that the outage and
# overload behaviours show within seconds. Must match tests/faults/test_faults.py.
export API_ENV="DB_TIMEOUT_MS=1000 MAX_PENDING=128"
export SUITE=tests/faults
# A small ASan quarantine so that the replicas' memory figures mean something.
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=8
exec "$repo/scripts/integration.sh" "$repo/build/rinha-api-asan" -s "$@"
