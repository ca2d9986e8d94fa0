#!/usr/bin/python3
"""Unit tests of the benchmark's pure parts, without the stack: the compose
split, the wrk arguments and pgbench scripts built from k6/mix.json, the
aggregation of repeats, bench/mix.lua under wrk against a tiny fake server,
and reports/tools/report.py on fixture summaries.

  /usr/bin/python3 bench/test_bench.py     (part of make k6-check)
"""
import http.server
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import xml.dom.minidom

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "reports", "tools"))
import bench  # noqa: E402
import runinfo  # noqa: E402
import report  # noqa: E402

MIX = bench.load_mix()


class Compose(unittest.TestCase):
    def test_memory_units(self):
        self.assertEqual(runinfo.parse_memory_mb("380MB"), 380)
        self.assertEqual(runinfo.parse_memory_mb("1g"), 1024)
        self.assertEqual(runinfo.parse_memory_mb("512m"), 512)
        self.assertEqual(runinfo.parse_memory_mb("1048576"), 1)
        self.assertEqual(runinfo.parse_memory_mb("2048KB"), 2)
        with self.assertRaises(ValueError):
            runinfo.parse_memory_mb("lots")

    def test_envelope_from_compose(self):
        env = bench.load_envelope()
        self.assertEqual(sorted(env["services"]), sorted(bench.SERVICES))
        self.assertLessEqual(env["cpus"], 1.5 + 1e-9)
        self.assertLessEqual(env["memory_mb"], 550)
        self.assertAlmostEqual(env["cpus"], sum(s["cpus"] for s in env["services"].values()))


class Mix(unittest.TestCase):
    def test_wrk_args_carry_the_mix(self):
        a = dict(x.split("=", 1) for x in bench.wrk_args(MIX))
        self.assertEqual(a["clients"], ",".join("%d:%d" % (c["id"], c["limite"]) for c in MIX["clients"]))
        r = MIX["load"]["rates"]
        self.assertEqual(a["weights"], "%d,%d,%d" % (r["debitos"], r["creditos"], r["extratos"]))
        self.assertEqual(a["valor"], "%d,%d" % (MIX["valor"]["min"], MIX["valor"]["max"]))
        self.assertEqual(a["dlen"], str(MIX["descricao"]["length"]))

    def test_pgbench_scripts(self):
        single = bench.pgbench_script({"name": "s", "calls": 1, "mode": "tx", "clients": 4}, MIX)
        self.assertEqual(single.count("transacao("), 1)
        self.assertNotIn("BEGIN", single)
        self.assertIn("transacao(:c0,", single)
        tx = bench.pgbench_script({"name": "t", "calls": 10, "mode": "tx", "clients": 2}, MIX)
        self.assertEqual(tx.count("transacao("), 10)
        self.assertTrue(tx.index("BEGIN;") < tx.index("transacao(") < tx.index("COMMIT;"))
        ids = [int(m) for m in re.findall(r"transacao\((\d+),", tx)]
        self.assertEqual(ids, sorted(ids), "client rows locked in ascending order")
        self.assertEqual(sorted(set(ids)), [c["id"] for c in MIX["clients"]])
        pipe = bench.pgbench_script({"name": "p", "calls": 50, "mode": "pipeline", "clients": 2}, MIX)
        self.assertEqual(pipe.count("transacao("), 50)
        self.assertIn("\\startpipeline", pipe)
        self.assertIn("\\endpipeline", pipe)
        self.assertNotIn("BEGIN", pipe)
        lote = bench.pgbench_script({"name": "l", "calls": 100, "mode": "lote", "clients": 2}, MIX)
        self.assertEqual(lote.count("transacoes_lote("), 1)
        ids = [int(x) for x in re.search(r"ARRAY\[([0-9, ]+)\]::integer\[\]", lote).group(1).split(",")]
        self.assertEqual(len(ids), 100)
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(lote.count("THEN 'd'"), 100)
        self.assertEqual(len(json.loads(re.search(r"'(\[.*\])'::json", lote).group(1))), 100)
        # pgbench binds at most 255 parameters per statement: 2 per request
        self.assertLessEqual(len(set(re.findall(r":[vk]\d+", lote))), 255)
        # debits : credits as in the mix
        self.assertIn("<= %d THEN 'd'" % MIX["load"]["rates"]["debitos"], pipe)
        self.assertIn("random(1, %d)" % (MIX["load"]["rates"]["debitos"] + MIX["load"]["rates"]["creditos"]), pipe)

    def test_level_entry_medians_and_sums(self):
        def rep(rps, p99, st):
            return {"duration_us": 1_000_000, "requests": rps, "bytes": 0,
                    "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 1},
                    "latency_us": {"p50": 1000, "p90": 2000, "p99": p99, "max": 9000, "mean": 1},
                    "status": st, "inconsistencies": 1, "malformed": 0, "sent": {"d": 0, "c": 0, "e": 0}}
        lv = bench.level_entry("c64", 64, 1, [rep(100, 5000, {"200": 90, "422": 10}), rep(300, 7000, {"200": 300}),
                                              rep(200, 6000, {"200": 190, "503": 10})], None)
        self.assertEqual(lv["rps"], 200)
        self.assertEqual(lv["latency_ms"]["p99"], 6.0)
        self.assertEqual(lv["requests"], 600)
        self.assertEqual(lv["status"], {"200": 580, "422": 10, "503": 10})
        self.assertEqual(lv["errors"], 10 + 3)  # the 503s and the timeouts
        self.assertEqual(lv["inconsistencies"], 3)
        self.assertEqual(lv["duration_s"], 3)
        self.assertEqual(len(lv["repeats"]), 3)


class FakeAPI(http.server.BaseHTTPRequestHandler):
    """The contract, roughly, for wrk: balances are not tracked, except that
    `broken` answers a saldo past the limit now and then."""
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # one write per answer (no Nagle + delayed-ACK stalls)
    broken = False
    limits = {c["id"]: c["limite"] for c in MIX["clients"]}

    def log_message(self, *a):
        pass

    def _send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        cid = int(self.path.split("/")[2])
        lim = self.limits[cid]
        self._send(200, {"saldo": {"total": -lim, "data_extrato": "x", "limite": lim}, "ultimas_transacoes": []})

    def do_POST(self):
        n = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(n))
        assert re.fullmatch(r"[A-Za-z0-9]{10}", body["descricao"]) and 1 <= body["valor"] <= 10000
        lim = self.limits[int(self.path.split("/")[2])]
        if body["tipo"] == "d" and random.random() < 0.2:
            return self._send(422, {"erro": "limite insuficiente"})
        saldo = -lim - 1 if (self.broken and random.random() < 0.1) else -lim
        self._send(200, {"limite": lim, "saldo": saldo})


class Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # wrk resets its connections at the end


@unittest.skipUnless(shutil.which("wrk"), "wrk not installed")
class WrkScript(unittest.TestCase):
    def run_against(self, broken):
        handler = type("H", (FakeAPI,), {"broken": broken})
        srv = Quiet(("127.0.0.1", 0), handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            port = srv.server_address[1]
            p = subprocess.run(["wrk", "-t1", "-c2", "-d1s", "-s", os.path.join(HERE, "mix.lua"), "http://127.0.0.1:%d" % port, "--"]
                               + bench.wrk_args(MIX), text=True, capture_output=True, timeout=30)
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(p.returncode, 0, p.stderr)
        line = next(ln for ln in p.stdout.splitlines() if ln.startswith("BENCH_RESULT "))
        return json.loads(line[len("BENCH_RESULT "):])

    def test_mix_and_checks(self):
        r = self.run_against(False)
        self.assertGreater(r["requests"], 50)
        self.assertEqual(r["inconsistencies"], 0)
        self.assertEqual(r["malformed"], 0)
        self.assertEqual(set(r["status"]) - {"200", "422"}, set())
        s = r["sent"]
        self.assertGreater(s["d"], s["c"] * 1.2, "about 2 debits per credit")
        self.assertLess(s["e"], (s["d"] + s["c"]) * 0.15, "a few statements")

    def test_counts_inconsistencies(self):
        self.assertGreater(self.run_against(True)["inconsistencies"], 0)


def summary_fixture(tool="wrk"):
    lv = lambda n, c, rps: {  # noqa: E731
        "name": n, "connections": c, "rate": None, "duration_s": 10, "requests": int(rps * 10), "rps": rps,
        "latency_ms": {"p50": 1.2, "p90": 3.4, "p99": 8.9, "max": 40.0}, "status": {"200": 100, "422": 5},
        "errors": 0, "inconsistencies": 0,
        "services": {s: {"cpu_s": 3.0, "throttled_s": 0.1, "mem_peak_mb": 30.0, "pss_peak_mb": 12.0} for s in bench.SERVICES}}
    return {
        "schema": 1, "tool": tool, "tool_version": "4.1.0", "scenario": "bench-mix", "commit": "abc1234", "dirty": True,
        "date": "2026-11-26T09:30:00Z", "machine": {"host": "h", "cpus": 2, "memory_mb": 1000, "kernel": "6", "cpu_model": "x<y"},
        "envelope": dict(bench.load_envelope(), enforced="cgroup-v1"),
        "levels": [lv("c16", 16, 8000.0), lv("c64", 64, 14000.0)],
        "db_ceiling": {"tool": "pgbench", "tps": 22000.0, "clients": 2, "duration_s": 8, "variant": "pipeline50",
                       "variants": [{"name": "pipeline50", "mode": "pipeline", "calls": 50, "clients": 2, "tps": 440.0, "calls_per_s": 22000.0,
                                     "failed": 0, "services": {"db": {"cpu_s": 5.0}}}]},
        "thresholds": {"passed": False, "checks": [{"name": "req/s >= 15000 with p99 < 10 ms", "passed": False, "value": 14000.0, "limit": 15000}]},
        "notes": "<script>alert(1)</script>", "best_rps": 14000.0, "ceiling_fraction": 0.636,
    }


class Report(unittest.TestCase):
    def check_page(self, s):
        with tempfile.TemporaryDirectory() as d:
            page = report.render(s, d)
        self.assertTrue(page.startswith("<!doctype html>"))
        for bad in ("http://", "https://", "<script", "<link", "@import", "src="):
            self.assertNotIn(bad, page.replace('xmlns="http://www.w3.org/2000/svg"', ""), "self-contained: " + bad)
        svgs = re.findall(r"<svg.*?</svg>", page, re.S)
        self.assertGreaterEqual(len(svgs), 2)
        for svg in svgs:
            xml.dom.minidom.parseString(svg)  # well-formed
        self.assertIn(s.get("commit") or "?", page)
        self.assertEqual(page.count('class="stamp"') >= len(re.findall("<figure>", page)), True, "commit and date beside every figure")
        return page

    def test_bench_summary(self):
        page = self.check_page(summary_fixture())
        self.assertIn("14 000", page)
        self.assertIn("pipeline50", page)
        self.assertIn("&lt;script&gt;", page)

    def test_k6_summary_with_nulls(self):
        s = summary_fixture("k6")
        s.update(scenario="rinha", machine=None, envelope=None, db_ceiling=None, best_rps=None, ceiling_fraction=None)
        s["levels"] = [{"name": "rinha", "connections": None, "rate": 340, "duration_s": 240, "requests": None, "rps": None,
                        "latency_ms": {"p50": None, "p90": None, "p99": None, "max": None}, "status": {}, "errors": 0,
                        "inconsistencies": 0, "services": None}]
        self.check_page(s)

    def test_archived_runs_render(self):
        runs = os.path.join(REPO, "reports", "runs")
        for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
            p = os.path.join(runs, name, "summary.json")
            if os.path.exists(p):
                with open(p) as f:
                    self.check_page(json.load(f))


if __name__ == "__main__":
    unittest.main(verbosity=1)
