#!/bin/sh
# Entrypoint of the database image. As root: makes the shared run folder
# /run/rinha (a volume shared with the replicas) belong to postgres, then
# re-executes itself as postgres. As postgres: on an empty data folder,
# creates the cluster, installs db/postgresql.conf and db/pg_hba.conf, and
# loads the schema, seed and procedures with db/init.sh through a private
# socket (so nobody connects before the seed is in); then runs PostgreSQL
# in the foreground (unix socket in /run/rinha, no TCP).
set -eu
share=/usr/local/share/rinha/db
run_dir=/run/rinha
: "${PGDATA:=/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$run_dir" "$PGDATA"
    chown postgres:postgres "$run_dir" "$PGDATA"
    chmod 0755 "$run_dir"
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -E UTF8 --locale=C.UTF-8 -U postgres --auth=trust >/dev/null
    cp "$share/postgresql.conf" "$share/pg_hba.conf" "$share/pg_ident.conf" "$PGDATA/"
    init_sock=$(mktemp -d)
    pg_ctl -D "$PGDATA" -w -t 60 -s \
        -o "-c unix_socket_directories=$init_sock -c listen_addresses=''" start
    PGHOST=$init_sock PGUSER=postgres "$share/init.sh"
    pg_ctl -D "$PGDATA" -w -t 60 -s -m fast stop
    rmdir "$init_sock"
    echo "db: cluster created and seeded"
fi

if [ "${1:-postgres}" = postgres ]; then
    [ $# -gt 0 ] && shift
    # Linux's default scheduling policy, as for the whole stack (see
    # scripts/stack.sh).
    exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
