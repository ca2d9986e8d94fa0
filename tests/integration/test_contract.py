"""The API contract, request by request: validation, routing, status
codes, response shapes, keep-alive, statement order and timestamps."""

from datetime import datetime, timedelta, timezone

import pytest

from conftest import (
    CLIENT_IDS,
    LIMITES,
    PATH_PREFIX,
    USER_AGENT,
    assert_db_untouched,
    assert_error_response,
    assert_extrato_ok,
    assert_recent,
    assert_transacao_ok,
    db_clients,
    db_history,
    db_total_transacoes,
    get_extrato,
    new_connection,
    parse_timestamp,
    post_transacao,
    request,
    signed_sum,
)

VALID = '{"valor": 1, "tipo": "c", "descricao": "ok"}'

# (id, raw request body) pairs that must all get 422 on a known client.
INVALID_BODIES = [
    # Not JSON, or not exactly one JSON object.
    ("empty-body", ""),
    ("array", "[]"),
    ("json-null", "null"),
    ("json-number", "1"),
    ("json-string", '"x"'),
    ("empty-object", "{}"),
    ("truncated", '{"valor": 1, "tipo": "c", "descricao": "ok"'),
    ("unquoted-keys", '{valor: 1, tipo: "c", descricao: "ok"}'),
    ("single-quotes", "{'valor': 1, 'tipo': 'c', 'descricao': 'ok'}"),
    ("plain-text", "valor=1&tipo=c&descricao=ok"),
    ("trailing-garbage", VALID + " x"),
    ("trailing-object", VALID + "{}"),
    ("trailing-bracket", VALID + "]"),
    ("duplicate-valor", '{"valor": 1, "valor": 2, "tipo": "c", "descricao": "ok"}'),
    ("duplicate-tipo", '{"valor": 1, "tipo": "c", "tipo": "c", "descricao": "ok"}'),
    ("duplicate-descricao", '{"valor": 1, "tipo": "c", "descricao": "ok", "descricao": "ok"}'),
    # valor
    ("valor-1.2", '{"valor": 1.2, "tipo": "c", "descricao": "ok"}'),
    ("valor-1.0", '{"valor": 1.0, "tipo": "c", "descricao": "ok"}'),
    ("valor-1e3", '{"valor": 1e3, "tipo": "c", "descricao": "ok"}'),
    ("valor-string", '{"valor": "1", "tipo": "c", "descricao": "ok"}'),
    ("valor-zero", '{"valor": 0, "tipo": "c", "descricao": "ok"}'),
    ("valor-minus-zero", '{"valor": -0, "tipo": "c", "descricao": "ok"}'),
    ("valor-negative", '{"valor": -1, "tipo": "c", "descricao": "ok"}'),
    ("valor-null", '{"valor": null, "tipo": "c", "descricao": "ok"}'),
    ("valor-true", '{"valor": true, "tipo": "c", "descricao": "ok"}'),
    ("valor-array", '{"valor": [1], "tipo": "c", "descricao": "ok"}'),
    ("valor-missing", '{"tipo": "c", "descricao": "ok"}'),
    ("valor-1e20", '{"valor": 99999999999999999999, "tipo": "c", "descricao": "ok"}'),
    ("valor-2^53", '{"valor": 9007199254740992, "tipo": "c", "descricao": "ok"}'),
    # tipo
    ("tipo-x", '{"valor": 1, "tipo": "x", "descricao": "ok"}'),
    ("tipo-upper-C", '{"valor": 1, "tipo": "C", "descricao": "ok"}'),
    ("tipo-upper-D", '{"valor": 1, "tipo": "D", "descricao": "ok"}'),
    ("tipo-empty", '{"valor": 1, "tipo": "", "descricao": "ok"}'),
    ("tipo-cd", '{"valor": 1, "tipo": "cd", "descricao": "ok"}'),
    ("tipo-null", '{"valor": 1, "tipo": null, "descricao": "ok"}'),
    ("tipo-array", '{"valor": 1, "tipo": ["c"], "descricao": "ok"}'),
    ("tipo-missing", '{"valor": 1, "descricao": "ok"}'),
    # descricao
    ("descricao-empty", '{"valor": 1, "tipo": "c", "descricao": ""}'),
    ("descricao-11-chars", '{"valor": 1, "tipo": "c", "descricao": "12345678901"}'),
    ("descricao-official-long", '{"valor": 1, "tipo": "c", "descricao": "123456789 e mais um pouco"}'),
    ("descricao-11-cedillas", '{"valor": 1, "tipo": "c", "descricao": "' + "ç" * 11 + '"}'),
    ("descricao-null", '{"valor": 1, "tipo": "c", "descricao": null}'),
    ("descricao-number", '{"valor": 1, "tipo": "c", "descricao": 123}'),
    ("descricao-array", '{"valor": 1, "tipo": "c", "descricao": ["a"]}'),
    ("descricao-missing", '{"valor": 1, "tipo": "c"}'),
]

UNKNOWN_IDS = ["6", "999", "0", "-1", "abc", "1a", "2147483648", "99999999999999999999"]

UNKNOWN_PATHS = [
    ("GET", "/"),
    ("GET", "/clientes"),
    ("GET", "/clientes/1"),
    ("GET", "/clientes/1/extrato/"),
    ("GET", "/foo"),
    ("POST", "/clientes/1/transacoes/"),
]

WRONG_METHODS = [
    ("GET", "/clientes/1/transacoes"),
    ("PUT", "/clientes/1/transacoes"),
    ("DELETE", "/clientes/1/transacoes"),
    ("POST", "/clientes/1/extrato"),
    ("DELETE", "/clientes/1/extrato"),
]


def _ids(pairs):
    return [p[0] for p in pairs]


def _entries(body):
    """A statement's transactions as comparable tuples."""
    return [(tx["valor"], tx["tipo"], tx["descricao"]) for tx in body["ultimas_transacoes"]]


def _extrato(client_id, conn=None):
    status, headers, body = get_extrato(client_id, conn=conn)
    return assert_extrato_ok(status, headers, body, client_id)


def _ok(client_id, valor, tipo, descricao, conn=None):
    status, headers, body = post_transacao(client_id, valor, tipo, descricao, conn=conn)
    return assert_transacao_ok(status, headers, body, client_id)


# --------------------------------------------------------------------------
# POST /clientes/{id}/transacoes: accepted transactions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("client_id", CLIENT_IDS)
def test_credit_and_debit_return_exactly_limite_and_new_saldo(reset, client_id):
    status, headers, body = post_transacao(client_id, 1000, "c", "credito")
    assert_transacao_ok(status, headers, body, client_id)
    assert body == {"limite": LIMITES[client_id], "saldo": 1000}

    status, headers, body = post_transacao(client_id, 300, "d", "debito")
    assert_transacao_ok(status, headers, body, client_id)
    assert body == {"limite": LIMITES[client_id], "saldo": 700}

    assert db_clients()[client_id] == (LIMITES[client_id], 700)
    assert db_history() == {client_id: (2, 700)}


def test_debit_down_to_exactly_minus_limite_is_accepted_and_one_more_refused(reset):
    limite = LIMITES[2]
    status, headers, body = post_transacao(2, limite + 1, "d", "demais")
    assert_error_response(status, headers, body, 422)
    assert_db_untouched()

    assert _ok(2, limite, "d", "tudo") == -limite
    status, headers, body = post_transacao(2, 1, "d", "mais um")
    assert_error_response(status, headers, body, 422)
    assert _ok(2, 1, "c", "volta") == -limite + 1
    assert _ok(2, 1, "d", "de novo") == -limite
    assert _extrato(2)["saldo"]["total"] == -limite
    assert db_clients()[2] == (limite, -limite)


def test_refused_debit_changes_neither_saldo_nor_statement(reset):
    _ok(1, 5000, "c", "deposito")
    _ok(1, 2000, "d", "saque")
    before = _extrato(1)
    db_before = (db_clients(), db_history())

    status, headers, body = post_transacao(1, 5000 + LIMITES[1] - 2000 + 1, "d", "estouro")
    assert_error_response(status, headers, body, 422)

    after = _extrato(1)
    assert after["saldo"]["total"] == before["saldo"]["total"] == 3000
    assert after["ultimas_transacoes"] == before["ultimas_transacoes"]
    assert (db_clients(), db_history()) == db_before


def test_largest_valor_2_pow_53_minus_1_is_accepted(reset):
    valor = 9007199254740991
    status, headers, body = post_transacao(4, valor, "c", "grande")
    assert_transacao_ok(status, headers, body, 4)
    assert body["saldo"] == valor
    statement = _extrato(4)
    assert statement["saldo"]["total"] == valor
    assert _entries(statement) == [(valor, "c", "grande")]


@pytest.mark.parametrize(
    "descricao",
    ["descrição", "ç" * 10, "1234567890", "x", "\U0001F600" * 10],
    ids=["descricao-9-chars-accented", "10-cedillas", "10-ascii", "1-char", "10-emoji"],
)
def test_descricao_is_counted_in_characters_and_stored_verbatim(reset, descricao):
    assert _ok(3, 7, "c", descricao) == 7
    assert _entries(_extrato(3)) == [(7, "c", descricao)]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (r'"a\"b"', 'a"b'),
        (r'"x\\y"', "x\\y"),
        (r'"\u00e7"', "ç"),
        (r'"a\/b"', "a/b"),
        (r'"\u00e7\u00e3o"', "ção"),
        (r'"a\nb\tc"', "a\nb\tc"),
    ],
    ids=["escaped-quote", "escaped-backslash", "unicode-escape", "escaped-slash", "unicode-escapes", "control-chars"],
)
def test_escaped_descricao_is_echoed_exactly_in_statement(reset, raw, expected):
    body = '{"valor": 5, "tipo": "c", "descricao": %s}' % raw
    status, headers, parsed = request("POST", "/clientes/1/transacoes", body)
    assert_transacao_ok(status, headers, parsed, 1)
    status, headers, statement = get_extrato(1)
    assert not isinstance(statement, bytes), "statement is not valid JSON: %r" % statement
    assert_extrato_ok(status, headers, statement, 1)
    assert statement["ultimas_transacoes"][0]["descricao"] == expected


def test_extra_whitespace_and_key_order_do_not_matter(reset):
    body = '\n {\t"descricao" : "ordem" ,\r\n "tipo":"d", "valor" :  10 } \n'
    status, headers, parsed = request("POST", "/clientes/5/transacoes", body)
    assert_transacao_ok(status, headers, parsed, 5)
    assert parsed["saldo"] == -10
    assert _entries(_extrato(5)) == [(10, "d", "ordem")]


# --------------------------------------------------------------------------
# POST /clientes/{id}/transacoes: refusals
# --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b for _, b in INVALID_BODIES], ids=_ids(INVALID_BODIES))
def test_invalid_body_gets_422_and_stores_nothing(reset, raw):
    status, headers, body = request("POST", "/clientes/1/transacoes", raw)
    assert_error_response(status, headers, body, 422)
    assert_db_untouched()


@pytest.mark.parametrize("client_id", UNKNOWN_IDS)
def test_transacao_for_unknown_client_gets_404(reset, client_id):
    status, headers, body = request("POST", "/clientes/%s/transacoes" % client_id, VALID)
    assert_error_response(status, headers, body, 404)
    assert_db_untouched()


def test_oversized_body_is_refused_and_service_keeps_answering(reset):
    payload = ('{"valor": 1, "tipo": "c", "descricao": "' + "a" * (1024 * 1024) + '"}').encode()
    conn = new_connection()
    try:
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        try:
            conn.request("POST", PATH_PREFIX + "/clientes/1/transacoes", body=payload, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer early and stop reading: read its answer
        resp = conn.getresponse()
        resp.read()
        status, resp_headers = resp.status, resp.headers
    finally:
        conn.close()
    assert status in (413, 422), "1 MB body -> HTTP %d" % status
    assert resp_headers.get("Content-Length") is not None, "HTTP %d without Content-Length" % status
    assert_db_untouched()

    assert _extrato(1)["saldo"]["total"] == 0
    assert _ok(1, 1, "c", "depois") == 1


# --------------------------------------------------------------------------
# GET /clientes/{id}/extrato
# --------------------------------------------------------------------------


@pytest.mark.parametrize("client_id", CLIENT_IDS)
def test_fresh_statement_shape(reset, client_id):
    status, headers, body = get_extrato(client_id)
    assert_extrato_ok(status, headers, body, client_id)
    assert body["saldo"]["total"] == 0
    assert body["saldo"]["limite"] == LIMITES[client_id]
    assert body["ultimas_transacoes"] == []
    assert_recent(body["saldo"]["data_extrato"])


@pytest.mark.parametrize("client_id", UNKNOWN_IDS)
def test_extrato_for_unknown_client_gets_404(client_id):
    status, headers, body = request("GET", "/clientes/%s/extrato" % client_id)
    assert_error_response(status, headers, body, 404)


def test_statement_lists_exactly_the_10_newest_newest_first(reset):
    client_id = 3
    done = []
    saldo = 0
    for i in range(1, 13):
        tipo = "c" if i % 3 else "d"
        valor = 100 * i
        saldo = _ok(client_id, valor, tipo, "t%02d" % i)
        done.append((valor, tipo, "t%02d" % i))
    statement = _extrato(client_id)
    assert _entries(statement) == list(reversed(done))[:10]
    assert statement["saldo"]["total"] == saldo == sum(v if t == "c" else -v for v, t, _ in done)
    assert db_history() == {client_id: (12, saldo)}


def test_statement_timestamps_are_utc_recent_and_ordered(reset):
    started = datetime.now(timezone.utc)
    for i in range(3):
        _ok(1, 10 + i, "c", "ts%d" % i)
    statement = _extrato(1)
    finished = datetime.now(timezone.utc)

    slack = timedelta(seconds=1)
    data_extrato = assert_recent(statement["saldo"]["data_extrato"])
    assert started - slack <= data_extrato <= finished + slack, statement["saldo"]["data_extrato"]
    stamps = [assert_recent(tx["realizada_em"]) for tx in statement["ultimas_transacoes"]]
    assert len(stamps) == 3
    assert stamps == sorted(stamps, reverse=True), "not newest first: %r" % statement
    for stamp in stamps:
        assert started - slack <= stamp <= data_extrato + slack, statement


def test_statement_time_moves_forward(reset):
    first = parse_timestamp(_extrato(2)["saldo"]["data_extrato"])
    second = parse_timestamp(_extrato(2)["saldo"]["data_extrato"])
    assert second >= first


def test_statements_are_per_client(reset):
    _ok(3, 333, "c", "tres")
    _ok(5, 555, "d", "cinco")
    assert _entries(_extrato(3)) == [(333, "c", "tres")]
    assert _entries(_extrato(5)) == [(555, "d", "cinco")]
    assert _extrato(3)["saldo"]["total"] == 333
    assert _extrato(5)["saldo"]["total"] == -555
    for other in (1, 2, 4):
        statement = _extrato(other)
        assert statement["saldo"]["total"] == 0 and statement["ultimas_transacoes"] == []


def test_statement_total_matches_signed_history(reset):
    for valor, tipo in [(500, "c"), (200, "d"), (1000, "d"), (50, "c")]:
        _ok(5, valor, tipo, "hist")
    statement = _extrato(5)
    assert statement["saldo"]["total"] == signed_sum(statement["ultimas_transacoes"]) == -650


# --------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", UNKNOWN_PATHS, ids=["%s %s" % p for p in UNKNOWN_PATHS])
def test_unknown_path_gets_404(method, path):
    body = VALID if method == "POST" else None
    status, headers, parsed = request(method, path, body)
    assert_error_response(status, headers, parsed, 404)


@pytest.mark.parametrize("method, path", WRONG_METHODS, ids=["%s %s" % p for p in WRONG_METHODS])
def test_wrong_method_gets_405(reset, method, path):
    body = VALID if method in ("POST", "PUT") else None
    status, headers, parsed = request(method, path, body)
    assert_error_response(status, headers, parsed, 405)
    assert_db_untouched()


def test_query_string_is_ignored_on_extrato():
    status, headers, body = request("GET", "/clientes/1/extrato?x=1")
    assert_extrato_ok(status, headers, body, 1)


def test_query_string_is_ignored_on_transacoes(reset):
    status, headers, body = request("POST", "/clientes/1/transacoes?x=1&y=2", VALID)
    assert_transacao_ok(status, headers, body, 1)
    assert body["saldo"] == 1
    assert db_total_transacoes() == 1


# --------------------------------------------------------------------------
# Keep-alive
# --------------------------------------------------------------------------


def test_keep_alive_connection_survives_errors(reset):
    conn = new_connection()
    try:
        conn.connect()
        sock = conn.sock
        steps = [
            ("POST", "/clientes/1/transacoes", VALID, 200),
            ("POST", "/clientes/1/transacoes", '{"valor": 1.5, "tipo": "c", "descricao": "x"}', 422),
            ("POST", "/clientes/1/transacoes", "{not json", 422),
            ("POST", "/clientes/1/transacoes", "", 422),
            ("POST", "/clientes/1/transacoes", '{"valor": 999999999, "tipo": "d", "descricao": "x"}', 422),
            ("POST", "/clientes/6/transacoes", VALID, 404),
            ("GET", "/clientes/6/extrato", None, 404),
            ("GET", "/foo", None, 404),
            ("GET", "/clientes/1/transacoes", None, 405),
            ("POST", "/clientes/1/extrato", None, 405),
            ("POST", "/clientes/1/transacoes", VALID, 200),
            ("GET", "/clientes/1/extrato", None, 200),
        ]
        for i, (method, path, body, expected) in enumerate(steps):
            status, headers, parsed = request(method, path, body, conn=conn)
            where = "step %d: %s %s" % (i, method, path)
            assert status == expected, "%s -> %d %r" % (where, status, parsed)
            if expected >= 400:
                assert_error_response(status, headers, parsed, expected)
            assert (headers.get("Connection") or "").lower() != "close", where + " closes the connection"
            assert conn.sock is sock, where + ": the connection was not kept alive"
        statement = assert_extrato_ok(status, headers, parsed, 1)
        assert statement["saldo"]["total"] == 2
        assert len(statement["ultimas_transacoes"]) == 2
    finally:
        conn.close()


def test_many_requests_on_one_connection(reset):
    conn = new_connection()
    try:
        conn.connect()
        sock = conn.sock
        for i in range(50):
            assert _ok(4, 2, "c", "k%d" % i, conn=conn) == 2 * (i + 1)
            assert conn.sock is sock
        assert _extrato(4, conn=conn)["saldo"]["total"] == 100
        assert conn.sock is sock
    finally:
        conn.close()

