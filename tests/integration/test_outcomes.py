"""Exact answers: statements in true time order, acknowledged balances
that the ledger replays, the Idempotency-Key contract, and closed doors
(database, sockets, HTTP/2). All through the real stack (nginx, both
replicas, PostgreSQL)."""

import os
import random
import socket
import stat
import subprocess
import uuid
from datetime import datetime

import pytest

from conftest import (
    CLIENT_IDS,
    LIMITES,
    PGHOST,
    assert_extrato_ok,
    get_extrato,
    psql,
    psql_int,
    request,
    run_concurrently,
    signed,
)

RUN_DIR = PGHOST


def _ts(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _post(client_id, valor, tipo, descricao, key=None, conn=None):
    headers = {"Idempotency-Key": key} if key is not None else None
    body = {"valor": valor, "tipo": tipo, "descricao": descricao}
    return request("POST", "/clientes/%d/transacoes" % client_id, body, conn=conn, headers=headers)


def _mixed_load(seed, tasks=1500, statement_share=0.25):
    """Concurrent writes (unique descricoes) and statement reads through
    nginx, 32 connections. Returns the records ("t", client, valor, tipo,
    descricao, status, saldo) and ("e", client, body)."""
    rng = random.Random(seed)

    def write(client_id, valor, tipo, descricao):
        def task(conn):
            status, _, body = _post(client_id, valor, tipo, descricao, conn=conn)
            assert status in (200, 422), (status, body)
            return ("t", client_id, valor, tipo, descricao, status, body.get("saldo") if status == 200 else None)

        return task

    def read(client_id):
        def task(conn):
            status, headers, body = get_extrato(client_id, conn=conn)
            assert_extrato_ok(status, headers, body, client_id)
            return ("e", client_id, body)

        return task

    plan = []
    for i in range(tasks):
        client_id = rng.choice((1, 2, 2, 3))  # few clients: contention on their row locks
        if rng.random() < statement_share:
            plan.append(read(client_id))
        else:
            plan.append(write(client_id, rng.randint(1, 30000), rng.choice("cdd"), "o%08d" % i))
    return run_concurrently(plan, workers=32)


# --------------------------------------------------------------------------
# Statements in true order
# --------------------------------------------------------------------------


def test_statements_list_transactions_in_true_time_order(reset):
    """Every statement read under contention lists its transactions newest
    first by realizada_em (the order of their ids), none dated after the
    statement's own data_extrato; and in the table, a newer id is never
    dated earlier."""
    records = _mixed_load(seed=11)
    statements = [r for r in records if r[0] == "e"]
    assert len(statements) > 200
    listed = 0
    for _, client_id, body in statements:
        at = _ts(body["saldo"]["data_extrato"])
        times = [_ts(tx["realizada_em"]) for tx in body["ultimas_transacoes"]]
        assert times == sorted(times, reverse=True), "client %d: not newest first: %r" % (client_id, body)
        assert all(t <= at for t in times), "client %d: a transaction after data_extrato: %r" % (client_id, body)
        listed += len(times)
    assert listed > 0, "no statement listed a transaction: the test proved nothing"
    out_of_order = psql_int(
        "SELECT count(*) FROM (SELECT realizada_em < lag(realizada_em) OVER (PARTITION BY cliente_id ORDER BY id)"
        " AS older FROM transacoes) x WHERE older"
    )
    assert out_of_order == 0, "%d transactions dated before an older id of the same client" % out_of_order


# --------------------------------------------------------------------------
# The replay oracle
# --------------------------------------------------------------------------


def test_acknowledged_saldo_is_the_ledger_replay(reset):
    """Replaying each client's transactions in id order, every 200 answered
    exactly the balance right after its own transaction, and every refused
    debit (422) left no trace."""
    records = _mixed_load(seed=12, statement_share=0.05)
    writes = [r for r in records if r[0] == "t"]
    after, running = {}, {}
    for cid, valor, tipo, descr in psql(
        "SELECT cliente_id, valor, tipo, descricao FROM transacoes ORDER BY cliente_id, id"
    ):
        running[cid] = running.get(cid, 0) + signed(int(valor), tipo)
        after[descr] = running[cid]
    acked = [r for r in writes if r[5] == 200]
    refused = [r for r in writes if r[5] == 422]
    assert acked and refused, "the load should both apply and refuse writes"
    for _, client_id, _, _, descricao, _, saldo in acked:
        assert descricao in after, "acknowledged %s is missing" % descricao
        assert saldo == after[descricao], "%s answered %d, the ledger replays %d" % (descricao, saldo, after[descricao])
    for r in refused:
        assert r[4] not in after, "refused %s was stored" % r[4]
    assert len(after) == len(acked)


# --------------------------------------------------------------------------
# Idempotency-Key
# --------------------------------------------------------------------------


def _count(descricao):
    return psql_int("SELECT count(*) FROM transacoes WHERE descricao = '%s'" % descricao)


def test_retry_with_same_key_and_body_replays_the_answer_and_moves_nothing(reset):
    key = str(uuid.uuid4())
    first = _post(1, 500, "d", "idem1", key)
    assert first[0] == 200 and first[2] == {"limite": LIMITES[1], "saldo": -500}
    assert first[1].get("Idempotent-Replayed") is None
    _post(1, 100, "c", "other")  # the balance moves on
    for quoted in (key, '"%s"' % key):  # bare or as a structured-field string
        again = _post(1, 500, "d", "idem1", quoted)
        assert again[0] == 200 and again[2] == first[2], again
        assert again[1].get("Idempotent-Replayed") == "true"
    assert _count("idem1") == 1
    assert get_extrato(1)[2]["saldo"]["total"] == -400


def test_same_key_with_a_different_body_is_refused(reset):
    key = "k-" + uuid.uuid4().hex
    assert _post(2, 10, "c", "a", key)[0] == 200
    for valor, tipo, descricao in ((11, "c", "a"), (10, "d", "a"), (10, "c", "b")):
        status, _, body = _post(2, valor, tipo, descricao, key)
        assert status == 422 and "Idempotency-Key" in body["erro"], body
    assert psql_int("SELECT count(*) FROM transacoes") == 1


def test_a_refused_debit_replays_as_refused(reset):
    key = "r-" + uuid.uuid4().hex
    assert _post(1, LIMITES[1] + 1, "d", "big", key)[0] == 422
    assert _post(1, 10, "c", "cover")[0] == 200  # now it could pass, but the answer is stored
    status, headers, _ = _post(1, LIMITES[1] + 1, "d", "big", key)
    assert status == 422 and headers.get("Idempotent-Replayed") == "true"
    assert _count("big") == 0


def test_keys_are_scoped_to_the_client(reset):
    key = "scope-" + uuid.uuid4().hex
    assert _post(3, 7, "c", "s", key)[2] == {"limite": LIMITES[3], "saldo": 7}
    assert _post(4, 7, "c", "s", key)[2] == {"limite": LIMITES[4], "saldo": 7}
    assert psql_int("SELECT count(*) FROM transacoes") == 2


def test_concurrent_retries_with_one_key_settle_once(reset):
    """The same keyed request 40 times at once over both replicas: applied
    once, and every answer is that one answer."""
    key = "c-" + uuid.uuid4().hex
    answers = run_concurrently([lambda conn: _post(5, 300, "d", "conc", key, conn=conn) for _ in range(40)],
                               workers=20)
    assert {a[0] for a in answers} == {200}
    assert {(a[2]["saldo"], a[2]["limite"]) for a in answers} == {(-300, LIMITES[5])}
    assert sum(a[1].get("Idempotent-Replayed") == "true" for a in answers) == 39
    assert _count("conc") == 1


@pytest.mark.parametrize("value", ["", "a b", "x" * 256, "caf\u00e9", 'a"b'])
def test_malformed_key_is_refused_before_the_database(reset, value):
    status, _, body = request("POST", "/clientes/1/transacoes", {"valor": 1, "tipo": "c", "descricao": "m"},
                              headers={"Idempotency-Key": value.encode("utf-8")})
    assert status == 400 and "Idempotency-Key" in body["erro"]
    assert psql_int("SELECT count(*) FROM transacoes") == 0


def test_keys_expire_after_a_day(reset):
    key = "old-" + uuid.uuid4().hex
    assert _post(1, 5, "c", "e1", key)[0] == 200
    psql("UPDATE idempotencia SET criada_em = criada_em - interval '25 hours'")
    status, headers, body = _post(1, 5, "c", "e1", key)
    assert status == 200 and headers.get("Idempotent-Replayed") is None and body["saldo"] == 10
    assert _count("e1") == 2


# --------------------------------------------------------------------------
# Closed doors
# --------------------------------------------------------------------------


def _as_nobody(*cmd):
    return subprocess.run(["runuser", "-u", "nobody", "--"] + list(cmd), capture_output=True, text=True,
                          timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
@pytest.mark.parametrize("role", ["rinha", "postgres"])
def test_another_local_user_cannot_reach_the_database(role):
    p = _as_nobody("psql", "-X", "-h", RUN_DIR, "-U", role, "-d", "rinha", "-c", "SELECT 1")
    assert p.returncode != 0, "user nobody connected as %s" % role
    # ...and the trusted path still works for root, mapped to rinha.
    assert psql_int("SELECT 1") == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_local_user_cannot_reach_a_replica():
    p = _as_nobody("curl", "-sS", "--max-time", "5", "--unix-socket", "%s/api01.sock" % RUN_DIR,
                   "http://x/clientes/1/extrato")
    assert p.returncode != 0 and "200" not in p.stdout


def test_socket_modes_are_no_wider_than_needed():
    for name in ("api01.sock", "api02.sock"):
        st = os.stat(os.path.join(RUN_DIR, name))
        assert stat.S_IMODE(st.st_mode) == 0o660, (name, oct(st.st_mode))
    pg = os.stat(os.path.join(RUN_DIR, ".s.PGSQL.5432"))
    assert stat.S_IMODE(pg.st_mode) & 0o007 == 0, oct(pg.st_mode)
    rules = subprocess.run(["psql", "-X", "-At", "-h", RUN_DIR, "-U", "postgres", "-d", "rinha", "-c",
                            "SELECT DISTINCT auth_method FROM pg_hba_file_rules"],
                           capture_output=True, text=True, timeout=30)
    assert rules.returncode == 0 and rules.stdout.split() == ["peer"], (rules.stdout, rules.stderr)


def _replica_exchange(payload):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(os.path.join(RUN_DIR, "api01.sock"))
    s.sendall(payload)
    data = b""
    try:
        while len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
    except socket.timeout:
        pass
    s.close()
    return data


def test_replicas_refuse_http2():
    # Prior knowledge: the HTTP/2 preface must not be answered with frames.
    data = _replica_exchange(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    assert data == b"" or data.startswith(b"HTTP/1.1 4"), data[:80]
    # h2c upgrade: answered in HTTP/1.1, never 101 Switching Protocols.
    data = _replica_exchange(
        b"GET /clientes/1/extrato HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    )
    assert data.startswith(b"HTTP/1.1 200"), data[:80]


# --------------------------------------------------------------------------
# Server-Timing
# --------------------------------------------------------------------------


def _server_timing(headers):
    value = headers.get("Server-Timing")
    assert value, "no Server-Timing header"
    parts = {}
    for metric in value.split(","):
        name, _, dur = metric.strip().partition(";dur=")
        parts[name] = float(dur)
    return parts


def test_server_timing_says_where_the_time_went(reset):
    for status, headers, _ in (_post(1, 5, "c", "timing"), get_extrato(1), _post(6, 5, "c", "timing")):
        assert status in (200, 404)
        t = _server_timing(headers)
        assert set(t) == {"queue", "db", "total"}, t
        assert all(v >= 0 for v in t.values()), t
        assert abs(t["queue"] + t["db"] - t["total"]) <= 0.002, t  # ms, rounded to microseconds
        assert 0 < t["db"] < 1000, t
