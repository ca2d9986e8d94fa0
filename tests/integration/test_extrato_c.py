"""extrato_c (C, db/c/extrato.c) against extrato (PL/pgSQL), in the
database itself: the same JSON document for every client after random
batches and for awkward stored values, the newest ten whatever the index's
order or the table's size, one snapshot for the balance and the list, and
who may call it. The replicas answer every GET /clientes/{id}/extrato with
it, so every HTTP statement test exercises it too.

Random batches print their seed; set RINHA_SEED to replay one.
"""

import json
import os
import random
import re
import subprocess
from contextlib import contextmanager
from datetime import datetime

import pytest

from conftest import CLIENT_IDS, LIMITES, psql, role_with

SIGNATURE = "extrato_c(integer)"
DATA_EXTRATO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def seed():
    value = int(os.environ.get("RINHA_SEED", random.randrange(1 << 30)))
    print("RINHA_SEED=%d" % value)
    return value


def one_text(sql, user=None):
    """The single text value a query returns (None for NULL). psql's
    unaligned output splits on |, which a JSON string may hold: joined back."""
    rows = psql("SELECT coalesce((%s), '<NULL>')" % sql, user=user)
    assert len(rows) == 1, rows
    text = "|".join(rows[0])
    return None if text == "<NULL>" else text


def document(text):
    """The JSON document with its keys in order (lists of pairs), and its
    data_extrato apart."""
    doc = json.loads(text, object_pairs_hook=list)
    (saldo_key, saldo), rest = doc[0], doc[1:]
    data = dict(saldo)["data_extrato"]
    return [(saldo_key, [(k, v) for k, v in saldo if k != "data_extrato"])] + rest, data


def parse_utc(value):
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")


def assert_same_as_plpgsql(cliente):
    """extrato_c's document is extrato's, key for key and in the same order,
    but for data_extrato (the moment of each read: the later call's is not
    earlier) and whitespace (none in C)."""
    pl = one_text("SELECT extrato(%d)" % cliente)
    c = one_text("SELECT extrato_c(%d)" % cliente)
    if pl is None:
        assert c is None
        return None
    assert not re.search(r"\s", re.sub(r'"(?:[^"\\]|\\.)*"', '""', c)), "whitespace outside strings: " + c
    doc_pl, data_pl = document(pl)
    doc_c, data_c = document(c)
    assert doc_c == doc_pl
    assert DATA_EXTRATO_RE.match(data_c), data_c
    assert parse_utc(data_c) >= parse_utc(data_pl)
    return json.loads(c)


def test_same_document_as_plpgsql_after_random_batches(reset):
    """400 random batches through transacoes_lote_c (credits, debits,
    refusals, clients 1-6), then every client's statement both ways."""
    r = random.Random(seed())
    for _ in range(10):
        calls = []
        for _ in range(40):
            n = r.randint(1, 8)
            clientes = [r.randint(1, 6) for _ in range(n)]
            valores = [r.randint(1, 200000) for _ in range(n)]
            tipos = "".join(r.choice("cd") for _ in range(n))
            descricoes = ",".join("d%d" % r.randint(0, 99999) for _ in range(n))
            calls.append("SELECT count(*) FROM transacoes_lote_c('{%s}', '{%s}', '%s', '{%s}');" % (
                ",".join(map(str, clientes)), ",".join(map(str, valores)), tipos, descricoes))
        psql("\n".join(calls))
        for cliente in list(CLIENT_IDS) + [6]:
            assert_same_as_plpgsql(cliente)
    # Every client got more than ten: the lists are full and the newest.
    for cliente in CLIENT_IDS:
        doc = assert_same_as_plpgsql(cliente)
        assert len(doc["ultimas_transacoes"]) == 10


def test_no_client_and_null_are_null(reset):
    assert one_text("SELECT extrato_c(6)") is None
    assert one_text("SELECT extrato_c(NULL)") is None
    assert one_text("SELECT extrato_c(-1)") is None


def test_a_client_without_transactions_has_an_empty_list(reset):
    doc = assert_same_as_plpgsql(2)
    assert doc["saldo"]["total"] == 0 and doc["saldo"]["limite"] == LIMITES[2]
    assert doc["ultimas_transacoes"] == []


AWKWARD = [
    # (descricao as SQL, tipo, realizada_em as SQL): escapes, non-ASCII,
    # control characters, whole seconds, an old date, infinity (to_char
    # gives NULL: json null).
    ("'a\"b\\c'", "c", "'2024-01-02 03:04:05+00'"),
    ("E't\\tn\\nr\\r\\u0001'", "d", "'2024-01-02 03:04:05.000007+00'"),
    ("'açaí ü €'", "c", "'1999-12-31 23:59:59.999999-03'"),
    ("'a|b'", "d", "'infinity'"),
    ("'</script>'", "c", "now()"),
]


def test_awkward_stored_values_are_written_as_plpgsql_writes_them(reset):
    values = ",".join("(3, %d, '%s', %s, %s)" % (i + 1, tipo, d, t) for i, (d, tipo, t) in enumerate(AWKWARD))
    psql("INSERT INTO transacoes (cliente_id, valor, tipo, descricao, realizada_em) VALUES " + values)
    doc = assert_same_as_plpgsql(3)
    stored = json.loads(one_text("SELECT json_agg(descricao ORDER BY id DESC)::text FROM transacoes"))
    assert [t["descricao"] for t in doc["ultimas_transacoes"]] == stored
    assert doc["ultimas_transacoes"][1]["realizada_em"] is None
    assert doc["ultimas_transacoes"][4]["realizada_em"] == "2024-01-02T03:04:05.000000Z"
    assert doc["ultimas_transacoes"][2]["realizada_em"] == "2000-01-01T02:59:59.999999Z"


def test_the_newest_ten_whatever_the_table_size(reset):
    """30,000 rows for client 1 (and others around it): the ten of the
    highest ids, newest first."""
    psql("INSERT INTO transacoes (cliente_id, valor, tipo, descricao, realizada_em) "
         "SELECT 1 + g % 5, g, 'c', 'g' || g, now() FROM generate_series(1, 150000) g")
    doc = assert_same_as_plpgsql(1)
    assert [t["valor"] for t in doc["ultimas_transacoes"]] == list(range(150000, 149950, -5))
    doc = assert_same_as_plpgsql(5)
    assert [t["valor"] for t in doc["ultimas_transacoes"]] == list(range(149999, 149949, -5))


@contextmanager
def index_instead_of_recentes(name, columns):
    """transacoes_cliente_recentes replaced by index `name` on `columns` for
    the duration of the block."""
    psql(f"BEGIN; DROP INDEX transacoes_cliente_recentes; CREATE INDEX {name} ON transacoes ({columns}); COMMIT;")
    try:
        yield
    finally:
        psql(f"BEGIN; DROP INDEX {name}; "
             "CREATE INDEX transacoes_cliente_recentes ON transacoes (cliente_id, id DESC); COMMIT;")


def test_an_ascending_index_is_walked_from_its_end(reset):
    psql("INSERT INTO transacoes (cliente_id, valor, tipo, descricao, realizada_em) "
         "SELECT 4, g, 'd', 'g' || g, now() FROM generate_series(1, 30) g")
    with index_instead_of_recentes("transacoes_cliente_asc", "cliente_id, id"):
        doc = assert_same_as_plpgsql(4)
    assert [t["valor"] for t in doc["ultimas_transacoes"]] == list(range(30, 20, -1))


def test_without_its_index_it_says_so(reset):
    with index_instead_of_recentes("transacoes_so_cliente", "cliente_id"):
        with pytest.raises(RuntimeError, match="extrato_c: table \"transacoes\" has no btree index"):
            one_text("SELECT extrato_c(1)")
    assert one_text("SELECT extrato_c(1)") is not None


def test_balance_and_list_come_from_one_snapshot(reset):
    """A REPEATABLE READ transaction that read a statement keeps reading the
    same one (balance and list) after another session settled a credit,
    and a new transaction sees the credit in both."""
    psql("SELECT * FROM transacoes_lote_c('{5}', '{10}', 'c', '{antes}')")
    session = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        session.stdin.write("BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT extrato_c(5);\n")
        session.stdin.flush()
        first = json.loads(session.stdout.readline())
        psql("SELECT * FROM transacoes_lote_c('{5}', '{7}', 'c', '{depois}')")
        session.stdin.write("SELECT extrato_c(5);\nCOMMIT;\n")
        session.stdin.close()
        second = json.loads(session.stdout.readline())
        session.wait(timeout=30)
    finally:
        if session.poll() is None:
            session.kill()
    for doc in (first, second):
        assert doc["saldo"]["total"] == 10
        assert [t["descricao"] for t in doc["ultimas_transacoes"]] == ["antes"]
    now = json.loads(one_text("SELECT extrato_c(5)"))
    assert now["saldo"]["total"] == 17
    assert [t["descricao"] for t in now["ultimas_transacoes"]] == ["depois", "antes"]


def test_data_extrato_is_not_before_any_transaction_listed(reset):
    for _ in range(20):
        psql("SELECT * FROM transacoes_lote_c('{1,1}', '{3,1}', 'cd', '{a,b}')")
        doc = json.loads(one_text("SELECT extrato_c(1)"))
        data = parse_utc(doc["saldo"]["data_extrato"])
        assert all(parse_utc(t["realizada_em"]) <= data for t in doc["ultimas_transacoes"])


def test_only_the_application_role_may_call_it():
    assert psql("SELECT has_function_privilege('public', '%s', 'EXECUTE')" % SIGNATURE,
                user="postgres") == [["f"]]
    assert psql("SELECT has_function_privilege(current_user, '%s', 'EXECUTE')" % SIGNATURE) == [["t"]]


def test_select_on_both_tables_is_required(reset):
    """A role allowed to call it but without SELECT on transacoes is refused,
    as the SQL query would refuse it."""
    with role_with("extrato_c_sem_select", ["SELECT ON clientes", f"EXECUTE ON FUNCTION {SIGNATURE}"]) as role:
        with pytest.raises(RuntimeError, match="permission denied for table transacoes"):
            psql(f"SET ROLE {role}; SELECT extrato_c(1)", user="postgres")


def test_row_level_security_is_refused(reset):
    psql("ALTER TABLE transacoes ENABLE ROW LEVEL SECURITY; ALTER TABLE transacoes FORCE ROW LEVEL SECURITY;",
         user="postgres")
    try:
        with pytest.raises(RuntimeError, match="row-level security"):
            one_text("SELECT extrato_c(1)")
    finally:
        psql("ALTER TABLE transacoes NO FORCE ROW LEVEL SECURITY; ALTER TABLE transacoes DISABLE ROW LEVEL SECURITY;",
             user="postgres")
    assert one_text("SELECT extrato_c(1)") is not None
