"""The replicas' metrics endpoints: valid Prometheus text, nothing of it
reachable through nginx, counters equal to the traffic this test sends, and
the commits-per-transaction histogram equal to the commits PostgreSQL
counts."""

import time

import pytest

from conftest import (API, REPLICAS, RUN_DIR, Client, delta, family_total, fetch_metrics, parse,
                      psql_admin, scrape_all, send_all, wait_until)

EXPECTED_FAMILIES = {
    "rinha_http_requests": "counter",
    "rinha_http_request_duration_seconds": "histogram",
    "rinha_http_errors": "counter",
    "rinha_db_queue_wait_seconds": "histogram",
    "rinha_db_round_trip_seconds": "histogram",
    "rinha_db_round_trip_requests": "histogram",
    "rinha_db_commit_requests": "histogram",
    "rinha_db_rollbacks": "counter",
    "rinha_db_connects": "counter",
    "rinha_db_pending": "gauge",
    "rinha_db_queued": "gauge",
    "rinha_db_max_pending": "gauge",
    "rinha_db_connections_up": "gauge",
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
}


@pytest.mark.parametrize("replica", sorted(REPLICAS))
def test_exposition_parses_with_prometheus_parser(replica):
    status, ctype, body = fetch_metrics(REPLICAS[replica])
    assert status == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    families = parse(body)
    for name, kind in EXPECTED_FAMILIES.items():
        assert name in families, name
        assert families[name].type == kind, (name, families[name].type)
    # Histograms: cumulative buckets, +Inf equal to _count.
    for family in families.values():
        if family.type != "histogram":
            continue
        series = {}
        for s in family.samples:
            key = frozenset((k, v) for k, v in s.labels.items() if k != "le")
            series.setdefault(key, {"buckets": [], "count": None})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
        for key, h in series.items():
            bounds = [b for b, _ in h["buckets"]]
            counts = [c for _, c in h["buckets"]]
            assert bounds == sorted(bounds) and bounds[-1] == float("inf"), (family.name, key)
            assert counts == sorted(counts), (family.name, key, counts)
            assert counts[-1] == h["count"], (family.name, key)
    assert families["rinha_db_connections_up"].samples[0].value == 1


def test_metrics_listener_serves_only_metrics():
    addr = REPLICAS["api01"]
    assert fetch_metrics(addr, "/")[0] == 404
    assert fetch_metrics(addr, "/clientes/1/extrato")[0] == 404
    assert fetch_metrics(addr, "/metrics", method="POST")[0] == 405
    assert fetch_metrics(addr, "/metrics?x=1")[0] == 200


def test_nginx_never_routes_metrics():
    """GET :9999/metrics reaches the API handler (a JSON 404), never a
    metrics listener."""
    import http.client
    conn = http.client.HTTPConnection(*API, timeout=5)
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 404
    assert "rinha_" not in body and "erro" in body


def credit(i):
    return ("POST", "/clientes/%d/transacoes" % (i % 5 + 1), {"valor": 1, "tipo": "c", "descricao": "m%d" % i})


def test_counters_equal_what_was_sent():
    """Per route and status, the sum over both replicas of
    rinha_http_requests_total grows by exactly what this test sent through
    nginx; so do the latency histograms' counts, and every request that
    reached the database is in exactly one committed transaction and one
    round trip."""
    before = scrape_all()
    requests = [credit(i) for i in range(40)]
    invalid = ['{"valor": 1.2, "tipo": "c", "descricao": "x"}', '{"valor": 1, "tipo": "x", "descricao": "x"}',
               '{"valor": 1, "tipo": "c", "descricao": "123456789 e mais um pouco"}',
               '{"valor": 1, "tipo": "c", "descricao": ""}', '{"valor": 1, "tipo": "c", "descricao": null}',
               '{"tipo": "c", "descricao": "x"}']
    requests += [("POST", "/clientes/1/transacoes", b) for b in invalid]
    requests += [("POST", "/clientes/1/transacoes", {"valor": 10 ** 12, "tipo": "d", "descricao": "no"})] * 3
    requests += [("POST", "/clientes/6/transacoes", {"valor": 1, "tipo": "c", "descricao": "x"})] * 2
    requests += [("GET", "/clientes/%d/extrato" % (i % 5 + 1), None) for i in range(12)]
    requests += [("GET", "/clientes/6/extrato", None)] * 3
    requests += [("GET", "/nada", None)] * 4
    requests += [("GET", "/clientes/1/transacoes", None)] * 2
    statuses = send_all(requests, workers=8)
    after = scrape_all()

    expected = {("transacao", "200"): 40, ("transacao", "422"): 9, ("transacao", "404"): 2,
                ("extrato", "200"): 12, ("extrato", "404"): 3, ("other", "404"): 4, ("other", "405"): 2}
    assert sum(statuses.values()) == sum(expected.values())
    got = {}
    for route in ("transacao", "extrato", "other"):
        for status in ("200", "400", "404", "405", "413", "422", "499", "503", "504", "other"):
            d = delta(after, before, "rinha_http_requests_total", route=route, status=status)
            if d:
                got[(route, status)] = d
    assert got == expected
    for route in ("transacao", "extrato", "other"):
        sent = sum(n for (r, _), n in expected.items() if r == route)
        assert delta(after, before, "rinha_http_request_duration_seconds_count", route=route) == sent

    to_db = 40 + 3 + 2 + 12 + 3  # the rest is refused before the database
    assert delta(after, before, "rinha_db_queue_wait_seconds_count") == to_db
    assert delta(after, before, "rinha_db_round_trip_requests_sum") == to_db
    settled = (family_total(after, "rinha_db_commit_requests_sum") -
               family_total(before, "rinha_db_commit_requests_sum"))
    assert settled == to_db
    assert delta(after, before, "rinha_db_commit_requests_count", kind="read") == 15  # one per statement
    assert family_total(after, "rinha_http_errors_total") == family_total(before, "rinha_http_errors_total")


# --------------------------------------------------------------------------
# The commits histogram against PostgreSQL's own count
# --------------------------------------------------------------------------

def pg_counts():
    """(xact_commit, xact_rollback) of the database rinha, as the
    cumulative statistics system has them."""
    row = psql_admin("SELECT pg_stat_clear_snapshot(); "
                     "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = 'rinha'")[-1]
    return int(row[0]), int(row[1])


def replica_counts():
    s = scrape_all()
    return (family_total(s, "rinha_db_commit_requests_count"), family_total(s, "rinha_db_rollbacks_total"),
            family_total(s, "rinha_db_connects_total"))


def flush_backend_stats():
    """A backend publishes its statistics when it goes idle, at most once a
    second (PostgreSQL 15): wait past that, then give each replica's
    backend one more transaction (a statement read, straight to the
    replica's socket) so that it publishes everything, that read included."""
    time.sleep(1.2)
    for name in sorted(REPLICAS):
        c = Client(unix_path="%s/%s.sock" % (RUN_DIR, name))
        assert c.request("GET", "/clientes/1/extrato") == 200
        c.close()


@pytest.fixture
def autovacuum_off():
    """Autovacuum's workers commit transactions of their own in the
    database rinha; they are off for the test's window."""
    psql_admin("ALTER SYSTEM SET autovacuum = off")
    psql_admin("SELECT pg_reload_conf()")
    assert wait_until(lambda: psql_admin(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")[0][0] == "0", 10)
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
    statuses = send_all(requests, workers=16)
    assert statuses[200] == len(requests)
    flush_backend_stats()
    rep1 = replica_counts()
    commits = rep1[0] - rep0[0]
    assert rep1[2] == rep0[2], "a replica reconnected during the window"
    # Published within a second normally; PostgreSQL retries a flush it had
    # to skip, and publishes an idle backend's stats after 10 s at most.
    pg1 = wait_until(lambda: (lambda c: c if c[0] - pg0[0] >= commits else None)(pg_counts()), 15)
    assert pg1 is not None, "PostgreSQL reports fewer commits than the replicas"
    print("\ncommits in the window: replicas %d, PostgreSQL %d (%d requests)" % (commits, pg1[0] - pg0[0],
                                                                              len(requests) + len(REPLICAS)))
    assert pg1[0] - pg0[0] == commits
    assert pg1[1] - pg0[1] == rep1[1] - rep0[1]
    # Batching happened: fewer write commits than writes.
    assert commits < len(requests) + len(REPLICAS)
