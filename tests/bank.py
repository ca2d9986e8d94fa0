"""What every test suite knows of the bank itself: its clients, read from
db/clientes.csv (the file the seed loads), its address (RINHA_URL) and its
database, reached through the psql CLI.

Shared by tests/integration (conftest.py) and tests/faults (faultkit.py);
each puts tests/ on sys.path to import it. The database is the one of the
stack under test: PGHOST / PGUSER / PGDATABASE, by default the native
stack's socket folder /run/rinha, user and database rinha (compose-test.sh
points PGHOST at the compose stack's socket volume).
"""

import csv
import os
import subprocess
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENTS_CSV = os.path.join(REPO, "db", "clientes.csv")


def read_limites(path=CLIENTS_CSV):
    """client id -> limite, as the seed loads them (header `id,limite`)."""
    with open(path, newline="") as f:
        return {int(row["id"]): int(row["limite"]) for row in csv.DictReader(f)}


# Every client starts with saldo 0.
LIMITES = read_limites()
CLIENT_IDS = tuple(sorted(LIMITES))

# The load balancer of the stack under test (RINHA_URL).
BASE_URL = os.environ.get("RINHA_URL", "http://127.0.0.1:9999")
_URL = urllib.parse.urlsplit(BASE_URL)
HOST = _URL.hostname or "127.0.0.1"
PORT = _URL.port or 80
PATH_PREFIX = _URL.path.rstrip("/")

PGHOST = os.environ.get("PGHOST") or "/run/rinha"
PGUSER = os.environ.get("PGUSER") or "rinha"
PGDATABASE = os.environ.get("PGDATABASE") or "rinha"
# A hung database fails the test instead of hanging the suite.
PSQL_TIMEOUT = 60.0


def psql(sql, user=None):
    """Runs SQL through the psql CLI (as PGUSER, or `user`); returns the rows
    of its unaligned, tuples-only output as lists of strings. Raises on any
    SQL error."""
    cmd = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
           "-h", PGHOST, "-U", user or PGUSER, "-d", PGDATABASE, "-c", sql]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PSQL_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError("psql failed (exit %d) on %r: %s" % (proc.returncode, sql, proc.stderr.strip()))
    return [line.split("|") for line in proc.stdout.splitlines() if line]


# The seed state: clientes as loaded, saldo 0, and every other table
# (transactions, idempotency keys, whatever the schema adds) empty.
RESET_SQL = """DO $$ BEGIN
  EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('%I', tablename), ', ')
           FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'clientes');
END $$;
UPDATE clientes SET saldo = 0;"""


def reset_database():
    """Back to the seed state (RESET_SQL)."""
    psql(RESET_SQL)
