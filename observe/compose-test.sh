#!/usr/bin/env bash
# The compose observe override (observe/compose.yml), proven on this machine
# (make observe-compose-test): in the private loopback-only dockerd of
# scripts/compose-dockerd.sh, builds and starts compose.yml plus the
# override with the profile `observe`; checks :9999 answers, Prometheus
# (127.0.0.1:9090) sees every target up (both replicas, nginx's and
# PostgreSQL's exporters) and counts the requests sent; tears it all down.
# Holds /tmp/rinha-stack.lock like every stack user. Logs: var/log/observe-compose/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
LOGDIR=$repo/var/log/observe-compose
say() { printf 'observe-compose-test: %s\n' "$*"; }
die() { printf 'observe-compose-test: FAIL: %s\n' "$*" >&2; exit 1; }

exec 9>/tmp/rinha-stack.lock
flock 9
mkdir -p "$LOGDIR"
scripts/compose-dockerd.sh install
eval "$(scripts/compose-dockerd.sh env)"
started=0
if ! /usr/bin/docker version >/dev/null 2>&1; then
    scripts/compose-dockerd.sh start 9>&- # the engine must not hold the stack lock
    started=1
fi
COMPOSE=(/usr/bin/docker-compose --ansi never -p rinha-observe -f compose.yml -f observe/compose.yml
    --profile observe)
export COMPOSE_HTTP_TIMEOUT=120
cleanup() {
    local rc=$?
    set +e
    "${COMPOSE[@]}" logs --no-color >"$LOGDIR/compose.log" 2>&1
    "${COMPOSE[@]}" down -v --remove-orphans >>"$LOGDIR/compose.log" 2>&1
    [ "$started" = 1 ] && scripts/compose-dockerd.sh stop
    exit $rc
}
trap cleanup EXIT
scripts/compose-dockerd.sh base-image 9>&-
say "building (logs in $LOGDIR)"
"${COMPOSE[@]}" build >"$LOGDIR/build.log" 2>&1 || die "build failed: see $LOGDIR/build.log"
"${COMPOSE[@]}" up -d >"$LOGDIR/up.log" 2>&1 || die "up failed: see $LOGDIR/up.log"
for ((i = 0; i < 120; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 http://127.0.0.1:9999/clientes/1/extrato)" = 200 ] && break
    sleep 0.5
done
[ "$i" -lt 120 ] || die "no 200 on :9999 within 60 s"
say "stack up; sending 300 requests"
for ((i = 0; i < 300; i++)); do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:9999/clientes/$((i % 5 + 1))/extrato"
done
/usr/bin/python3 - <<'PY' || die "Prometheus does not see the stack (see $LOGDIR)"
import json, time, urllib.parse, urllib.request

def query(q):
    url = "http://127.0.0.1:9090/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["data"]["result"]

deadline = time.time() + 60
while True:
    try:
        up = {(m["metric"]["job"], m["metric"].get("replica", "")): m["value"][1] for m in query("up")}
        served = query('sum(rinha_http_requests_total{route="extrato",status="200"})')
        pg = query("pg_up")
        ok = (len(up) == 4 and set(up.values()) == {"1"} and served and float(served[0]["value"][1]) >= 300
              and pg and pg[0]["value"][1] == "1")
    except OSError as e:
        ok, up, served = False, str(e), None
    if ok:
        print("observe-compose-test: targets up: %s; extrato 200s counted by the replicas: %s"
              % (sorted(up), served[0]["value"][1]))
        break
    if time.time() > deadline:
        raise SystemExit("up=%s served=%s" % (up, served))
    time.sleep(1)
PY
say "OK"
