"""Shared helpers and fixtures for the HTTP integration tests.

The suite talks to the load balancer (RINHA_URL, default
http://127.0.0.1:9999) over plain http.client connections and checks or
resets the database through tests/bank.py (the clients of db/clientes.csv,
psql).

Every test module imports its helpers from here (``from conftest import
...``); pytest puts this directory on sys.path because it has no
__init__.py.
"""

import http.client
import json
import os
import queue
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bank import (  # noqa: E402,F401  (re-exported to the tests)
    CLIENT_IDS, HOST, LIMITES, PATH_PREFIX, PGHOST, PORT, psql, reset_database)

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

# Every HTTP call gets this timeout so that a hung server fails the test
# instead of hanging the suite.
HTTP_TIMEOUT = 10.0

USER_AGENT = "Agente do Caos - 2024/Q1"

TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")

# How far from the test machine's clock a server timestamp may be.
CLOCK_TOLERANCE_SECONDS = 300

# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


def new_connection(timeout=HTTP_TIMEOUT):
    """A fresh (not yet connected) keep-alive HTTP/1.1 connection."""
    return http.client.HTTPConnection(HOST, PORT, timeout=timeout)


def encode_body(body):
    """bytes are sent as is, str as its UTF-8 text (so it may be any raw,
    even invalid, JSON text), anything else is JSON-encoded (UTF-8, not
    ASCII-escaped)."""
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def decode_body(raw):
    """The parsed JSON of a response body, or the raw bytes when it is
    empty or not JSON."""
    if not raw:
        return raw
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw


def request(method, path, body=None, conn=None, headers=None):
    """Sends one request and reads the whole response.

    Returns (status, headers, parsed JSON or raw bytes). With ``conn`` the
    request goes over that (keep-alive) connection, which stays open;
    otherwise a new connection is opened and closed around the call.
    """
    own = conn is None
    if own:
        conn = new_connection()
    hdrs = {"User-Agent": USER_AGENT}
    data = encode_body(body)
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)
    try:
        conn.request(method, PATH_PREFIX + path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
    except BaseException:
        conn.close()
        raise
    finally:
        if own:
            conn.close()
    return resp.status, resp.headers, decode_body(raw)


def post_transacao(client_id, valor, tipo, descricao, conn=None):
    """POST /clientes/{id}/transacoes with a well-formed body."""
    body = {"valor": valor, "tipo": tipo, "descricao": descricao}
    return request("POST", "/clientes/%s/transacoes" % client_id, body, conn=conn)


def get_extrato(client_id, conn=None):
    """GET /clientes/{id}/extrato."""
    return request("GET", "/clientes/%s/extrato" % client_id, conn=conn)


# --------------------------------------------------------------------------
# Response checks
# --------------------------------------------------------------------------


def is_int(value):
    """A JSON integer (json gives int; bool is excluded on purpose)."""
    return type(value) is int


def media_type(headers):
    value = headers.get("Content-Type") or ""
    return value.split(";", 1)[0].strip().lower()


def assert_has_content_length(status, headers):
    length = headers.get("Content-Length")
    assert length is not None, "HTTP %d response without Content-Length" % status
    assert length.strip().isdigit(), "bad Content-Length %r" % length
    assert headers.get("Transfer-Encoding") is None, "HTTP %d response is chunked" % status


def assert_error_response(status, headers, body, expected):
    """A non-2xx answer: the expected status (an int or a collection), a
    Content-Length, and a small JSON body."""
    allowed = (expected,) if isinstance(expected, int) else tuple(expected)
    assert status in allowed, "expected HTTP %s, got %d: %r" % (allowed, status, body)
    assert_has_content_length(status, headers)
    assert int(headers["Content-Length"]) <= 1024, "error body is not small"
    assert not isinstance(body, bytes), "HTTP %d body is not JSON: %r" % (status, body)


def assert_transacao_ok(status, headers, body, client_id):
    """A 200 transaction answer: exactly {"limite": L, "saldo": S}, the
    client's limite, saldo within the limit. Returns the saldo."""
    assert status == 200, "expected HTTP 200, got %d: %r" % (status, body)
    assert media_type(headers) == "application/json", headers.get("Content-Type")
    assert_has_content_length(status, headers)
    assert isinstance(body, dict), body
    assert set(body) == {"limite", "saldo"}, body
    assert is_int(body["limite"]) and is_int(body["saldo"]), body
    assert body["limite"] == LIMITES[client_id], body
    assert body["saldo"] >= -body["limite"], "limit exceeded: %r" % body
    return body["saldo"]


def parse_timestamp(value):
    """An ISO-8601 UTC timestamp in the agreed format, as an aware
    datetime."""
    assert isinstance(value, str) and TIMESTAMP_RE.match(value), "bad timestamp %r" % value
    main, _, frac = value[:-1].partition(".")
    parsed = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    if frac:
        parsed = parsed.replace(microsecond=int(frac.ljust(6, "0")))
    return parsed


def assert_recent(value, now=None):
    """The timestamp parses and is within a few minutes of now (UTC)."""
    parsed = parse_timestamp(value)
    now = now or datetime.now(timezone.utc)
    skew = abs((now - parsed).total_seconds())
    assert skew <= CLOCK_TOLERANCE_SECONDS, "timestamp %s is %.0f s away from now %s" % (
        value,
        skew,
        now.isoformat(),
    )
    return parsed


def assert_extrato_ok(status, headers, body, client_id):
    """A 200 statement with the agreed shape, the client's limite, total
    within the limit and at most 10 well-formed transactions. Returns the
    body."""
    assert status == 200, "expected HTTP 200, got %d: %r" % (status, body)
    assert media_type(headers) == "application/json", headers.get("Content-Type")
    assert_has_content_length(status, headers)
    assert isinstance(body, dict), body
    assert set(body) == {"saldo", "ultimas_transacoes"}, body
    saldo = body["saldo"]
    assert isinstance(saldo, dict) and set(saldo) == {"total", "data_extrato", "limite"}, saldo
    assert is_int(saldo["total"]) and is_int(saldo["limite"]), saldo
    assert saldo["limite"] == LIMITES[client_id], saldo
    assert saldo["total"] >= -saldo["limite"], "limit exceeded: %r" % saldo
    parse_timestamp(saldo["data_extrato"])
    txs = body["ultimas_transacoes"]
    assert isinstance(txs, list), txs
    assert len(txs) <= 10, "%d transactions listed" % len(txs)
    for tx in txs:
        assert isinstance(tx, dict), tx
        assert set(tx) == {"valor", "tipo", "descricao", "realizada_em"}, tx
        assert is_int(tx["valor"]) and tx["valor"] > 0, tx
        assert tx["tipo"] in ("c", "d"), tx
        assert isinstance(tx["descricao"], str) and 1 <= len(tx["descricao"]) <= 10, tx
        parse_timestamp(tx["realizada_em"])
    return body


def signed(valor, tipo):
    return valor if tipo == "c" else -valor


def signed_sum(transacoes):
    """The balance change of a list of statement entries."""
    return sum(signed(tx["valor"], tx["tipo"]) for tx in transacoes)


# --------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------


def psql_int(sql):
    """The single integer a query returns."""
    rows = psql(sql)
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return int(rows[0][0])


def db_clients():
    """client id -> (limite, saldo) as stored."""
    return {int(i): (int(limite), int(saldo)) for i, limite, saldo in psql("SELECT id, limite, saldo FROM clientes ORDER BY id")}


def db_history():
    """client id -> (count, signed sum) of its stored transactions."""
    rows = psql(
        "SELECT cliente_id, count(*), "
        "coalesce(sum(CASE tipo WHEN 'c' THEN valor ELSE -valor END), 0) "
        "FROM transacoes GROUP BY cliente_id ORDER BY cliente_id"
    )
    return {int(i): (int(n), int(total)) for i, n, total in rows}


def db_total_transacoes():
    return psql_int("SELECT count(*) FROM transacoes")


def assert_db_untouched():
    """The database is still in the seed state (no transaction, saldo 0)."""
    assert db_total_transacoes() == 0, "a transaction was stored"
    assert db_clients() == {i: (limite, 0) for i, limite in LIMITES.items()}


@contextmanager
def role_with(name, grants):
    """A role `name` holding only `grants` (SQL GRANT clauses, each "<what>
    ON <object>") and USAGE on the schema, for the duration of the block;
    statements run as it with psql("SET ROLE <name>; ...", user="postgres")."""
    psql(f"DROP ROLE IF EXISTS {name}; CREATE ROLE {name}; GRANT USAGE ON SCHEMA public TO {name}; "
         + " ".join(f"GRANT {g} TO {name};" for g in grants), user="postgres")
    try:
        yield name
    finally:
        psql(f"DROP OWNED BY {name}; DROP ROLE {name};", user="postgres")


@pytest.fixture(scope="session")
def seeded():
    """Checks once that the database holds exactly the five seeded
    clients with the right limites."""
    clients = db_clients()
    assert {i: limite for i, (limite, _) in clients.items()} == LIMITES, clients
    return clients


@pytest.fixture
def reset(seeded):
    """Brings the database back to the seed state before the test."""
    reset_database()


# --------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------


def run_concurrently(tasks, workers):
    """Runs ``task(conn)`` for every task on ``workers`` threads.

    Each worker owns one keep-alive connection, connects it first, then
    all workers start together (a barrier) and pull tasks from a shared
    queue. Returns the results in task order. On the first failure the
    remaining tasks are dropped and that failure is re-raised.
    """
    tasks = list(tasks)
    if not tasks:
        return []
    workers = max(1, min(workers, len(tasks)))
    pending = queue.SimpleQueue()
    for index, task in enumerate(tasks):
        pending.put((index, task))
    results = [None] * len(tasks)
    errors = []
    stop = threading.Event()
    barrier = threading.Barrier(workers)

    def worker():
        conn = new_connection()
        try:
            try:
                conn.connect()
            except OSError as exc:
                errors.append(exc)
                stop.set()
            try:
                barrier.wait(timeout=HTTP_TIMEOUT)
            except threading.BrokenBarrierError:
                pass
            while not stop.is_set():
                try:
                    index, task = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[index] = task(conn)
                except BaseException as exc:  # re-raised below
                    errors.append(exc)
                    stop.set()
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(worker) for _ in range(workers)]
        for future in futures:
            future.result()
    if errors:
        raise errors[0]
    return results
