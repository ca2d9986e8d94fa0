#!/usr/bin/python3
"""End-to-end test of bench/bench.py's k6 runner without k6 (it cannot be
installed here): k6/test/fake-k6 stands in for the binary, sending real
requests to the confined stack and writing k6's CSV and a summary.json. The
runner must measure the generator's CPU, turn the CSV into the per-second
time series with its phase, sample the services' CPU and the replicas'
metrics (server_series), apply the verdicts and
archive summary.json and report.html, leaving k6's own files out of the archive.

  /usr/bin/python3 bench/test_k6_runner.py     (root; make k6-runner-test)
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


class K6Runner(unittest.TestCase):
    def test_rinha_run_through_the_runner(self):
        with tempfile.TemporaryDirectory() as d:
            os.symlink(os.path.join(REPO, "k6", "test", "fake-k6"), os.path.join(d, "k6"))
            out = os.path.join(d, "runs")
            env = dict(os.environ, PATH=d + os.pathsep + os.environ["PATH"], BENCH_OUT=out, FAKE_K6_SECONDS="3")
            p = subprocess.run([sys.executable, os.path.join(HERE, "bench.py"), "k6", "rinha"], env=env, text=True,
                               capture_output=True, timeout=240)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            runs = glob.glob(os.path.join(out, "*"))
            self.assertEqual(len(runs), 1, runs)
            self.assertEqual(sorted(os.listdir(runs[0])), ["report.html", "summary.json"], "k6's own files stay in var/k6/")
            with open(os.path.join(runs[0], "summary.json")) as f:
                s = json.load(f)
            with open(os.path.join(runs[0], "report.html")) as f:
                page = f.read()
        self.assertIn("limited by:", p.stdout)
        self.assertEqual(s["tool_version"], "v0.0.0-fake")
        g = s["generator"]
        self.assertGreater(g["cpu_s"], 0.05, "the fake generator's CPU is measured")
        self.assertGreater(g["window_s"], 2.5)
        lv = s["levels"][0]
        self.assertEqual(sorted(lv["services"]), ["api01", "api02", "db", "nginx"])
        self.assertIn("limited_by", lv)
        ts = s["timeseries"]
        self.assertEqual(ts["source"], "k6 --out csv, 1-second buckets")
        self.assertEqual(sum(ts["load"]["rps"]), lv["requests"], "every request of the CSV is in the series")
        self.assertGreaterEqual(len(ts["load"]["t"]), 3)
        self.assertEqual([ph["name"] for ph in ts["phases"]], ["ramp", "plateau"][:len(ts["phases"])])
        self.assertGreaterEqual(len(ts["cpu"]["t"]), 2)
        self.assertEqual(sorted(ts["cpu"]["cores"]), ["api01", "api02", "db", "generator", "machine", "nginx"])
        self.assertGreater(max(ts["cpu"]["cores"]["generator"]), 0)
        self.assertTrue(s["thresholds"]["passed"])
        # the stack's side: the replicas' /metrics sampled over the run count every request the fake k6 sent
        ss = s["server_series"]
        self.assertIsNotNone(ss, s.get("notes"))
        self.assertEqual(ss["missed"], 0)
        self.assertEqual(len(ss["t"]), len(ss["rps"]))
        served = sum(r * d for r, d in zip(ss["rps"], ss["dt"]))
        self.assertAlmostEqual(served, lv["requests"], delta=max(2, 0.01 * lv["requests"]))
        self.assertEqual(page.count("data-series="), 4 + 4, "the generator's four charts and the stack's four")
        # the stack's side, as make bench records it per level: commits, WAL flushes and the latency split
        self.assertGreater(lv["db_commits"], 0)
        self.assertGreater(lv["requests_per_commit"], 0)
        self.assertGreater(lv["wal"]["flushes"], 0)
        sp = lv["latency_split"]
        self.assertEqual(sp["replicas"], 2)
        self.assertEqual(sp["client"], {"p50_ms": lv["latency_ms"]["p50"], "p99_ms": lv["latency_ms"]["p99"]})
        self.assertGreater(sp["replica"]["p50_ms"], 0)
        self.assertGreater(sp["db"]["p50_ms"], 0)
        self.assertLessEqual(sp["db"]["p50_ms"], sp["replica"]["p99_ms"])
        self.assertIn("split p50/p99 ms: replica", p.stdout)
        self.assertIn("Where the time went", page)


if __name__ == "__main__":
    unittest.main(verbosity=1)
