"""A database outage as the replicas' metrics tell it: the connections
lost and re-established (rinha_db_connection_failures_total,
rinha_db_connects_total) and every request refused meanwhile counted as a
503 with its cause (rinha_http_errors_total{status="503",cause="db_down"}),
equal to what the clients received."""

from conftest import REPLICAS, delta, pg_ctl, scrape, scrape_all, send_all, total, wait_until


def connections_up(name):
    return total(scrape(REPLICAS[name]), "rinha_db_connections_up") == 1


def test_outage_counted_by_cause_and_reconnects_counted():
    before = scrape_all()
    pg_ctl("stop", "-m", "fast")
    try:
        assert wait_until(lambda: not any(connections_up(n) for n in REPLICAS), 10)
        requests = [("POST", "/clientes/1/transacoes", {"valor": 1, "tipo": "c", "descricao": "o"})] * 20
        requests += [("GET", "/clientes/2/extrato", None)] * 10
        statuses = send_all(requests, workers=4)
    finally:
        pg_ctl("start")
    assert wait_until(lambda: all(connections_up(n) for n in REPLICAS), 15)
    after = scrape_all()
    assert statuses == {503: 30}, statuses
    assert delta(after, before, "rinha_http_errors_total", status="503", cause="db_down") == 30
    assert delta(after, before, "rinha_http_requests_total", route="transacao", status="503") == 20
    assert delta(after, before, "rinha_http_requests_total", route="extrato", status="503") == 10
    assert delta(after, before, "rinha_db_connects_total") == len(REPLICAS)  # one reconnect each
    assert delta(after, before, "rinha_db_connection_failures_total") >= len(REPLICAS)
