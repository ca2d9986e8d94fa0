#!/usr/bin/env bash
# The native stack: PostgreSQL, two replicas and nginx on 127.0.0.1:9999.
#
#   scripts/stack.sh run     start everything, wait for Ctrl-C, stop everything
#   scripts/stack.sh start   start everything in the background and return
#   scripts/stack.sh stop    stop what `start` started (by the PIDs it recorded)
#   scripts/stack.sh status  say what runs
#   scripts/stack.sh replica NAME   (re)start replica api01 or api02 of the
#                            running stack, with the binary and settings it
#                            was started with (used by the fault tests)
#
# Environment:
#   API_BIN    server binary (default build/rinha-api)
#   DB_LIB     the database's C functions (default build/rinha_db.so)
#   KEEP_DATA  1 = keep the database of the previous run instead of a fresh one
#   API_ENV    extra VAR=value settings passed to both replicas
#   SCHED_POLICY  every process's scheduling policy: other (Linux's default,
#              as in the containers; the default) or batch; see below
#
# The run folder /run/rinha (sockets, pids of nginx) is a fixed path shared
# with nginx/nginx.conf and compose.yml; the database and logs live in var/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=/run/rinha
VAR=$repo/var
PGDATA=$VAR/pgdata
LOGS=$VAR/log
API_BIN=${API_BIN:-$repo/build/rinha-api}
# The database's C functions (db/c), built by `make` beside the server.
DB_LIB=${DB_LIB:-$repo/build/rinha_db.so}
PORT=9999
READY_TIMEOUT=40

# The scheduling policy. Linux's default (SCHED_OTHER) lets a woken process
# of the stack preempt what runs on its CPU, the load generator included.
# SCHED_POLICY=batch (SCHED_BATCH) does not: a woken process waits until the
# running one blocks or ends its slice. Among the stack's own processes
# that means fewer context switches and more work per wake-up (closed
# loops with wrk: 7-11% more req/s at 16-64 connections); but the official
# test's generator runs on the same cores, and behind a busy generator each
# hop of a request waits: with a real k6 at the official rate, p99 7.6 ms
# under batch against 4.7 under Linux's default (medians of 7 and 9 runs,
# interleaved; README, "Scheduling policy"). The tail at the official load
# decides, so the default is Linux's. chrt execs the command: the PIDs
# recorded are the processes'.
case ${SCHED_POLICY:-other} in
batch) SCHED_CMD=(chrt --batch 0) ;;
other) SCHED_CMD=() ;;
*) printf 'stack: error: SCHED_POLICY must be batch or other, not %s\n' "$SCHED_POLICY" >&2; exit 2 ;;
esac

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] || die "PostgreSQL server binaries not found (run: make deps)"
    echo "$d"
}

# Running, and not a zombie: a killed replica stays a zombie until its
# parent (init, once this script has exited) reaps it.
alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}
pid_of() { [ -f "$VAR/$1.pid" ] && cat "$VAR/$1.pid" || true; }

port_busy() { ss -Htln "sport = :$PORT" 2>/dev/null | grep -q .; }

prepare_dirs() {
    id postgres >/dev/null 2>&1 || die "no 'postgres' user (run: make deps)"
    # The replicas' sockets admit only this group, in which nginx's workers
    # run (nginx/nginx.conf: user nobody rinha).
    getent group rinha >/dev/null || groupadd --system rinha || die "cannot create the group rinha"
    mkdir -p "$RUN_DIR" "$RUN_DIR/nginx" "$LOGS"
    chown postgres:postgres "$RUN_DIR"
    chmod 0755 "$RUN_DIR"
    # PostgreSQL refuses to run as root: its data folder belongs to postgres,
    # which must be able to reach it through every parent folder.
    runuser -u postgres -- test -x "$VAR" ||
        die "user postgres cannot reach $VAR; make its parent folders traversable (chmod o+x)"
}

start_postgres() {
    local bin
    bin=$(pg_bindir)
    [ -f "$DB_LIB" ] || die "$DB_LIB not found (run: make)"
    runuser -u postgres -- test -r "$DB_LIB" ||
        die "user postgres cannot read $DB_LIB; make it and its parent folders readable (chmod o+rx)"
    if [ "${KEEP_DATA:-0}" != 1 ] || [ ! -f "$PGDATA/PG_VERSION" ]; then
        rm -rf "$PGDATA"
        install -d -o postgres -g postgres -m 0700 "$PGDATA"
        runuser -u postgres -- "$bin/initdb" -D "$PGDATA" -E UTF8 --locale=C.UTF-8 -U postgres \
            --auth=trust >"$LOGS/initdb.log" 2>&1 || die "initdb failed: see $LOGS/initdb.log"
        local fresh=1
    fi
    install -o postgres -g postgres -m 0600 "$repo/db/postgresql.conf" "$repo/db/pg_hba.conf" \
        "$repo/db/pg_ident.conf" "$PGDATA/"
    touch "$LOGS/postgres.log" && chown postgres "$LOGS/postgres.log"
    runuser -u postgres -- "${SCHED_CMD[@]}" "$bin/pg_ctl" -D "$PGDATA" -l "$LOGS/postgres.log" -w -t 30 start >/dev/null ||
        die "PostgreSQL did not start: see $LOGS/postgres.log"
    if [ "${fresh:-0}" = 1 ]; then
        PGHOST=$RUN_DIR PGUSER=postgres RINHA_DB_LIB=$DB_LIB "$repo/db/init.sh" >"$LOGS/db-init.log" 2>&1 ||
            die "loading the schema failed: see $LOGS/db-init.log"
    fi
    say "PostgreSQL up (socket $RUN_DIR, data $PGDATA)"
}

# Each replica's Prometheus metrics (GET /metrics) on a loopback port that
# nginx never routes (observe/prometheus.yml scrapes them);
# API_ENV="METRICS_LISTEN=" turns them off.
metrics_listen() { case $1 in api01) echo 127.0.0.1:9101 ;; api02) echo 127.0.0.1:9102 ;; esac; }

start_replica() {
    local name=$1
    if alive "$(pid_of "$name")"; then die "$name already runs"; fi
    # shellcheck disable=SC2086 # API_ENV is a list of VAR=value words
    env LISTEN="unix:$RUN_DIR/$name.sock" LISTEN_GROUP=rinha REPLICA_NAME="$name" \
        METRICS_LISTEN="$(metrics_listen "$name")" ${API_ENV:-} \
        "${SCHED_CMD[@]}" "$API_BIN" >>"$LOGS/$name.log" 2>&1 &
    echo $! >"$VAR/$name.pid"
}

start_nginx() {
    command -v nginx >/dev/null || die "nginx not found (run: make deps)"
    "${SCHED_CMD[@]}" nginx -e stderr -c "$repo/nginx/nginx.conf" >>"$LOGS/nginx.log" 2>&1 &
    echo $! >"$VAR/nginx.pid"
}

wait_ready() {
    local i
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/clientes/1/extrato")" = 200 ]; then
            return 0
        fi
        for p in api01 api02 nginx; do
            alive "$(pid_of $p)" || die "$p exited during start-up: see $LOGS/$p.log"
        done
        sleep 0.1
    done
    die "no 200 from :$PORT/clientes/1/extrato within ${READY_TIMEOUT}s: see $LOGS/"
}

cmd_start() {
    [ -x "$API_BIN" ] || die "$API_BIN not built (run: make)"
    if alive "$(pid_of nginx)"; then die "the stack already runs (scripts/stack.sh stop)"; fi
    port_busy && die "port $PORT is already in use by another program"
    prepare_dirs
    : >"$LOGS/api01.log"; : >"$LOGS/api02.log"; : >"$LOGS/nginx.log"
    # Remembered for `replica`, which restarts one replica the same way.
    printf '%s\n' "$API_BIN" >"$VAR/api.bin"
    printf '%s\n' "${API_ENV:-}" >"$VAR/api.env"
    start_postgres
    start_replica api01
    start_replica api02
    start_nginx
    wait_ready
    say "ready: http://127.0.0.1:$PORT (logs in $LOGS)"
}

# Waits up to $2 tenths of a second for PID $1 to exit.
wait_gone() {
    local i
    for ((i = 0; i < $2; i++)); do
        alive "$1" || return 0
        sleep 0.1
    done
    return 1
}

stop_pid() {
    local name=$1 pid
    pid=$(pid_of "$name")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 100; then
            say "$name did not stop in 10 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$VAR/$name.pid"
}

cmd_stop() {
    stop_pid nginx
    stop_pid api01
    stop_pid api02
    if [ -f "$PGDATA/postmaster.pid" ]; then
        runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -f "$RUN_DIR"/api01.sock "$RUN_DIR"/api02.sock "$RUN_DIR"/nginx-status.sock
    say "stopped"
}

cmd_status() {
    for p in nginx api01 api02; do
        if alive "$(pid_of $p)"; then say "$p running (pid $(pid_of $p))"; else say "$p not running"; fi
    done
    if [ -f "$PGDATA/postmaster.pid" ]; then say "postgres running (pid $(head -n 1 "$PGDATA/postmaster.pid"))"; else say "postgres not running"; fi
}

cmd_run() {
    trap 'echo; cmd_stop; exit 0' INT TERM
    cmd_start || { cmd_stop; exit 1; }
    say "press Ctrl-C to stop"
    while alive "$(pid_of nginx)"; do sleep 1; done
    say "nginx exited; stopping"
    cmd_stop
    exit 1
}

cmd_replica() {
    local name=${1:-}
    case "$name" in api01 | api02) ;; *) die "usage: $0 replica api01|api02" ;; esac
    [ -f "$VAR/api.bin" ] || die "the stack is not running"
    API_BIN=$(cat "$VAR/api.bin")
    API_ENV=$(cat "$VAR/api.env")
    start_replica "$name"
    say "$name started (pid $(pid_of "$name"))"
}

case "${1:-}" in
    run) cmd_run ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    replica) cmd_replica "${2:-}" ;;
    *) echo "usage: $0 run|start|stop|status|replica NAME" >&2; exit 2 ;;
esac
