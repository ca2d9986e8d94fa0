#!/usr/bin/env bash
# Runs a pytest suite (SUITE, default tests/integration) against a fresh
# native stack started here with the given server binary, then stops it.
# API_ENV (see scripts/stack.sh) passes settings to both replicas.
# For a sanitizer build, also fails if a replica logged any ASan, UBSan or
# LeakSanitizer report (leaks are reported when the replicas exit on SIGTERM).
#
#   scripts/integration.sh build/rinha-api [pytest args...]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:?usage: $0 SERVER_BINARY [pytest args...]}")
shift
logs=$repo/var/log

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One stack at a time on this machine (fixed :9999 and /run/rinha): wait
# for any other stack user (bench, faults, compose) to finish.
exec 9>/tmp/rinha-stack.lock
flock 9

cleanup() { "$repo/scripts/stack.sh" stop >/dev/null || true; }
trap cleanup EXIT

echo "integration: starting the stack with $(basename "$bin") for ${SUITE:-tests/integration}"
API_BIN=$bin "$repo/scripts/stack.sh" start

# Every process of the stack runs under the policy stack.sh gives it.
case ${SCHED_POLICY:-other} in
batch) policy=SCHED_BATCH ;;
*) policy=SCHED_OTHER ;;
esac
for pid in $(cat "$repo/var/nginx.pid" "$repo/var/api01.pid" "$repo/var/api02.pid") \
    $(head -n 1 "$repo/var/pgdata/postmaster.pid"); do
    chrt -p "$pid" | grep -q "$policy" ||
        { echo "integration: process $pid is not under $policy" >&2; exit 1; }
done

rc=0
PGHOST=/run/rinha PGUSER=rinha PGDATABASE=rinha RINHA_URL=http://127.0.0.1:9999 \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$repo/${SUITE:-tests/integration}" "$@" || rc=$?

"$repo/scripts/stack.sh" stop
trap - EXIT

if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' \
    "$logs"/api0[12].log; then
    echo "integration: sanitizer report in the replica logs above" >&2
    grep -hE -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$logs"/api0[12].log | head -n 80 >&2
    rc=1
fi
exit $rc
