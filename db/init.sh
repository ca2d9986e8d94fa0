#!/bin/sh
# Creates the application role and database and loads the schema, seed and
# procedures. Runs against an already started, empty cluster reached through
# the libpq environment (PGHOST, PGPORT, PGUSER = a superuser).
# Used by the native launcher and by the database image alike.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
db=${RINHA_DB:-rinha}
role=${RINHA_DB_USER:-rinha}

psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "CREATE ROLE \"$role\" LOGIN" \
    -c "CREATE DATABASE \"$db\" OWNER \"$role\""
# From db/ itself: the seed reads clientes.csv by a relative path.
cd "$here"
for f in [0-9][0-9]-*.sql; do
    psql -X -q -v ON_ERROR_STOP=1 -U "$role" -d "$db" -f "$f"
done
# The C functions (db/c), declared by this superuser: RINHA_DB_LIB is the
# library's path, built by `make` (scripts/stack.sh passes build/'s) or
# installed in PostgreSQL's own library folder (the database image).
for f in c/*.sql; do
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v lib="${RINHA_DB_LIB:-\$libdir/rinha_db}" -v role="$role" -f "$f"
done

# WAL warm-up. A fresh cluster has one WAL segment; each further 16 MB
# segment is created on demand, zero-filled and fsynced by the backend whose
# commit first needs it, while every commit behind it waits: measured here,
# the two longest commits of a fresh 25 s pgbench run (15-17 ms against a
# p99 of ~1 ms) were those two creations. So create spare segments now:
# each pg_switch_wal() (after a commit, so that there is something to
# switch from) starts a new one; the checkpoint then recycles them as future
# segments (min_wal_size keeps up to 16). 8 x 16 MB hold the WAL of about
# 400,000 requests (~290 bytes each), six times the official test.
spare=${WAL_SPARE_SEGMENTS:-8}
i=0
while [ "$i" -lt "$spare" ]; do
    echo "SELECT txid_current(); SELECT pg_switch_wal();"
    i=$((i + 1))
done | psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c CHECKPOINT
