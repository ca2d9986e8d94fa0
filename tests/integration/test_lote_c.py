"""transacoes_lote_c (C, db/c) against transacoes_lote (PL/pgSQL), in the
database itself: the same answers and the same writes for random batches,
its refusals of bad arguments, its locking under concurrent batches, and
who may call it. The replicas call it for every round trip whose writes
carry no Idempotency-Key, so every HTTP test exercises it too.

Random batches print their seed; set RINHA_SEED to replay one.
"""

import os
import random
import subprocess
import time

import pytest

from conftest import LIMITES, db_clients, db_history, db_total_transacoes, psql, psql_int, role_with

SIGNATURE = "transacoes_lote_c(integer[], bigint[], text, text[])"

# Values include bigint-sized ones (a credit that would overflow, a debit
# past any limit: refused by both) and descriptions with trailing spaces
# past varchar(10) (trimmed by both, as an INSERT trims them).
# One DO block: for each random batch, the PL/pgSQL call runs first inside
# a block that is then rolled back (only its answers and writes are kept,
# as text), then the C call for real; any difference raises. Identity ids
# are not compared (a rolled-back nextval is not given back): the order of
# the inserted rows is, and so is their shared time, read after the locks.
DIFFERENTIAL_SQL = r"""
DO $$
DECLARE
    cl int[]; vl bigint[]; tp text; ds text[];
    maxid bigint;
    res_pl text; res_c text; st_pl text; st_c text; tx_pl text; tx_c text;
    times int;
BEGIN
    PERFORM setseed(%(seed)s);
    FOR r IN 1 .. %(batches)s LOOP
        SELECT array_agg(1 + floor(random() * 6)::int),
               array_agg(CASE WHEN random() < 0.02 THEN 9223372036854775807 - floor(random() * 3)::bigint
                              WHEN random() < 0.2 THEN 1 + floor(random() * 3000000)::bigint
                              ELSE 1 + floor(random() * 10000)::bigint END),
               string_agg(CASE WHEN random() < 0.6 THEN 'd' ELSE 'c' END, ''),
               array_agg(left(md5(random()::text), 1 + floor(random() * 10)::int)
                         || CASE WHEN random() < 0.1 THEN '   ' ELSE '' END)
          INTO cl, vl, tp, ds
          FROM generate_series(1, 1 + floor(random() * 12)::int);
        SELECT coalesce(max(id), 0) INTO maxid FROM transacoes;
        BEGIN
            SELECT string_agg(format('%%s/%%s/%%s', r_status, r_saldo, r_limite), ',') INTO res_pl
              FROM transacoes_lote(cl, vl, tp, ds);
            SELECT string_agg(format('%%s:%%s', id, saldo), ',' ORDER BY id) INTO st_pl FROM clientes;
            SELECT string_agg(format('%%s/%%s/%%s/%%s', cliente_id, valor, tipo, descricao), ',' ORDER BY id)
              INTO tx_pl FROM transacoes WHERE id > maxid;
            RAISE EXCEPTION 'undo';
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
        SELECT string_agg(format('%%s/%%s/%%s', r_status, r_saldo, r_limite), ',') INTO res_c
          FROM transacoes_lote_c(cl, vl, tp, ds);
        SELECT string_agg(format('%%s:%%s', id, saldo), ',' ORDER BY id) INTO st_c FROM clientes;
        SELECT string_agg(format('%%s/%%s/%%s/%%s', cliente_id, valor, tipo, descricao), ',' ORDER BY id),
               count(DISTINCT realizada_em)
          INTO tx_c, times FROM transacoes WHERE id > maxid;
        IF res_c IS DISTINCT FROM res_pl OR st_c IS DISTINCT FROM st_pl OR tx_c IS DISTINCT FROM tx_pl THEN
            RAISE EXCEPTION 'batch %% (clientes %%, valores %%, tipos %%) differs: answers C %% / PL %%; '
                            'balances C %% / PL %%; rows C %% / PL %%',
                r, cl, vl, tp, res_c, res_pl, st_c, st_pl, tx_c, tx_pl;
        END IF;
        IF times > 1 THEN
            RAISE EXCEPTION 'batch %%: its transactions carry %% different times', r, times;
        END IF;
    END LOOP;
END $$;
"""


def seed():
    value = int(os.environ.get("RINHA_SEED", random.randrange(1 << 30)))
    print("RINHA_SEED=%d" % value)
    return value


def assert_ledger_consistent():
    """Every balance is the signed sum of its client's history and within
    its limit."""
    history = db_history()
    for cid, (limite, saldo) in db_clients().items():
        total = history.get(cid, (0, 0))[1]
        assert saldo == total, (cid, saldo, total)
        assert saldo >= -limite, (cid, saldo, limite)


def test_same_answers_and_writes_as_the_plpgsql_batch(reset):
    s = seed()
    psql(DIFFERENTIAL_SQL % {"seed": (s % 1000) / 1000.0, "batches": 400})
    assert db_total_transacoes() > 0
    assert_ledger_consistent()


def test_single_request_answers(reset):
    rows = psql("SELECT * FROM transacoes_lote_c('{1,1,6,2}', '{100001,100000,5,80000}', 'ddcd', "
                "'{a,b,c,d}')")
    assert rows == [["1", "0", "100000"], ["0", "-100000", "100000"], ["2", "", ""], ["0", "-80000", "80000"]]
    assert db_clients()[1] == (LIMITES[1], -100000)
    assert db_clients()[2] == (LIMITES[2], -80000)
    assert psql("SELECT cliente_id, valor, tipo, descricao FROM transacoes ORDER BY id") == [
        ["1", "100000", "d", "b"], ["2", "80000", "d", "d"]]


def test_two_calls_in_one_query_each_see_the_other(reset):
    """Each call is a statement of its own: the second sees the first's
    balance instead of failing on the row the first updated."""
    rows = psql("SELECT g, r_status, r_saldo FROM generate_series(1, 3) g, "
                "LATERAL transacoes_lote_c('{1}', ARRAY[g]::bigint[], 'c', '{a}') ORDER BY g")
    assert rows == [["1", "0", "1"], ["2", "0", "3"], ["3", "0", "6"]]
    assert db_clients()[1] == (LIMITES[1], 6)


def test_a_table_it_cannot_fill_is_refused(reset):
    psql("ALTER TABLE transacoes ADD COLUMN origem text DEFAULT 'api'")
    try:
        with pytest.raises(RuntimeError, match="columns"):
            psql("SELECT * FROM transacoes_lote_c('{1}', '{1}', 'c', '{a}')")
    finally:
        psql("ALTER TABLE transacoes DROP COLUMN origem")
    psql("SELECT * FROM transacoes_lote_c('{1}', '{1}', 'c', '{a}')")  # a dropped column is fine
    assert db_total_transacoes() == 1


def test_a_batch_of_refusals_writes_nothing_and_needs_no_flush(reset):
    """Refused requests lock nothing and write nothing: the transaction gets
    no id, so its commit waits for no WAL flush. One applied request does."""
    rows = psql("BEGIN; SELECT r_status FROM transacoes_lote_c('{1,2,6}', '{999999999,999999999,1}', 'ddc', "
                "'{a,b,c}'); SELECT pg_current_xact_id_if_assigned() IS NULL; COMMIT;")
    assert [r for r in rows if r not in (["BEGIN"], ["COMMIT"])] == [["1"], ["1"], ["2"], ["t"]]
    rows = psql("BEGIN; SELECT r_status FROM transacoes_lote_c('{1,2}', '{999999999,5}', 'dd', '{a,b}'); "
                "SELECT pg_current_xact_id_if_assigned() IS NULL; COMMIT;")
    assert [r for r in rows if r not in (["BEGIN"], ["COMMIT"])] == [["1"], ["0"], ["f"]]
    assert db_clients()[1] == (LIMITES[1], 0) and db_clients()[2] == (LIMITES[2], -5)


def test_empty_batch_answers_nothing(reset):
    assert psql("SELECT * FROM transacoes_lote_c('{}', '{}', '', '{}')") == []
    assert db_total_transacoes() == 0


@pytest.mark.parametrize("call", [
    "transacoes_lote_c('{1,2}', '{1}', 'cc', '{a,b}')",        # lengths differ
    "transacoes_lote_c('{1}', '{1}', 'cc', '{a}')",             # tipos longer
    "transacoes_lote_c('{1}', '{1}', 'x', '{a}')",              # tipo
    "transacoes_lote_c('{1}', '{0}', 'c', '{a}')",              # valor zero
    "transacoes_lote_c('{1}', '{-5}', 'd', '{a}')",             # valor negative
    "transacoes_lote_c('{1}', '{1}', 'c', '{12345678901}')",    # descricao over varchar(10)
    "transacoes_lote_c('{1}', '{1}', 'c', '{NULL}')",           # NULL element
    "transacoes_lote_c('{NULL}', '{1}', 'c', '{a}')",
    "transacoes_lote_c(NULL, '{1}', 'c', '{a}')",               # NULL argument
    "transacoes_lote_c('{{1}}', '{{1}}', 'c', '{{a}}')",        # two dimensions
])
def test_bad_arguments_are_refused_and_change_nothing(reset, call):
    with pytest.raises(RuntimeError, match="transacoes_lote_c|too long"):
        psql("SELECT * FROM " + call)
    assert db_total_transacoes() == 0
    assert all(saldo == 0 for (_l, saldo) in db_clients().values())


def test_read_only_transactions_are_refused(reset):
    with pytest.raises(RuntimeError, match="read-only transaction"):
        psql("BEGIN READ ONLY; SELECT * FROM transacoes_lote_c('{1}', '{1}', 'c', '{a}'); COMMIT;")
    with pytest.raises(RuntimeError, match="READ COMMITTED"):
        psql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM transacoes_lote_c('{1}', '{1}', 'c', '{a}'); COMMIT;")
    assert db_total_transacoes() == 0


def test_descricao_of_ten_characters_not_bytes_is_taken(reset):
    psql("SELECT * FROM transacoes_lote_c('{3,3}', '{7,8}', 'cc', '{descrição!,\"abcdefghij   \"}')")
    assert psql("SELECT descricao FROM transacoes ORDER BY id") == [["descrição!"], ["abcdefghij"]]


def test_only_the_application_role_may_call_it():
    assert psql("SELECT has_function_privilege('public', '%s', 'EXECUTE')" % SIGNATURE,
                user="postgres") == [["f"]]
    assert psql("SELECT has_function_privilege(current_user, '%s', 'EXECUTE')" % SIGNATURE) == [["t"]]


def test_every_table_privilege_the_sql_needs_is_required(reset):
    """A role allowed to call it but holding only SELECT on clientes (no
    UPDATE) is refused, as an UPDATE of clientes would refuse it."""
    with role_with("lote_c_sem_update", ["SELECT ON clientes", "INSERT ON transacoes",
                                         f"EXECUTE ON FUNCTION {SIGNATURE}"]) as role:
        with pytest.raises(RuntimeError, match="permission denied for table clientes"):
            psql(f"SET ROLE {role}; SELECT * FROM transacoes_lote_c('{{1}}', '{{1}}', 'c', '{{a}}')", user="postgres")
    assert db_total_transacoes() == 0


def test_refuses_triggers_it_would_not_fire(reset):
    psql("CREATE FUNCTION t_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; "
         "CREATE TRIGGER t_noop BEFORE INSERT ON transacoes FOR EACH ROW EXECUTE FUNCTION t_noop();")
    try:
        with pytest.raises(RuntimeError, match="triggers"):
            psql("SELECT * FROM transacoes_lote_c('{1}', '{1}', 'c', '{a}')")
    finally:
        psql("DROP TRIGGER t_noop ON transacoes; DROP FUNCTION t_noop();")
    assert db_total_transacoes() == 0


def test_concurrent_batches_neither_deadlock_nor_lose_money(reset, tmp_path):
    """Eight sessions send batches over the same clients, in random order
    with repeats (the function sorts its locks), 300 each; pgbench fails on
    any error, a deadlock included. Then every balance is its history's sum."""
    script = tmp_path / "lote.sql"
    script.write_text(
        "\\set a random(1, 6)\n\\set b random(1, 6)\n\\set c random(1, 6)\n"
        "\\set v random(1, 30000)\n\\set w random(1, 30000)\n"
        "SELECT * FROM transacoes_lote_c(ARRAY[:a, :b, :c, :a]::integer[], ARRAY[:v, :w, :v, :w]::bigint[], "
        "CASE WHEN :v % 2 = 0 THEN 'dcdd' ELSE 'ddcd' END, '{p1,p2,p3,p4}');\n")
    proc = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", "8", "-j", "2", "-t", "300", "-f", str(script)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert db_total_transacoes() > 0
    assert_ledger_consistent()


def moved_updates():
    """Updates of clientes that left their page (not HOT), so far."""
    return psql_int("SELECT n_tup_upd - n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'clientes'")


def test_updates_off_the_page_keep_the_indexes_right(reset):
    """An open snapshot keeps every old version of the client rows, so
    their page fills and updates move rows to other pages (not HOT): the
    function must then insert the new versions into the primary key
    itself. amcheck verifies both indexes against the table, and the
    balance read through the index is the one read from the table."""
    before = moved_updates()
    hold = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        hold.stdin.write("BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT count(*) FROM clientes;\n")
        hold.stdin.flush()
        assert hold.stdout.readline().strip() == "5"
        calls = "SELECT * FROM transacoes_lote_c('{1,2}', '{1,1}', 'cc', '{a,b}');\n" * 300
        run = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=calls,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        hold.stdin.write("COMMIT;\n")
        hold.stdin.close()
        hold.wait(timeout=30)
    finally:
        if hold.poll() is None:
            hold.kill()
    deadline = time.time() + 3  # a backend publishes its counters as it exits
    while moved_updates() == before and time.time() < deadline:
        time.sleep(0.2)
    assert moved_updates() > before, "no update left its page: the test did not reach the path it is for"
    def rows(sql):
        return [r for r in psql(sql) if r != ["SET"]]  # psql prints SET's command tag
    seq = rows("SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT id, saldo FROM clientes ORDER BY id")
    idx = rows("SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT id, saldo FROM clientes "
               "WHERE id BETWEEN 1 AND 5 ORDER BY id")
    assert seq == idx and idx[0] == ["1", "300"] and idx[1] == ["2", "300"], (seq, idx)
    psql("CREATE EXTENSION IF NOT EXISTS amcheck; SELECT bt_index_check('clientes_pkey', true); "
         "SELECT bt_index_check('transacoes_cliente_recentes', true);", user="postgres")
