"""Steps 1 and 2 of the official Gatling simulation, replayed exactly.

Step 1 (client 1): 25 concurrent debits of 1 (all 200), then one
statement with total -25; 25 concurrent credits of 1 (all 200), then one
statement with total 0.

Step 2 (every client in parallel, plus the 404 check for client 6):
statement at 0 with the right limite; credit 1 "toma"; debit 1 "devolve";
statement listing devolve then toma; credit 1 "danada" followed by 4
concurrent statements that must all reflect it; five invalid payloads
answered with 422 (or 400).
"""

from conftest import (
    CLIENT_IDS,
    LIMITES,
    assert_extrato_ok,
    assert_transacao_ok,
    get_extrato,
    request,
    run_concurrently,
)

CONCURRENT_REQUESTS = 25

# The five invalid payloads of the simulation, byte for byte.
INVALID_PAYLOADS = [
    '{"valor": 1.2, "tipo": "d", "descricao": "devolve"}',
    '{"valor": 1, "tipo": "x", "descricao": "devolve"}',
    '{"valor": 1, "tipo": "c", "descricao": "123456789 e mais um pouco"}',
    '{"valor": 1, "tipo": "c", "descricao": ""}',
    '{"valor": 1, "tipo": "c", "descricao": null}',
]


def _post_raw(client_id, payload, conn):
    return request("POST", "/clientes/%d/transacoes" % client_id, payload, conn=conn)


def _concurrent_validation(tipo):
    """25 requests at once, each on its own connection."""
    payload = '{"valor": 1, "tipo": "%s", "descricao": "validacao"}' % tipo
    results = run_concurrently(
        [lambda conn: _post_raw(1, payload, conn)] * CONCURRENT_REQUESTS,
        workers=CONCURRENT_REQUESTS,
    )
    statuses = [status for status, _, _ in results]
    assert statuses == [200] * CONCURRENT_REQUESTS, "tipo %s: %r" % (tipo, statuses)
    for status, headers, body in results:
        assert_transacao_ok(status, headers, body, 1)


def _statement_total(client_id):
    status, headers, body = get_extrato(client_id)
    assert_extrato_ok(status, headers, body, client_id)
    return body["saldo"]["total"]


def run_step1():
    _concurrent_validation("d")
    assert _statement_total(1) == -CONCURRENT_REQUESTS
    _concurrent_validation("c")
    assert _statement_total(1) == 0


def _entry(tx):
    return (tx["descricao"], tx["tipo"], tx["valor"])


def _client_scenario(client_id, conn):
    """The per-client "validações" scenario, over one connection like a
    Gatling virtual user."""
    limite = LIMITES[client_id]

    status, headers, body = get_extrato(client_id, conn=conn)
    assert_extrato_ok(status, headers, body, client_id)
    assert body["saldo"]["limite"] == limite
    assert body["saldo"]["total"] == 0

    status, headers, body = _post_raw(client_id, '{"valor": 1, "tipo": "c", "descricao": "toma"}', conn)
    assert_transacao_ok(status, headers, body, client_id)

    status, headers, body = _post_raw(client_id, '{"valor": 1, "tipo": "d", "descricao": "devolve"}', conn)
    assert_transacao_ok(status, headers, body, client_id)

    status, headers, body = get_extrato(client_id, conn=conn)
    assert_extrato_ok(status, headers, body, client_id)
    txs = body["ultimas_transacoes"]
    assert len(txs) >= 2, txs
    assert _entry(txs[0]) == ("devolve", "d", 1), txs
    assert _entry(txs[1]) == ("toma", "c", 1), txs

    status, headers, body = _post_raw(client_id, '{"valor": 1, "tipo": "c", "descricao": "danada"}', conn)
    saldo = assert_transacao_ok(status, headers, body, client_id)
    assert body["limite"] == limite

    # Gatling's .resources(...): 4 statements at once, right after the
    # credit's answer; every one of them must already see it.
    results = run_concurrently([lambda c: get_extrato(client_id, conn=c)] * 4, workers=4)
    for status, headers, body in results:
        assert_extrato_ok(status, headers, body, client_id)
        assert body["ultimas_transacoes"], body
        assert _entry(body["ultimas_transacoes"][0]) == ("danada", "c", 1), body
        assert body["saldo"]["limite"] == limite, body
        assert body["saldo"]["total"] == saldo, body

    for payload in INVALID_PAYLOADS:
        status, _, body = _post_raw(client_id, payload, conn)
        assert status in (400, 422), "client %d, %s -> %d %r" % (client_id, payload, status, body)
    return client_id


def _client_not_found(conn):
    status, _, body = get_extrato(6, conn=conn)
    assert status == 404, "GET /clientes/6/extrato -> %d %r" % (status, body)
    return 6


def run_step2():
    tasks = [lambda conn, cid=cid: _client_scenario(cid, conn) for cid in CLIENT_IDS]
    tasks.append(_client_not_found)
    assert run_concurrently(tasks, workers=len(tasks)) == list(CLIENT_IDS) + [6]


def test_step1_concurrent_debits_then_credits_on_client_1(reset):
    run_step1()


def test_step2_per_client_validations_in_parallel(reset):
    run_step2()


def test_steps_1_and_2_in_sequence(reset):
    run_step1()
    run_step2()
