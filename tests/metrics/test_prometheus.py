"""A real Prometheus (Debian's) started by observe/observe.sh, the way
`make observe` starts it, scrapes the running stack every second; the
request rate it computes with PromQL matches the rate this test generated.
"""

import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import REPO, Load, latencies, wait_until

RATE = 150         # requests/s generated
LOAD_SECONDS = 10
WINDOW = 6         # seconds of the PromQL rate() window, inside the load
TOLERANCE = 0.10   # relative


def query(promql, at=None):
    """The instant vector as {(job, replica): value}, or the value of a
    single-sample result."""
    params = {"query": promql, **({"time": "%.3f" % at} if at else {})}
    with urllib.request.urlopen("http://127.0.0.1:9090/api/v1/query?" + urllib.parse.urlencode(params),
                                timeout=5) as resp:
        result = json.load(resp)["data"]["result"]
    return {(r["metric"].get("job"), r["metric"].get("replica")): float(r["value"][1]) for r in result}


def scalar(promql, at=None):
    return next(iter(query(promql, at).values()), None)


@pytest.fixture(scope="module")
def prometheus():
    env = dict(os.environ, OBSERVE_DATA=os.path.join(REPO, "var", "prometheus-test"))
    subprocess.run(["rm", "-rf", env["OBSERVE_DATA"]], check=True)
    proc = subprocess.Popen([os.path.join(REPO, "observe", "observe.sh"), "--for", "120"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert "Prometheus console: http://127.0.0.1:9090" in line, line
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "observe: stopped" in out, out


def test_promql_request_rate_matches_the_generated_rate(prometheus):
    # Every target up: both replicas, nginx's and PostgreSQL's exporters and what they reach.
    want = {("rinha-api", "api01"): 1, ("rinha-api", "api02"): 1, ("nginx", None): 1, ("postgres", None): 1}
    assert wait_until(lambda: query("up") == want and scalar("nginx_up") == scalar("pg_up") == 1, 20, step=0.5), \
        query("up")

    # 12 paced workers (80 ms apart each): one slow answer no longer makes a
    # worker fall behind its pace, which it never catches up (faultkit.Load).
    load = Load(workers=12, rate=RATE).start()
    t_start, mono_start = time.time(), time.monotonic()
    time.sleep(LOAD_SECONDS)
    load.stop()
    time.sleep(2.5)  # the last in-window scrape is stored

    # The window [at - WINDOW, at] lies inside the load, a second from both its ends.
    at, mono_at = t_start + LOAD_SECONDS - 1, mono_start + LOAD_SECONDS - 1
    sent = len(latencies(load, mono_at - WINDOW, mono_at)) / WINDOW
    seen = scalar('sum(rate(rinha_http_requests_total{job="rinha-api"}[%ds]))' % WINDOW, at)
    nginx = scalar("sum(rate(nginx_http_requests_total[%ds]))" % WINDOW, at)
    commits = scalar('sum(rate(pg_stat_database_xact_commit{datname="rinha"}[%ds]))' % WINDOW, at)
    p99 = scalar('histogram_quantile(0.99, sum by (le) (rate(rinha_http_request_duration_seconds_bucket[%ds])))'
                 % WINDOW, at)
    print("\nrate generated %.1f/s; PromQL: replicas %.1f/s, nginx %.1f/s, PostgreSQL commits %.1f/s, "
          "server p99 %.2f ms" % (sent, seen or 0, nginx or 0, commits or 0, (p99 or 0) * 1e3))
    # The generator only has to make a real load; what is checked is that
    # every counter agrees with what it did send (`sent`, counted per request).
    assert abs(sent - RATE) / RATE < 0.15, "the generator missed its own rate by more than 15%"
    assert seen is not None and abs(seen - sent) / sent <= TOLERANCE
    # nginx also counts the exporter's own stub_status requests (1/s).
    assert nginx is not None and abs(nginx - sent) / sent <= TOLERANCE + 1.0 / sent
    assert commits is not None and commits > 0
    assert (scalar("pg_stat_wal_wal_sync") or 0) > 0, "no WAL series: observe/postgres-queries.yaml"
    assert p99 is not None and 0 < p99 < 0.25
