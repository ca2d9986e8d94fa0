"""observe/scrape.py, the per-second sampler a load tool keeps with its run:
its quantiles follow Prometheus's rules, and on the live stack it reports
the request rate sent. (Its series from canned samples, a replica missing
included, are checked through bench.py's server_series in
bench/test_bench.py.)"""

import time

from conftest import Load
import scrape  # observe/scrape.py, on sys.path by conftest.py


def test_quantile_matches_prometheus_rules():
    assert scrape.quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert scrape.quantile(0.5, {0.1: 10.0, 0.2: 20.0, float("inf"): 20.0}) == 0.1
    assert scrape.quantile(0.99, {0.1: 10.0, float("inf"): 20.0}) == 0.1  # in +Inf: the highest finite bound


def test_sampler_on_the_live_stack():
    sampler = scrape.Sampler().start()
    load = Load(workers=2, rate=100).start()
    time.sleep(4.2)
    load.stop()
    s = sampler.stop()
    assert s["missed"] == 0
    busy = s["requests_per_s"][1:-1]
    assert busy and all(80 <= r <= 120 for r in busy), s["requests_per_s"]
    assert all(c is not None and c >= 0 for c in s["cpu"]["api01"])
