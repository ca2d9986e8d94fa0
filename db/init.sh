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
