"""Helpers for the metrics suite (tests/metrics): scraping the replicas'
METRICS_LISTEN endpoints and parsing them with a real Prometheus text parser
(Debian's python3-prometheus-client), sending known traffic through nginx,
and reading PostgreSQL's own statistics.

Runs against the native stack that scripts/integration.sh starts
(SUITE=tests/metrics, `make metrics-test`): api01 serves its metrics on
127.0.0.1:9101, api02 on 127.0.0.1:9102 (scripts/stack.sh).
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bank import REPO  # noqa: E402

REPLICAS = {"api01": ("127.0.0.1", 9101), "api02": ("127.0.0.1", 9102)}
API = ("127.0.0.1", 9999)
RUN_DIR = "/run/rinha"
TIMEOUT = 10.0


def fetch_metrics(addr, path="/metrics", method="GET"):
    """(status, content type, body text) of one request to a metrics listener."""
    conn = http.client.HTTPConnection(*addr, timeout=TIMEOUT)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type"), resp.read().decode()
    finally:
        conn.close()


def parse(text):
    """{metric family name: family} from the text exposition format."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text):
    """{(sample name, frozenset of labels): value} of one exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def scrape_all():
    """Every sample summed over both replicas (counters add up)."""
    total = Counter()
    for addr in REPLICAS.values():
        status, _, body = fetch_metrics(addr)
        assert status == 200
        for key, value in samples(body).items():
            total[key] += value
    return total


def value(snapshot, name, **labels):
    return snapshot.get((name, frozenset(labels.items())), 0.0)


def delta(after, before, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def family_total(snapshot, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in snapshot.items() if n == name and want <= set(ls))


# --------------------------------------------------------------------------
# Traffic through nginx
# --------------------------------------------------------------------------

class Client:
    """One keep-alive connection to :9999 (or a replica's unix socket)."""

    def __init__(self, unix_path=None):
        if unix_path is None:
            self.conn = http.client.HTTPConnection(*API, timeout=TIMEOUT)
        else:
            self.conn = _UnixHTTPConnection(unix_path)

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        if isinstance(data, str):
            data = data.encode()
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        resp.read()
        if resp.getheader("connection", "").lower() == "close":
            self.conn.close()
        return resp.status

    def close(self):
        self.conn.close()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=TIMEOUT)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(self.unix_path)


def send_all(requests, workers=8):
    """Sends (method, path, body) requests over `workers` connections at
    once; returns a Counter of statuses."""
    statuses = Counter()
    lock = threading.Lock()
    chunks = [requests[i::workers] for i in range(workers)]

    def run(chunk):
        c = Client()
        try:
            for method, path, body in chunk:
                s = c.request(method, path, body)
                with lock:
                    statuses[s] += 1
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(ch,)) for ch in chunks if ch]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


class PacedLoad:
    """`rate` requests/s in total over `workers` keep-alive connections,
    each request timed: a steady, open-loop-ish load like the Rinha's (a
    worker that falls behind does not catch up in a burst)."""

    def __init__(self, rate, workers=4, make_request=None):
        self.rate, self.workers = rate, workers
        self.make_request = make_request or (lambda i: ("GET", "/clientes/%d/extrato" % (i % 5 + 1), None))
        self.done = []  # (monotonic end time, latency s, status)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []

    def _run(self, k):
        c = Client()
        period = self.workers / self.rate
        next_at = time.monotonic() + k * period / self.workers
        i = k
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now < next_at:
                    time.sleep(next_at - now)
                next_at = max(next_at + period, time.monotonic() - period)
                method, path, body = self.make_request(i)
                i += self.workers
                t0 = time.monotonic()
                status = c.request(method, path, body)
                t1 = time.monotonic()
                with self._lock:
                    self.done.append((t1, t1 - t0, status))
        finally:
            c.close()

    def start(self):
        for k in range(self.workers):
            t = threading.Thread(target=self._run, args=(k,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()
        return self

    def latencies(self, since=0.0, until=float("inf")):
        with self._lock:
            return sorted(lat for end, lat, _ in self.done if since <= end < until)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


# --------------------------------------------------------------------------
# PostgreSQL, as its administrator, from the database `postgres`: the
# test's own queries never count in the statistics of the database rinha.
# --------------------------------------------------------------------------

def psql_admin(sql):
    cmd = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", RUN_DIR, "-U", "postgres", "-d", "postgres",
           "-c", sql]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("psql failed on %r: %s" % (sql, proc.stderr.strip()))
    return [line.split("|") for line in proc.stdout.splitlines() if line]


def wait_until(predicate, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(step)


__all__ = ["REPO"]
