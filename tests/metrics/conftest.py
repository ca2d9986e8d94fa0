"""Helpers of the metrics suite (tests/metrics), run by `make metrics-test`
against the native stack that scripts/integration.sh starts: api01 serves its
metrics on 127.0.0.1:9101, api02 on :9102 (scripts/stack.sh). The load, the
waits and the stack's processes are the fault suite's (tests/faults/
faultkit.py); a scrape is read as observe/scrape.py reads it.
"""

import http.client
import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "faults"), os.path.join(os.path.dirname(TESTS), "observe")]
from faultkit import HOST, PORT, REPO, RUN_DIR, Load, pg_ctl, replica_serves, wait_until  # noqa: E402,F401
from scrape import REPLICAS, scrape, total  # noqa: E402,F401


def fetch_metrics(addr, path="/metrics", method="GET"):
    """(status, content type, body text) of one request to a metrics listener."""
    conn = http.client.HTTPConnection(*addr, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type"), resp.read().decode()
    finally:
        conn.close()


def scrape_all():
    """Every series summed over both replicas (counters add up)."""
    out = Counter()
    for addr in REPLICAS.values():
        out.update(scrape(addr, timeout=10))
    return out


def delta(after, before, name, **labels):
    """Growth of the series of `name` whose labels include `labels`."""
    return total(after, name, **labels) - total(before, name, **labels)


def send_all(requests, workers=8):
    """Sends (method, path, body) requests over `workers` keep-alive
    connections at once; returns a Counter of statuses."""
    def run(chunk):
        conn, statuses = http.client.HTTPConnection(HOST, PORT, timeout=10), []
        for method, path, body in chunk:
            conn.request(method, path, json.dumps(body) if isinstance(body, dict) else body,
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        conn.close()
        return statuses

    with ThreadPoolExecutor(workers) as pool:
        return Counter(s for chunk in pool.map(run, [requests[i::workers] for i in range(workers)]) for s in chunk)


def latencies(load, since, until):
    """Sorted latencies (s) of the load's answers that ended in [since, until)."""
    return sorted(a.seconds for a in load.answers if since <= a.started + a.seconds < until)


def percentile(sorted_values, q):
    return sorted_values[round(q * (len(sorted_values) - 1))] if sorted_values else float("nan")


def psql_admin(sql):
    """SQL as PostgreSQL's administrator, from the database `postgres`: the
    test's own queries never count in the statistics of the database rinha."""
    proc = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", RUN_DIR, "-U", "postgres",
                           "-d", "postgres", "-c", sql], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, "psql failed on %r: %s" % (sql, proc.stderr.strip())
    return [line.split("|") for line in proc.stdout.splitlines() if line]
