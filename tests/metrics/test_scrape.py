"""observe/scrape.py, the per-second sampler a load tool can keep with its
run: its parsing and quantiles on canned text, and on the live stack the
request rate it reports."""

import os
import sys
import time

from conftest import REPO, PacedLoad

sys.path.insert(0, os.path.join(REPO, "observe"))
import scrape  # noqa: E402

TEXT_A = """# TYPE rinha_http_requests_total counter
rinha_http_requests_total{route="transacao",status="200"} 10
rinha_http_requests_total{route="extrato",status="200"} 5
rinha_http_request_duration_seconds_bucket{route="transacao",le="0.001"} 5
rinha_http_request_duration_seconds_bucket{route="transacao",le="0.002"} 10
rinha_http_request_duration_seconds_bucket{route="transacao",le="+Inf"} 10
rinha_db_commit_requests_sum{kind="write"} 10
rinha_db_commit_requests_count{kind="write"} 4
rinha_db_commit_requests_count{kind="read"} 5
rinha_db_queued 0
process_cpu_seconds_total 1.00
"""
TEXT_B = """rinha_http_requests_total{route="transacao",status="200"} 110
rinha_http_requests_total{route="extrato",status="200"} 5
rinha_http_request_duration_seconds_bucket{route="transacao",le="0.001"} 5
rinha_http_request_duration_seconds_bucket{route="transacao",le="0.002"} 110
rinha_http_request_duration_seconds_bucket{route="transacao",le="+Inf"} 110
rinha_db_commit_requests_sum{kind="write"} 110
rinha_db_commit_requests_count{kind="write"} 14
rinha_db_commit_requests_count{kind="read"} 5
rinha_db_queued 3
process_cpu_seconds_total 1.25
"""


def test_series_from_canned_samples():
    a, b = scrape.parse(TEXT_A), scrape.parse(TEXT_B)
    assert scrape.total(a, "rinha_http_requests_total") == 15
    s = scrape.series([(0.0, {"api01": a, "api02": None}), (2.0, {"api01": b, "api02": None})])
    assert s["t"] == [2.0]
    assert s["requests_per_s"] == [50.0]
    # 100 new requests all in (1 ms, 2 ms]: p99 interpolates to 1.99 ms.
    assert abs(s["p99_ms"][0] - 1.99) < 1e-9
    assert s["writes_per_commit"] == [10.0]
    assert s["commits_per_s"] == [5.0]
    assert s["queued"] == [3.0]
    assert s["cpu"]["api01"] == [0.125] and s["cpu"]["api02"] == [None]
    assert s["missed"] == 1


def test_quantile_matches_prometheus_rules():
    assert scrape.quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert scrape.quantile(0.5, {0.1: 10.0, 0.2: 20.0, float("inf"): 20.0}) == 0.1
    assert scrape.quantile(0.99, {0.1: 10.0, float("inf"): 20.0}) == 0.1  # in +Inf: the highest finite bound


def test_sampler_on_the_live_stack():
    sampler = scrape.Sampler().start()
    load = PacedLoad(100, workers=2).start()
    time.sleep(4.2)
    load.stop()
    s = sampler.stop()
    assert s["missed"] == 0
    busy = [r for r in s["requests_per_s"][1:-1]]
    assert busy and all(80 <= r <= 120 for r in busy), s["requests_per_s"]
    assert all(c is not None and c >= 0 for c in s["cpu"]["api01"])
