"""The replicas' metrics endpoints: valid Prometheus text, nothing of it
reachable through nginx, counters equal to the traffic this test sends, and
the commits-per-transaction histogram equal to the commits PostgreSQL
counts. (The histograms' buckets are proven cumulative, with +Inf equal to
_count, by the C unit tests, api/tests/test_metrics.c.)"""

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import (HOST, PORT, REPLICAS, delta, fetch_metrics, psql_admin, replica_serves, scrape_all, send_all,
                      total, wait_until)

FAMILIES = {
    "counter": "rinha_http_requests rinha_http_errors rinha_db_rollbacks rinha_db_connects process_cpu_seconds",
    "histogram": "rinha_http_request_duration_seconds rinha_db_queue_wait_seconds rinha_db_round_trip_seconds "
                 "rinha_db_round_trip_requests rinha_db_commit_requests",
    "gauge": "rinha_db_pending rinha_db_queued rinha_db_max_pending rinha_db_connections_up "
             "process_resident_memory_bytes process_open_fds",
}


@pytest.mark.parametrize("replica", sorted(REPLICAS))
def test_exposition_parses_with_prometheus_parser(replica):
    status, ctype, body = fetch_metrics(REPLICAS[replica])
    assert status == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    types = {f.name: f.type for f in text_string_to_metric_families(body)}
    want = {name: kind for kind, names in FAMILIES.items() for name in names.split()}
    assert {name: types.get(name) for name in want} == want


def test_metrics_only_on_the_metrics_listener():
    """The metrics listener serves /metrics alone; nginx never routes to it:
    GET :9999/metrics is the API's JSON 404."""
    addr = REPLICAS["api01"]
    assert [fetch_metrics(addr, path)[0] for path in ("/", "/clientes/1/extrato", "/metrics?x=1")] == [404, 404, 200]
    assert fetch_metrics(addr, "/metrics", method="POST")[0] == 405
    status, _, body = fetch_metrics((HOST, PORT))
    assert status == 404 and "rinha_" not in body and "erro" in body


def credit(i):
    return ("POST", "/clientes/%d/transacoes" % (i % 5 + 1), {"valor": 1, "tipo": "c", "descricao": "m%d" % i})


def test_counters_equal_what_was_sent():
    """Per route and status, the sum over both replicas of
    rinha_http_requests_total grows by exactly what this test sent through
    nginx; so do the latency histograms' counts, and every request that
    reached the database is in exactly one committed transaction and one
    round trip."""
    before = scrape_all()
    invalid = ['{"valor": 1.2, "tipo": "c", "descricao": "x"}', '{"valor": 1, "tipo": "x", "descricao": "x"}',
               '{"valor": 1, "tipo": "c", "descricao": "123456789 e mais um pouco"}',
               '{"valor": 1, "tipo": "c", "descricao": ""}', '{"valor": 1, "tipo": "c", "descricao": null}',
               '{"tipo": "c", "descricao": "x"}']
    requests = ([credit(i) for i in range(40)] + [("POST", "/clientes/1/transacoes", b) for b in invalid]
                + [("POST", "/clientes/1/transacoes", {"valor": 10 ** 12, "tipo": "d", "descricao": "no"})] * 3
                + [("POST", "/clientes/6/transacoes", {"valor": 1, "tipo": "c", "descricao": "x"})] * 2
                + [("GET", "/clientes/%d/extrato" % (i % 5 + 1), None) for i in range(12)]
                + [("GET", "/clientes/6/extrato", None)] * 3 + [("GET", "/nada", None)] * 4
                + [("GET", "/clientes/1/transacoes", None)] * 2)
    statuses = send_all(requests)
    after = scrape_all()

    expected = {("transacao", "200"): 40, ("transacao", "422"): 9, ("transacao", "404"): 2,
                ("extrato", "200"): 12, ("extrato", "404"): 3, ("other", "404"): 4, ("other", "405"): 2}
    assert sum(statuses.values()) == sum(expected.values())
    grown = {(dict(ls)["route"], dict(ls)["status"]): v - before[(n, ls)]
             for (n, ls), v in after.items() if n == "rinha_http_requests_total" and v != before[(n, ls)]}
    assert grown == expected
    for route in ("transacao", "extrato", "other"):
        sent = sum(n for (r, _), n in expected.items() if r == route)
        assert delta(after, before, "rinha_http_request_duration_seconds_count", route=route) == sent

    to_db = 40 + 3 + 2 + 12 + 3  # the rest is refused before the database
    assert delta(after, before, "rinha_db_queue_wait_seconds_count") == to_db
    assert delta(after, before, "rinha_db_round_trip_requests_sum") == to_db
    assert delta(after, before, "rinha_db_commit_requests_sum") == to_db
    assert delta(after, before, "rinha_db_commit_requests_count", kind="read") == 15  # one per statement
    assert delta(after, before, "rinha_http_errors_total") == 0


def pg_counts():
    """(xact_commit, xact_rollback) of the database rinha, as the
    cumulative statistics system has them."""
    row = psql_admin("SELECT pg_stat_clear_snapshot(); "
                     "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = 'rinha'")[-1]
    return int(row[0]), int(row[1])


def replica_counts():
    s = scrape_all()
    return tuple(total(s, n) for n in ("rinha_db_commit_requests_count", "rinha_db_rollbacks_total",
                                        "rinha_db_connects_total"))


def flush_backend_stats():
    """A backend publishes its statistics when it goes idle, at most once a
    second (PostgreSQL 15): wait past that, then give each replica's
    backend one more transaction (a statement read, straight to the
    replica's socket) so that it publishes everything, that read included."""
    time.sleep(1.2)
    for name in sorted(REPLICAS):
        assert replica_serves(name)


@pytest.fixture
def autovacuum_off():
    """Autovacuum's workers commit transactions of their own in the
    database rinha; they are off for the test's window."""
    psql_admin("ALTER SYSTEM SET autovacuum = off")  # not in a transaction block: a call of its own
    psql_admin("SELECT pg_reload_conf()")
    assert wait_until(lambda: psql_admin(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'") == [["0"]], 10)
    try:
        yield
    finally:
        psql_admin("ALTER SYSTEM RESET autovacuum")
        psql_admin("SELECT pg_reload_conf()")


def test_commit_histogram_count_equals_postgres_commits(autovacuum_off):
    """Over a window of concurrent writes and reads, the growth of
    rinha_db_commit_requests_count (both kinds, both replicas) equals the
    growth of pg_stat_database.xact_commit for the database rinha, and
    rollbacks match too: each round trip's writes are one transaction,
    each statement read is one."""
    flush_backend_stats()
    time.sleep(0.3)
    rep0, pg0 = replica_counts(), pg_counts()
    requests = [credit(i) for i in range(300)] + [("GET", "/clientes/%d/extrato" % (i % 5 + 1), None)
                                                   for i in range(30)]
    assert send_all(requests, workers=16) == {200: len(requests)}
    flush_backend_stats()
    rep1 = replica_counts()
    commits = rep1[0] - rep0[0]
    assert rep1[2] == rep0[2], "a replica reconnected during the window"
    # Published within a second normally; PostgreSQL retries a flush it had
    # to skip, and publishes an idle backend's stats after 10 s at most.
    assert wait_until(lambda: pg_counts()[0] - pg0[0] >= commits, 15), "PostgreSQL counts fewer commits"
    pg1 = pg_counts()
    print("\ncommits in the window: replicas %d, PostgreSQL %d (%d requests)"
          % (commits, pg1[0] - pg0[0], len(requests) + len(REPLICAS)))
    assert (pg1[0] - pg0[0], pg1[1] - pg0[1]) == (commits, rep1[1] - rep0[1])
    # Batching happened: fewer write commits than writes.
    assert commits < len(requests) + len(REPLICAS)
