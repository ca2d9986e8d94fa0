#!/usr/bin/env bash
# The compose stack, built and proven inside the envelope on this machine.
#
#   scripts/compose-test.sh test   (make compose-test) the whole proof, then
#                                  everything torn down
#   scripts/compose-test.sh run    (make compose-run) the same stack up on
#                                  :9999 until Ctrl-C, then torn down
#
# test: installs Debian's docker.io, docker-compose and debootstrap if
# missing; starts a private loopback-only dockerd (scripts/compose-dockerd.sh:
# no iptables, no bridge, no sysctl); creates debian:bookworm-slim locally if
# absent (debootstrap + docker import); builds the images; brings the stack
# up and checks GET /clientes/1/extrato answers 200 within 40 s; checks each
# container's cgroup carries the CPU quota and memory limit compose.yml
# declares; runs the integration suite (tests/integration) against it;
# reports per-container peak memory and CPU used during the suite; tears
# everything down, stops dockerd, and checks the machine is as it was
# (containers, networks, links, firewall rules, forwarding sysctls, mounts).
#
# One stack at a time: holds /tmp/rinha-stack.lock like every stack user.
# Logs and the summary: var/log/compose-test/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
mode=${1:-test}
PROJECT=${COMPOSE_PROJECT:-rinha}
PORT=9999
READY_LIMIT=40
LOGDIR=$repo/var/log/compose-test
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
eval "$("$repo/scripts/compose-dockerd.sh" env)"
DOCKER=/usr/bin/docker
COMPOSE=(/usr/bin/docker-compose --ansi never -p "$PROJECT" -f "$repo/compose.yml")
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
t0=$(now)

# ---------------------------------------------------------------- snapshot
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

# ---------------------------------------------------------------- teardown
started_dockerd=0
teardown() {
    local rc=$?
    set +e
    if [ "$started_dockerd" = 1 ] || "$DOCKER" version >/dev/null 2>&1; then
        if "$DOCKER" version >/dev/null 2>&1; then
            for s in db api01 api02 nginx; do
                "${COMPOSE[@]}" logs --no-color "$s" >"$LOGDIR/$s.log" 2>&1
            done
            "${COMPOSE[@]}" down -v --remove-orphans --timeout 20 >>"$LOGDIR/compose.log" 2>&1
        fi
    fi
    if [ "$started_dockerd" = 1 ]; then
        "$repo/scripts/compose-dockerd.sh" stop >>"$LOGDIR/compose.log" 2>&1
    fi
    if [ -n "${before:-}" ]; then
        after=$(snapshot)
        if [ "$before" != "$after" ]; then
            say "the machine differs from before the run:"
            diff <(echo "$before") <(echo "$after") | sed 's/^/  /'
            [ "$rc" = 0 ] && rc=1
        else
            note "clean: no container, network, link, firewall rule, sysctl or mount left; dockerd stopped"
        fi
    fi
    note "total: $(secs "$t0" "$(now)") s (lock wait excluded)"
    if [ "$mode" = run ]; then
        [ "$rc" = 0 ] && say "stopped" || say "FAIL (logs: var/log/compose-test/)"
    elif [ "$rc" = 0 ]; then
        say "PASS (summary: var/log/compose-test/summary.txt)"
    else
        say "FAIL (logs: var/log/compose-test/)"
    fi
    exit "$rc"
}

# ---------------------------------------------------------------- steps
t=$(now)
"$repo/scripts/compose-dockerd.sh" install
note "packages (docker.io, docker-compose, debootstrap): ready in $(secs "$t" "$(now)") s"

t=$(now)
exec 9>/tmp/rinha-stack.lock
if ! flock -n 9; then
    say "waiting for another stack user (lock /tmp/rinha-stack.lock)"
    flock 9
    note "waited $(secs "$t" "$(now)") s for the stack lock (not counted below)"
fi
t0=$(awk -v a="$t0" -v b="$t" -v c="$(now)" 'BEGIN { printf "%.9f", a + (c - b) }')
before=$(snapshot)
trap teardown EXIT
trap 'exit 130' INT TERM

if ss -Htln "sport = :$PORT" | grep -q .; then
    die "port $PORT is already in use by another program: $(ss -Htlnp "sport = :$PORT" | head -n 1)"
fi

if ! "$DOCKER" version >/dev/null 2>&1; then
    # Without the lock's descriptor (9>&-): dockerd and its containers would
    # inherit it and hold the stack lock for as long as they live.
    "$repo/scripts/compose-dockerd.sh" start 9>&-
    started_dockerd=1
fi
t=$(now)
"$repo/scripts/compose-dockerd.sh" base-image
note "base image debian:bookworm-slim: ready in $(secs "$t" "$(now)") s"

t=$(now)
"${COMPOSE[@]}" build >"$LOGDIR/build.log" 2>&1 || { tail -n 30 "$LOGDIR/build.log" >&2; die "build failed: see $LOGDIR/build.log"; }
note "build: $(secs "$t" "$(now)") s"

t_up=$(now)
"${COMPOSE[@]}" up -d --no-build >>"$LOGDIR/compose.log" 2>&1 &
up_pid=$!
ready=
while :; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/clientes/1/extrato")" = 200 ]; then
        ready=$(secs "$t_up" "$(now)")
        break
    fi
    if [ "$(secs "$t_up" "$(now)" | cut -d. -f1)" -ge "$READY_LIMIT" ]; then break; fi
    sleep 0.2
done
wait "$up_pid" || { cat "$LOGDIR/compose.log" >&2; die "docker-compose up failed"; }
[ -n "$ready" ] || die "no 200 from :$PORT/clientes/1/extrato within ${READY_LIMIT}s of up"
note "up: GET /clientes/1/extrato answered 200 ${ready} s after docker-compose up (limit ${READY_LIMIT} s)"
# The port must be this stack's nginx, not something else.
cid_nginx=$("${COMPOSE[@]}" ps -q nginx)
listener=$(ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
grep -q "$cid_nginx" "/proc/$listener/cgroup" || die ":$PORT is not served by the nginx container"

# cgroup of a container, for controller $2 ("cpu" or "memory"): v1 or v2.
cgroup_dir() {
    local pid=$1 ctl=$2 rel
    rel=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup" | head -n 1)
    if [ -n "$rel" ]; then
        for base in "/sys/fs/cgroup/$ctl" "/sys/fs/cgroup/cpu,cpuacct" "/sys/fs/cgroup/cpuacct,cpu"; do
            [ -d "$base$rel" ] && { echo "$base$rel"; return; }
        done
    fi
    rel=$(awk -F: '$1 == 0 { print $3 }' "/proc/$pid/cgroup")
    echo "/sys/fs/cgroup$rel"
}

# Declared limits: "service cpus memory_MB".
declared=$(/usr/bin/python3 "$repo/scripts/envelope.py" limits "$repo/compose.yml")

declare -A CG_CPU CG_MEM CPU0
bad=0
note "cgroups (declared in compose.yml -> seen in the running container):"
while read -r svc cpus mb; do
    cid=$("${COMPOSE[@]}" ps -q "$svc")
    [ -n "$cid" ] || die "no container for $svc"
    pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$cid")
    cpu_dir=$(cgroup_dir "$pid" cpu)
    mem_dir=$(cgroup_dir "$pid" memory)
    CG_CPU[$svc]=$cpu_dir
    CG_MEM[$svc]=$mem_dir
    if [ -f "$cpu_dir/cpu.cfs_quota_us" ]; then
        quota=$(cat "$cpu_dir/cpu.cfs_quota_us")
        period=$(cat "$cpu_dir/cpu.cfs_period_us")
        mem=$(cat "$mem_dir/memory.limit_in_bytes")
    else
        read -r quota period <"$cpu_dir/cpu.max"
        mem=$(cat "$mem_dir/memory.max")
    fi
    want_quota=$(awk -v c="$cpus" -v p="$period" 'BEGIN { printf "%d", c * p + 0.5 }')
    want_mem=$((mb * 1024 * 1024))
    seen_cpus=$(awk -v q="$quota" -v p="$period" 'BEGIN { printf "%.2f", q / p }')
    ok=ok
    if [ "$quota" != "$want_quota" ] || [ "$mem" != "$want_mem" ]; then ok=MISMATCH; bad=1; fi
    note "$(printf '  %-6s cpus %-5s -> quota %s/%s us (%s CPU)   memory %sMB -> %s bytes (%s MiB)   %s' \
        "$svc" "$cpus" "$quota" "$period" "$seen_cpus" "$mb" "$mem" "$((mem / 1048576))" "$ok")"
done <<<"$declared"
[ "$bad" = 0 ] || die "a container's cgroup does not carry its declared limits"

if [ "$mode" = run ]; then
    say "ready on http://127.0.0.1:$PORT (press Ctrl-C to stop and tear down)"
    trap 'echo; exit 0' INT TERM
    while "$DOCKER" inspect -f '{{.State.Running}}' "$cid_nginx" 2>/dev/null | grep -q true; do sleep 1; done
    die "nginx exited"
fi

# Peaks and CPU from here on belong to the integration suite.
peak_file() { [ -f "$1/memory.max_usage_in_bytes" ] && echo "$1/memory.max_usage_in_bytes" || echo "$1/memory.peak"; }
cpu_ns() {
    if [ -f "$1/cpuacct.usage" ]; then cat "$1/cpuacct.usage"
    elif [ -f "${1/\/cpu\//\/cpuacct\/}/cpuacct.usage" ]; then cat "${1/\/cpu\//\/cpuacct\/}/cpuacct.usage"
    else awk '$1 == "usage_usec" { print $2 * 1000 }' "$1/cpu.stat"; fi
}
declare -A START_PEAK
for svc in "${!CG_MEM[@]}"; do
    START_PEAK[$svc]=$(cat "$(peak_file "${CG_MEM[$svc]}")")
    echo 0 >"$(peak_file "${CG_MEM[$svc]}")" 2>/dev/null || true
    CPU0[$svc]=$(cpu_ns "${CG_CPU[$svc]}")
done

volume=$("$DOCKER" volume inspect -f '{{.Mountpoint}}' "${PROJECT}_run")
t=$(now)
set +e
PGHOST=$volume PGUSER=rinha PGDATABASE=rinha RINHA_URL=http://127.0.0.1:$PORT \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$repo/tests/integration" "${@:2}" 2>&1 |
    tee "$LOGDIR/pytest.log"
rc=$?
set -e
suite=$(secs "$t" "$(now)")
note "integration suite: $(tail -n 1 "$LOGDIR/pytest.log") ($suite s)"

note "memory and CPU during the integration suite (cgroup peak incl. page cache; peak before it, start-up included):"
for svc in db api01 api02 nginx; do
    peak=$(cat "$(peak_file "${CG_MEM[$svc]}")")
    lim=$(cat "${CG_MEM[$svc]}/memory.limit_in_bytes" 2>/dev/null || cat "${CG_MEM[$svc]}/memory.max")
    rss=$(awk '$1 == "total_rss" || $1 == "anon" { print $2; exit }' "${CG_MEM[$svc]}/memory.stat")
    used=$(($(cpu_ns "${CG_CPU[$svc]}") - CPU0[$svc]))
    oom=$("$DOCKER" inspect -f '{{.State.OOMKilled}} {{.RestartCount}} {{.State.Running}}' "$("${COMPOSE[@]}" ps -q "$svc")")
    note "$(printf '  %-6s peak %6.1f MiB of %4d MiB (before: %6.1f MiB)  rss now %5.1f MiB  cpu %5.2f s (%4.1f%% of the suite)  oomkilled/restarts/running: %s' \
        "$svc" "$(awk -v b="$peak" 'BEGIN { print b / 1048576 }')" "$((lim / 1048576))" \
        "$(awk -v b="${START_PEAK[$svc]}" 'BEGIN { print b / 1048576 }')" "$(awk -v b="$rss" 'BEGIN { print b / 1048576 }')" \
        "$(awk -v n="$used" 'BEGIN { print n / 1e9 }')" "$(awk -v n="$used" -v s="$suite" 'BEGIN { print 100 * n / 1e9 / s }')" "$oom")"
    case "$oom" in "false 0 true") ;; *) rc=1; say "$svc was OOM-killed, restarted or stopped" ;; esac
done
[ "$rc" = 0 ] || die "the integration suite failed against the compose stack"
