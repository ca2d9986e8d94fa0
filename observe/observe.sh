#!/usr/bin/env bash
# Prometheus and the exporters beside the stack, all on 127.0.0.1 (make
# observe natively; the `observe` service of observe/compose.yml in compose):
# prometheus-nginx-exporter on nginx's stub_status socket (:9113),
# prometheus-postgres-exporter on PostgreSQL's socket (:9187), and Prometheus
# (:9090) scraping them and both replicas (:9101, :9102) every second as
# observe/prometheus.yml says. It does not start the stack: run it beside
# `make run` or a benchmark, before or after the stack comes up (targets show
# as down meanwhile).
#
#   observe/observe.sh              until Ctrl-C (or SIGTERM)
#   observe/observe.sh --for SECS   stop by itself after SECS seconds
#
# Prometheus's data in var/prometheus (OBSERVE_DATA), logs in var/log/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
LOGS=$repo/var/log
DATA=${OBSERVE_DATA:-$repo/var/prometheus}
PROMETHEUS=127.0.0.1:9090

say() { printf 'observe: %s\n' "$*"; }
die() { printf 'observe: error: %s\n' "$*" >&2; exit 1; }

lifetime=0
case "${1:-}" in
    --for) lifetime=${2:?--for needs a number of seconds} ;;
    "") ;;
    *) echo "usage: $0 [--for SECONDS]" >&2; exit 2 ;;
esac

for bin in prometheus prometheus-nginx-exporter prometheus-postgres-exporter curl; do
    command -v "$bin" >/dev/null || die "$bin not found (run: make observe, which installs it)"
done
for port in 9090 9113 9187; do
    if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is already in use"; fi
done
mkdir -p "$DATA" "$LOGS"

pids=()
stop() {
    trap - EXIT INT TERM
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    say "stopped"
}
trap stop EXIT
trap 'exit 0' INT TERM

# The exporter retries nginx, once a second, for as long as it takes.
prometheus-nginx-exporter -nginx.scrape-uri "unix:/run/rinha/nginx-status.sock:/stub_status" \
    -nginx.retries 1000000 -nginx.retry-interval 1s -web.listen-address 127.0.0.1:9113 \
    >>"$LOGS/nginx-exporter.log" 2>&1 &
pids+=($!)
# As the OS user root, mapped to the role postgres (db/pg_ident.conf); on the
# database postgres, so that its own queries never count in rinha's
# statistics (pg_stat_database is cluster-wide anyway).
DATA_SOURCE_NAME="host=/run/rinha user=postgres dbname=postgres sslmode=disable" \
    prometheus-postgres-exporter --web.listen-address=127.0.0.1:9187 \
    --extend.query-path="$repo/observe/postgres-queries.yaml" --log.level=warn \
    >>"$LOGS/postgres-exporter.log" 2>&1 &
pids+=($!)
prometheus --config.file="$repo/observe/prometheus.yml" --storage.tsdb.path="$DATA" \
    --web.listen-address="$PROMETHEUS" --log.level=warn >>"$LOGS/prometheus.log" 2>&1 &
pids+=($!)

for ((i = 0; i < 300; i++)); do
    kill -0 "${pids[2]}" 2>/dev/null || die "Prometheus exited: see $LOGS/prometheus.log"
    curl -sf -o /dev/null --max-time 1 "http://$PROMETHEUS/-/ready" && break
    sleep 0.1
done
[ "$i" -lt 300 ] || die "Prometheus not ready in 30 s: see $LOGS/prometheus.log"
say "Prometheus console: http://$PROMETHEUS (targets: http://$PROMETHEUS/targets; queries: README.md, Observability)"
say "data in $DATA, logs in $LOGS; $([ "$lifetime" -gt 0 ] && echo "stopping in $lifetime s" || echo "Ctrl-C stops")"

start=$SECONDS
while [ "$lifetime" -eq 0 ] || [ $((SECONDS - start)) -lt "$lifetime" ]; do
    for p in "${pids[@]}"; do
        kill -0 "$p" 2>/dev/null || die "a component exited (pid $p): see $LOGS/"
    done
    sleep 1
done
