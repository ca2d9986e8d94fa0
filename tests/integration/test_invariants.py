"""Invariants under concurrency: the limit is never exceeded, no accepted
transaction is lost and no refused one is stored, balances agree with the
history (over HTTP and in the database), statements are snapshots.

Random loads print their seed; set RINHA_SEED to replay one.
"""

import os
import random
import string
import threading
import time
from collections import Counter

from conftest import (
    CLIENT_IDS,
    LIMITES,
    assert_db_untouched,
    assert_error_response,
    assert_extrato_ok,
    assert_transacao_ok,
    db_clients,
    db_history,
    db_total_transacoes,
    get_extrato,
    post_transacao,
    psql,
    run_concurrently,
    signed,
    signed_sum,
)

ALNUM = string.ascii_letters + string.digits
WORKERS = 32


def _rng():
    seed = int(os.environ.get("RINHA_SEED") or random.randrange(2**32))
    print("random seed: RINHA_SEED=%d" % seed)
    return random.Random(seed)


def _db_saldo_vs_history():
    """client id -> (clientes.saldo, signed sum of its transacoes), for
    every client, including those without transactions."""
    rows = psql(
        "SELECT c.id, c.saldo, "
        "coalesce(sum(CASE t.tipo WHEN 'c' THEN t.valor ELSE -t.valor END), 0) "
        "FROM clientes c LEFT JOIN transacoes t ON t.cliente_id = c.id "
        "GROUP BY c.id, c.saldo ORDER BY c.id"
    )
    return {int(i): (int(saldo), int(total)) for i, saldo, total in rows}


def _assert_db_saldo_matches_history():
    pairs = _db_saldo_vs_history()
    assert set(pairs) == set(CLIENT_IDS), pairs
    for client_id, (saldo, history) in pairs.items():
        assert saldo == history, "client %d: clientes.saldo %d != sum of transacoes %d" % (
            client_id,
            saldo,
            history,
        )
        assert saldo >= -LIMITES[client_id], "client %d: saldo %d beyond its limit" % (client_id, saldo)


def _db_transactions():
    """Counter of (cliente_id, valor, tipo, descricao) over all stored
    transactions."""
    rows = psql("SELECT cliente_id, valor, tipo, descricao FROM transacoes")
    return Counter((int(c), int(v), t, d) for c, v, t, d in rows)


def _assert_statement_snapshot(body):
    """A statement that lists fewer than 10 transactions lists the whole
    history, so its total must be their signed sum. Returns whether the
    check applied."""
    txs = body["ultimas_transacoes"]
    if len(txs) < 10:
        assert body["saldo"]["total"] == signed_sum(txs), "statement total disagrees with its own list: %r" % body
        return True
    return False


# --------------------------------------------------------------------------
# (a) the limit under a burst of concurrent debits
# --------------------------------------------------------------------------


def test_concurrent_debits_never_exceed_the_limit(reset):
    client_id, valor, attempts = 2, 1000, 300
    limite = LIMITES[client_id]
    fits = limite // valor  # 80

    def debit(conn):
        return post_transacao(client_id, valor, "d", "burst", conn=conn)

    results = run_concurrently([debit] * attempts, workers=50)

    accepted, refused = [], 0
    for status, headers, body in results:
        if status == 200:
            accepted.append(assert_transacao_ok(status, headers, body, client_id))
        else:
            assert_error_response(status, headers, body, 422)
            refused += 1
    assert (len(accepted), refused) == (fits, attempts - fits)
    # Serialised debits: each accepted one saw a distinct balance.
    assert sorted(accepted, reverse=True) == [-valor * k for k in range(1, fits + 1)]

    status, headers, body = get_extrato(client_id)
    assert_extrato_ok(status, headers, body, client_id)
    assert body["saldo"]["total"] == -limite
    assert [(tx["valor"], tx["tipo"], tx["descricao"]) for tx in body["ultimas_transacoes"]] == [
        (valor, "d", "burst")
    ] * 10

    assert db_history() == {client_id: (fits, -limite)}
    assert db_clients()[client_id] == (limite, -limite)
    _assert_db_saldo_matches_history()


# --------------------------------------------------------------------------
# (b) a random mixed load
# --------------------------------------------------------------------------


def _mixed_tasks(rng, debits, credits, extratos, debit_max):
    """Shuffled tasks; each checks its own answer and returns a record."""

    def transacao(client_id, valor, tipo, descricao):
        def task(conn):
            status, headers, body = post_transacao(client_id, valor, tipo, descricao, conn=conn)
            if status == 200:
                assert_transacao_ok(status, headers, body, client_id)
            else:
                assert tipo == "d", "credit %d on client %d -> %d %r" % (valor, client_id, status, body)
                assert_error_response(status, headers, body, 422)
            return ("t", client_id, valor, tipo, descricao, status)

        return task

    def extrato(client_id):
        def task(conn):
            status, headers, body = get_extrato(client_id, conn=conn)
            assert_extrato_ok(status, headers, body, client_id)  # includes total >= -limite
            return ("e", client_id, body)

        return task

    def descricao():
        return "".join(rng.choice(ALNUM) for _ in range(10))

    tasks = [transacao(rng.choice(CLIENT_IDS), rng.randint(1, debit_max), "d", descricao()) for _ in range(debits)]
    tasks += [transacao(rng.choice(CLIENT_IDS), rng.randint(1, 10000), "c", descricao()) for _ in range(credits)]
    tasks += [extrato(rng.choice(CLIENT_IDS)) for _ in range(extratos)]
    rng.shuffle(tasks)
    return tasks


def _split(records):
    transacoes = [r for r in records if r[0] == "t"]
    statements = [r for r in records if r[0] == "e"]
    return transacoes, statements


def test_random_mixed_load_keeps_every_balance_consistent(reset):
    rng = _rng()
    records = run_concurrently(_mixed_tasks(rng, 2000, 1000, 300, debit_max=100000), workers=WORKERS)
    transacoes, statements = _split(records)

    accepted = [r for r in transacoes if r[5] == 200]
    refused = [r for r in transacoes if r[5] != 200]
    assert refused, "no debit was refused: the load did not reach any limit"
    expected = {cid: 0 for cid in CLIENT_IDS}
    for _, client_id, valor, tipo, _, _ in accepted:
        expected[client_id] += signed(valor, tipo)

    # Over HTTP: final totals, and final lists made of accepted transactions.
    accepted_by_client = {cid: Counter() for cid in CLIENT_IDS}
    for _, client_id, valor, tipo, descricao, _ in accepted:
        accepted_by_client[client_id][(valor, tipo, descricao)] += 1
    for client_id in CLIENT_IDS:
        status, headers, body = get_extrato(client_id)
        assert_extrato_ok(status, headers, body, client_id)
        assert body["saldo"]["total"] == expected[client_id], "client %d" % client_id
        listed = Counter((tx["valor"], tx["tipo"], tx["descricao"]) for tx in body["ultimas_transacoes"])
        assert len(body["ultimas_transacoes"]) == min(10, sum(accepted_by_client[client_id].values()))
        assert not listed - accepted_by_client[client_id], "listed transactions never accepted: %r" % body

    # In the database: balances, sums, counts and the exact transactions.
    assert db_total_transacoes() == len(accepted)
    assert db_clients() == {cid: (LIMITES[cid], expected[cid]) for cid in CLIENT_IDS}
    history = db_history()
    for client_id in CLIENT_IDS:
        count = sum(accepted_by_client[client_id].values())
        assert history.get(client_id, (0, 0)) == (count, expected[client_id]), "client %d" % client_id
    assert _db_transactions() == Counter((r[1], r[2], r[3], r[4]) for r in accepted)
    _assert_db_saldo_matches_history()

    # Statements taken during the load: snapshots within the limit.
    for _, client_id, body in statements:
        assert body["saldo"]["total"] >= -LIMITES[client_id]
        _assert_statement_snapshot(body)


# --------------------------------------------------------------------------
# (c) balances agree with their own history
# --------------------------------------------------------------------------


def test_sql_saldo_equals_history_after_concurrent_load(reset):
    _assert_db_saldo_matches_history()  # the seed: all zero, no history
    rng = _rng()
    records = run_concurrently(_mixed_tasks(rng, 400, 200, 60, debit_max=100000), workers=WORKERS)
    transacoes, statements = _split(records)
    _assert_db_saldo_matches_history()
    assert db_total_transacoes() == sum(1 for r in transacoes if r[5] == 200)
    for _, _, body in statements:
        _assert_statement_snapshot(body)


def test_statements_during_writes_are_consistent_snapshots(reset):
    """One sequential writer per client makes 9 transactions while readers
    keep fetching statements. With fewer than 10 transactions a statement
    lists the whole history: its total must be the signed sum of its list,
    and the list, oldest first, must be a prefix of what the writer did.
    Reads over one connection must never go back in time."""
    writes_per_client = 9
    plan = {
        cid: [
            (100 * (i + 1) + cid, "c" if i % 2 == 0 else "d", "w%d-%d" % (cid, i))
            for i in range(writes_per_client)
        ]
        for cid in CLIENT_IDS
    }
    writers_left = [len(CLIENT_IDS)]
    lock = threading.Lock()
    done = threading.Event()
    deadline = time.monotonic() + 30

    def writer(client_id):
        def task(conn):
            try:
                saldo = 0
                for valor, tipo, descricao in plan[client_id]:
                    status, headers, body = post_transacao(client_id, valor, tipo, descricao, conn=conn)
                    saldo += signed(valor, tipo)
                    assert assert_transacao_ok(status, headers, body, client_id) == saldo
                    time.sleep(0.005)
            finally:
                with lock:
                    writers_left[0] -= 1
                    if writers_left[0] == 0:
                        done.set()
            return ("w", client_id)

        return task

    def reader(seed):
        def task(conn):
            rng = random.Random(seed)
            seen = {cid: 0 for cid in CLIENT_IDS}
            reads = 0
            while not done.is_set() and time.monotonic() < deadline:
                client_id = rng.choice(CLIENT_IDS)
                status, headers, body = get_extrato(client_id, conn=conn)
                assert_extrato_ok(status, headers, body, client_id)
                txs = body["ultimas_transacoes"]
                assert len(txs) <= writes_per_client, body
                assert _assert_statement_snapshot(body)
                oldest_first = [(tx["valor"], tx["tipo"], tx["descricao"]) for tx in reversed(txs)]
                assert oldest_first == plan[client_id][: len(txs)], "client %d: %r" % (client_id, body)
                assert len(txs) >= seen[client_id], "client %d went back in time: %r" % (client_id, body)
                seen[client_id] = len(txs)
                reads += 1
            return ("r", reads)

        return task

    tasks = [writer(cid) for cid in CLIENT_IDS] + [reader(seed) for seed in range(8)]
    results = run_concurrently(tasks, workers=len(tasks))
    assert done.is_set(), "writers did not finish in time"
    assert sum(r[1] for r in results if r[0] == "r") > 0

    for client_id in CLIENT_IDS:
        status, headers, body = get_extrato(client_id)
        assert_extrato_ok(status, headers, body, client_id)
        expected = sum(signed(v, t) for v, t, _ in plan[client_id])
        assert body["saldo"]["total"] == expected
        assert [(tx["valor"], tx["tipo"], tx["descricao"]) for tx in body["ultimas_transacoes"]] == list(
            reversed(plan[client_id])
        )
    _assert_db_saldo_matches_history()


# --------------------------------------------------------------------------
# (e) the procedures guard what the tables no longer CHECK (db/01-schema.sql)
# --------------------------------------------------------------------------


def test_procedures_refuse_bad_tipo_and_valor_by_themselves(reset):
    """A caller that skips the API's validation still cannot store a
    transaction of tipo 'x' or of valor <= 0: both procedures raise, and
    nothing is written."""
    bad_calls = [
        "SELECT * FROM transacoes_lote('{1}', '{5}', 'x', '{abc}')",
        "SELECT * FROM transacoes_lote('{1,2}', '{5,0}', 'cc', '{abc,abc}')",
        "SELECT * FROM transacoes_lote('{1}', '{-5}', 'd', '{abc}')",
        "SELECT * FROM transacoes_lote('{1}', '{NULL}', 'c', '{abc}')",
        "SELECT * FROM transacao(1, 5, 'x', 'abc')",
        "SELECT * FROM transacao(1, 0, 'c', 'abc')",
    ]
    for sql in bad_calls:
        try:
            psql(sql)
        except RuntimeError as e:
            # The procedure's own message, not any error on the way.
            assert "tipo must be c or d" in str(e) or "invalid tipo or valor" in str(e), e
        else:
            raise AssertionError("accepted: %s" % sql)
    assert_db_untouched()
    # And the guard lets the good ones through.
    assert psql("SELECT r_status FROM transacoes_lote('{1,2}', '{5,7}', 'cd', '{a,b}')") == [["0"], ["0"]]


def test_the_database_starts_with_spare_wal_segments():
    """db/init.sh creates spare WAL segments, so that no commit of a run
    waits while a new 16 MB segment is zero-filled and flushed. The suite's
    own traffic uses far less than one segment, so most are still ahead."""
    ahead = psql(
        "SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' "
        "AND name > pg_walfile_name(pg_current_wal_lsn())",
        user="postgres",
    )
    assert int(ahead[0][0]) >= 4, "only %s WAL segments ahead of the current one" % ahead[0][0]
