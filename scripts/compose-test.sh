#!/usr/bin/env bash
# The compose stack, built and proven inside the envelope on this machine.
#
#   scripts/compose-test.sh test      (make compose-test) the whole proof, then
#                                     everything torn down
#   scripts/compose-test.sh run       (make compose-run) the same stack up on
#                                     :9999 until Ctrl-C, then torn down
#   scripts/compose-test.sh observe   (make observe-compose-test) the stack with
#                                     the observe override (observe/compose.yml)
#
# Every mode: installs Debian's docker.io, docker-compose and debootstrap if
# missing; starts a private loopback-only dockerd (scripts/compose-dockerd.sh:
# no iptables, no bridge, no sysctl) with a local debian:bookworm-slim;
# builds the images; brings the stack up and checks this stack's nginx
# answers GET /clientes/1/extrato with 200 within 40 s; checks each
# container's cgroup carries the CPU quota and memory limit compose.yml
# declares. test: runs the integration suite (tests/integration) against it
# and reports each container's peak memory, none OOM-killed or restarted. observe: sends 300 requests, then Prometheus must see its four
# targets up, PostgreSQL reachable and the requests counted. Last, tears
# everything down, stops dockerd, and checks the machine is as it was
# (containers, networks, links, firewall rules, forwarding sysctls, mounts).
#
# One stack at a time: holds /tmp/rinha-stack.lock like every stack user.
# Logs and the summary: var/log/compose-test/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
mode=${1:-test}
case "$mode" in test | run | observe) ;; *) echo "usage: $0 test|run|observe [pytest args]" >&2; exit 2 ;; esac
PORT=9999
READY_LIMIT=40
LOGDIR=$repo/var/log/compose-test
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
eval "$(scripts/compose-dockerd.sh env)"
DOCKER=/usr/bin/docker
COMPOSE=(/usr/bin/docker-compose --ansi never -p rinha -f compose.yml)
[ "$mode" = observe ] && COMPOSE+=(-f observe/compose.yml --profile observe)
export COMPOSE_HTTP_TIMEOUT=120

say() { printf 'compose-test: %s\n' "$*"; }
die() { printf 'compose-test: FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts dockerd)"

mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/*
summary=$LOGDIR/summary.txt
note() { printf '%s\n' "$*" | tee -a "$summary"; }

# What the machine looks like before, compared after the teardown.
snapshot() {
    {
        echo "# links"
        ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort
        echo "# sysctl"
        for k in net/ipv4/ip_forward net/ipv6/conf/all/forwarding net/ipv4/conf/all/route_localnet \
            net/ipv4/conf/lo/route_localnet; do
            printf '%s=%s\n' "$k" "$(cat "/proc/sys/$k" 2>/dev/null || echo absent)"
        done
        [ -d /proc/sys/net/bridge ] && echo "net/bridge present" || echo "net/bridge absent"
        echo "# firewall"
        if command -v iptables-save >/dev/null; then
            iptables-save 2>/dev/null | grep -vE '^#|^:' | sed 's/\[[0-9:]*\]//g' || true
        fi
        if command -v nft >/dev/null; then nft list ruleset 2>/dev/null || true; fi
        echo "# mounts"
        awk '$2 ~ /docker|rinha-docker|containerd/ { print $2 }' /proc/mounts | sort
        echo "# processes"
        ps -eo comm= | grep -E '^(dockerd|containerd|containerd-shim.*|runc|docker-proxy)$' | sort || true
    } 2>/dev/null
}

started_dockerd=0
teardown() {
    local rc=$?
    set +e
    if "$DOCKER" version >/dev/null 2>&1; then
        "${COMPOSE[@]}" logs --no-color >"$LOGDIR/containers.log" 2>&1
        "${COMPOSE[@]}" down -v --remove-orphans --timeout 20 >>"$LOGDIR/compose.log" 2>&1
    fi
    [ "$started_dockerd" = 1 ] && scripts/compose-dockerd.sh stop >>"$LOGDIR/compose.log" 2>&1
    if [ "$before" != "$(snapshot)" ]; then
        say "the machine differs from before the run:"
        diff <(echo "$before") <(snapshot) | sed 's/^/  /'
        [ "$rc" = 0 ] && rc=1
    else
        note "clean: no container, network, link, firewall rule, sysctl or mount left; dockerd stopped"
    fi
    note "total: $(secs "$t0" "$(now)") s (lock wait excluded)"
    if [ "$rc" != 0 ]; then say "FAIL (logs: var/log/compose-test/)"
    elif [ "$mode" = run ]; then say "stopped"
    else say "PASS (summary: var/log/compose-test/summary.txt)"; fi
    exit "$rc"
}

scripts/compose-dockerd.sh install
exec 9>/tmp/rinha-stack.lock
flock -n 9 || { say "waiting for another stack user (lock /tmp/rinha-stack.lock)"; flock 9; }
t0=$(now)
before=$(snapshot)
trap teardown EXIT
trap 'exit 130' INT TERM

if ss -Htln "sport = :$PORT" | grep -q .; then
    die "port $PORT is already in use by another program: $(ss -Htlnp "sport = :$PORT" | head -n 1)"
fi
if ! "$DOCKER" version >/dev/null 2>&1; then
    # Without the lock's descriptor (9>&-): dockerd and its containers would
    # inherit it and hold the stack lock for as long as they live.
    scripts/compose-dockerd.sh start 9>&-
    started_dockerd=1
fi
scripts/compose-dockerd.sh base-image

t=$(now)
"${COMPOSE[@]}" build >"$LOGDIR/build.log" 2>&1 || { tail -n 30 "$LOGDIR/build.log" >&2; die "build failed: see $LOGDIR/build.log"; }
note "build: $(secs "$t" "$(now)") s"

t=$(now)
"${COMPOSE[@]}" up -d --no-build >>"$LOGDIR/compose.log" 2>&1 || { cat "$LOGDIR/compose.log" >&2; die "docker-compose up failed"; }
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/clientes/1/extrato")" = 200 ]; do
    [ "$(secs "$t" "$(now)" | cut -d. -f1)" -lt "$READY_LIMIT" ] || die "no 200 from :$PORT within ${READY_LIMIT}s of up"
    sleep 0.2
done
note "up: GET /clientes/1/extrato answered 200 $(secs "$t" "$(now)") s after docker-compose up (limit ${READY_LIMIT} s)"
# The port must be this stack's nginx, not something else.
cid_nginx=$("${COMPOSE[@]}" ps -q nginx)
listener=$(ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
grep -q "$cid_nginx" "/proc/$listener/cgroup" || die ":$PORT is not served by the nginx container"

# A container's cgroup folder for controller $2: its cgroup v1 hierarchy's
# if the controller is mounted as v1, else the unified (v2) one.
cgroup_dir() {
    local mnt rel
    mnt=$(awk -v c="$2" '$3 == "cgroup" && ("," $4 ",") ~ ("," c ",") { print $2; exit }' /proc/mounts)
    if [ -n "$mnt" ]; then
        rel=$(awk -F: -v c="$2" '("," $2 ",") ~ ("," c ",") { print $3 }' "/proc/$1/cgroup")
    else
        mnt=/sys/fs/cgroup rel=$(awk -F: '$1 == 0 { print $3 }' "/proc/$1/cgroup")
    fi
    echo "$mnt$rel"
}
declared=$(/usr/bin/python3 scripts/envelope.py limits compose.yml) # "service cpus memory_MB" lines
declare -A MEM_DIR
note "cgroups (declared in compose.yml -> seen in the running container):"
bad=0
while read -r svc cpus mb; do
    pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$("${COMPOSE[@]}" ps -q "$svc")")
    cpu=$(cgroup_dir "$pid" cpu) mem=$(cgroup_dir "$pid" memory)
    MEM_DIR[$svc]=$mem
    if [ -f "$cpu/cpu.cfs_quota_us" ]; then
        quota=$(cat "$cpu/cpu.cfs_quota_us") period=$(cat "$cpu/cpu.cfs_period_us") limit=$(cat "$mem/memory.limit_in_bytes")
    else
        read -r quota period <"$cpu/cpu.max"
        limit=$(cat "$mem/memory.max")
    fi
    # Every service runs under Linux's default policy (scripts/stack.sh says why).
    policy=$(chrt -p "$pid" | head -n 1 | awk '{ print $NF }')
    ok=ok
    if [ "$quota" != "$(awk -v c="$cpus" -v p="$period" 'BEGIN { printf "%d", c * p + 0.5 }')" ] ||
        [ "$limit" != $((mb * 1048576)) ] || [ "$policy" != SCHED_OTHER ]; then ok=MISMATCH bad=1; fi
    note "$(printf '  %-6s cpus %-5s -> quota %s/%s us   memory %sMB -> %s bytes   %s   %s' \
        "$svc" "$cpus" "$quota" "$period" "$mb" "$limit" "$policy" "$ok")"
done <<<"$declared"
[ "$bad" = 0 ] || die "a container's cgroup does not carry its declared limits or policy"

if [ "$mode" = run ]; then
    say "ready on http://127.0.0.1:$PORT (press Ctrl-C to stop and tear down)"
    trap 'echo; exit 0' INT TERM
    while "$DOCKER" inspect -f '{{.State.Running}}' "$cid_nginx" 2>/dev/null | grep -q true; do sleep 1; done
    die "nginx exited"
fi

if [ "$mode" = observe ]; then
    for ((i = 0; i < 300; i++)); do
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/clientes/$((i % 5 + 1))/extrato"
    done
    # Not empty only when all holds: Prometheus's four targets up (both
    # replicas, the two exporters), PostgreSQL reachable, the requests counted.
    q='count(up == 1) == 4 and on() pg_up == 1 and on() sum(rinha_http_requests_total{route="extrato",status="200"}) >= 300'
    for ((i = 0; i < 60; i++)); do
        curl -s --max-time 2 -G --data-urlencode "query=$q" http://127.0.0.1:9090/api/v1/query | grep -q '"result":\[{' && break
        sleep 1
    done
    [ "$i" -lt 60 ] || die "Prometheus does not see the stack: $(curl -s -G --data-urlencode query=up http://127.0.0.1:9090/api/v1/query)"
    note "observe: Prometheus sees both replicas, nginx's and PostgreSQL's exporters up, and the 300 requests"
    exit 0
fi

volume=$("$DOCKER" volume inspect -f '{{.Mountpoint}}' rinha_run)
t=$(now)
set +e
PGHOST=$volume PGUSER=rinha PGDATABASE=rinha RINHA_URL=http://127.0.0.1:$PORT \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "${@:2}" 2>&1 | tee "$LOGDIR/pytest.log"
rc=$?
set -e
note "integration suite: $(tail -n 1 "$LOGDIR/pytest.log") ($(secs "$t" "$(now)") s)"

note "after the suite (memory: the cgroup's peak since start, page cache included):"
for svc in db api01 api02 nginx; do
    peak=$(cat "${MEM_DIR[$svc]}/memory.max_usage_in_bytes" 2>/dev/null || cat "${MEM_DIR[$svc]}/memory.peak")
    state=$("$DOCKER" inspect -f '{{.State.OOMKilled}} {{.RestartCount}} {{.State.Running}}' "$("${COMPOSE[@]}" ps -q "$svc")")
    note "$(printf '  %-6s peak %s MiB  oomkilled/restarts/running: %s' "$svc" "$((peak / 1048576))" "$state")"
    [ "$state" = "false 0 true" ] || { rc=1; say "$svc was OOM-killed, restarted or stopped"; }
done
[ "$rc" = 0 ] || die "the integration suite failed against the compose stack"
