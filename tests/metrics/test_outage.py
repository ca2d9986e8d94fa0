"""A database outage as the replicas' metrics tell it: the connections
lost and re-established (rinha_db_connection_failures_total,
rinha_db_connects_total) and every request refused meanwhile counted as a
503 with its cause (rinha_http_errors_total{status="503",cause="db_down"}),
equal to what the clients received."""

import os
import subprocess

from conftest import REPO, REPLICAS, delta, fetch_metrics, samples, scrape_all, send_all, value, wait_until

PGDATA = os.path.join(REPO, "var", "pgdata")


def pg_ctl(*args):
    bindir = sorted(d for d in (os.path.join("/usr/lib/postgresql", v, "bin")
                                for v in os.listdir("/usr/lib/postgresql")) if os.path.isdir(d))[-1]
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(bindir, "pg_ctl"), "-D", PGDATA,
                    "-l", os.path.join(REPO, "var", "log", "postgres.log"), "-w", "-t", "30", *args],
                   check=True, stdout=subprocess.DEVNULL, timeout=60)


def connections_up(name):
    status, _, body = fetch_metrics(REPLICAS[name])
    return status == 200 and value(samples(body), "rinha_db_connections_up") == 1


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
