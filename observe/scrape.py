"""Samples the replicas' Prometheus endpoints (METRICS_LISTEN) once a second
during a run and turns the samples into per-second series from the stack's
side. Python 3 standard library only. For a load tool (bench/bench.py):

    sampler = Sampler().start()     # before the load
    series = sampler.stop()         # after it: {"t": [...seconds since the
        # first sample...], "requests_per_s", "p99_ms", "writes_per_commit",
        # "queued", "commits_per_s", "errors_per_s": [...],
        # "cpu": {"api01": [...cores...], "api02": [...]}, "missed": N}

One value per interval between two consecutive samples (None where nothing
happened, e.g. no request: no p99). A replica that did not answer a sample
is left out of that interval's sums and counted in "missed".
"""

import http.client
import math
import re
import threading
import time

REPLICAS = {"api01": ("127.0.0.1", 9101), "api02": ("127.0.0.1", 9102)}

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, ((label, value), ...sorted)): float} of an exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def total(sample, name, **labels):
    """Sum of the series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in sample.items() if n == name and want <= set(ls))


def buckets(sample, name):
    """{le: cumulative count} of histogram `name`, summed over its labels."""
    out = {}
    for (n, ls), v in sample.items():
        if n == name + "_bucket":
            le = float(dict(ls)["le"])
            out[le] = out.get(le, 0.0) + v
    return out


def quantile(q, cumulative):
    """Prometheus's histogram_quantile over {le: cumulative count}: linear
    interpolation inside the bucket; None if empty."""
    les = sorted(cumulative)
    if not les or cumulative[les[-1]] <= 0:
        return None
    rank = q * cumulative[les[-1]]
    prev_le, prev_count = 0.0, 0.0
    for le in les:
        count = cumulative[le]
        if count >= rank:
            if math.isinf(le):
                return prev_le  # as Prometheus: the highest finite bound
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)  # prev_count < rank
        prev_le, prev_count = le, count


def scrape(addr, timeout=0.9):
    conn = http.client.HTTPConnection(*addr, timeout=timeout)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read().decode()
        if resp.status != 200:
            raise OSError("status %d" % resp.status)
        return parse(body)
    finally:
        conn.close()


def series(samples):
    """Per-interval series from [(t, {replica: parsed sample or None})]."""
    names = sorted({r for _, by in samples for r in by})
    out = {"t": [], "requests_per_s": [], "p99_ms": [], "writes_per_commit": [], "queued": [],
           "commits_per_s": [], "errors_per_s": [], "cpu": {r: [] for r in names}, "missed": 0}
    for (ta, a), (tb, b) in zip(samples, samples[1:]):
        dt = tb - ta
        both = [r for r in names if a.get(r) is not None and b.get(r) is not None]
        out["missed"] += len(names) - len(both)

        def d(name, among=both, **labels):
            return sum(total(b[r], name, **labels) - total(a[r], name, **labels) for r in among)

        latency = {}
        for r in both:
            before = buckets(a[r], "rinha_http_request_duration_seconds")
            for le, v in buckets(b[r], "rinha_http_request_duration_seconds").items():
                latency[le] = latency.get(le, 0.0) + v - before.get(le, 0.0)
        p99 = quantile(0.99, latency)
        writes = d("rinha_db_commit_requests_count", kind="write")
        out["t"].append(round(tb - samples[0][0], 3))
        out["requests_per_s"].append(d("rinha_http_requests_total") / dt)
        out["p99_ms"].append(None if p99 is None else p99 * 1e3)
        out["writes_per_commit"].append(d("rinha_db_commit_requests_sum", kind="write") / writes if writes else None)
        out["queued"].append(sum(total(b[r], "rinha_db_queued") for r in both))
        out["commits_per_s"].append(d("rinha_db_commit_requests_count") / dt)
        out["errors_per_s"].append(d("rinha_http_errors_total") / dt)
        for r in names:
            out["cpu"][r].append(d("process_cpu_seconds_total", among=[r]) / dt if r in both else None)
    return out


class Sampler:
    """Scrapes every replica once per `interval` seconds in a thread."""

    def __init__(self, replicas=None, interval=1.0):
        self.replicas = dict(replicas or REPLICAS)
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample_once(self):
        by = {}
        for name, addr in self.replicas.items():
            try:
                by[name] = scrape(addr)
            except (OSError, http.client.HTTPException, ValueError):
                by[name] = None
        self.samples.append((time.monotonic(), by))

    def _run(self):
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        """Takes a last sample, stops, and returns series(samples)."""
        self._stop.set()
        self._thread.join()
        self.sample_once()
        return series(self.samples)

