#!/usr/bin/python3
"""Unit tests of the benchmark's pure parts, without the stack: the compose
split, the cgroups on a fake cgroupfs, the pgbench scripts built from
k6/mix.json, the aggregation of repeats, bench/mix.lua under wrk against a tiny
fake server, the time series, make compare's ratios, and what
reports/tools makes of summaries (report.py, verdict.py, site.py).

  /usr/bin/python3 bench/test_bench.py     (part of make k6-check)
"""
import gzip
import http.server
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.dom.minidom
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench  # noqa: E402  (puts reports/tools and observe on the path)
import cgroups  # noqa: E402
import compare  # noqa: E402
import report  # noqa: E402
from envelope import parse_memory_mb  # noqa: E402  (scripts/envelope.py, on the path through bench)
import series  # noqa: E402
import verdict  # noqa: E402

# reports/tools/site.py by its path: `import site` is Python's own module.
_spec = importlib.util.spec_from_file_location("site_tool", os.path.join(REPO, "reports", "tools", "site.py"))
site_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site_tool)

FIXTURES = os.path.join(REPO, "k6", "test", "fixtures")
MIX = bench.load_mix()


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


class Compose(unittest.TestCase):
    def test_memory_units(self):
        for text, mb in (("380MB", 380), ("1g", 1024), ("512m", 512), ("1048576", 1), ("2048KB", 2)):
            self.assertEqual(parse_memory_mb(text), mb)
        with self.assertRaises(ValueError):
            parse_memory_mb("lots")

    def test_envelope_from_compose(self):
        env = bench.load_envelope()
        self.assertEqual(sorted(env["services"]), sorted(cgroups.SERVICES))
        self.assertLessEqual(env["cpus"], 1.5 + 1e-9)
        self.assertLessEqual(env["memory_mb"], 550)
        self.assertAlmostEqual(env["cpus"], sum(s["cpus"] for s in env["services"].values()))


def write_counters(cg, cpu_ns, throttled_ns, mem):
    """What the kernel shows of every service's cgroup, in each hierarchy's files."""
    for s in cgroups.SERVICES:
        files = {("cpuacct", "cpuacct.usage"): "%d\n" % cpu_ns, ("cpu", "cpu.stat"): "nr_throttled 3\nthrottled_time %d\n" % throttled_ns,
                 ("memory", "memory.usage_in_bytes"): "%d\n" % mem} if cg.kind == "cgroup-v1" else {
            ("unified", "cpu.stat"): "usage_usec %d\nuser_usec 1\nthrottled_usec %d\n" % (cpu_ns // 1000, throttled_ns // 1000),
            ("unified", "memory.current"): "%d\n" % mem}
        for (c, name), text in files.items():
            with open(os.path.join(cg.dirs[c], s, name), "w") as f:
                f.write(text)


class Cgroups(unittest.TestCase):
    """bench/cgroups.py on a fake cgroupfs (a temporary folder), v1 and v2:
    the limits it writes and the figures it reads over a window."""

    def confine(self, v2, envelope=None, split=True):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        mounts = [["cgroup2", tmp, "cgroup2", "rw"]] if v2 else [["cgroup", os.path.join(tmp, c), "cgroup", "rw," + c] for c in ("cpu", "cpuacct", "memory")]
        cg = cgroups.Cgroups(envelope or bench.load_envelope(), split)
        with mock.patch.multiple(cgroups, mounts=lambda: mounts, own=lambda c: "/", V2_ROOT=tmp):
            cg.setup()
        self.assertEqual(cg.kind, "cgroup-v2" if v2 else "cgroup-v1")
        return cg, tmp

    def test_limits_and_figures(self):
        for v2 in (False, True):
            cg, tmp = self.confine(v2)

            def read(c, svc, name):
                with open(os.path.join(cg.dirs[c], svc, name)) as f:
                    return f.read()
            for svc, lim in [("", cg.env)] + [(s, cg.env["services"][s]) for s in cgroups.SERVICES]:
                quota, mem = round(lim["cpus"] * 100000), str(int(lim["memory_mb"] * 2**20))
                want = {("unified", "cpu.max"): "%d 100000" % quota, ("unified", "memory.max"): mem} if v2 else {
                    ("cpu", "cpu.cfs_quota_us"): str(quota), ("cpu", "cpu.cfs_period_us"): "100000", ("memory", "memory.limit_in_bytes"): mem}
                self.assertEqual({k: read(*k[:1], svc, k[1]) for k in want}, want, svc or "the envelope")
            if v2:
                self.assertEqual(read("unified", "..", "cgroup.subtree_control"), "+cpu +memory")
                self.assertEqual(read("unified", "", "cgroup.subtree_control"), "+cpu +memory")
            write_counters(cg, 2 * 10**9, 10**9, 10 * 2**20)
            cg.move("db", os.getpid())
            start = cg.start_window()
            write_counters(cg, 35 * 10**8, 125 * 10**7, 30 * 2**20)
            time.sleep(0.3)  # the sampler sees the peak
            write_counters(cg, 35 * 10**8, 125 * 10**7, 20 * 2**20)
            res = cg.end_window(start)
            self.assertEqual(cg.pids("db"), [os.getpid()])
            self.assertEqual({k: res["db"][k] for k in ("cpu_s", "throttled_s", "mem_peak_mb")}, {"cpu_s": 1.5, "throttled_s": 0.25, "mem_peak_mb": 30.0})
            self.assertGreater(res["db"]["pss_peak_mb"], 1, "this process's PSS")
            self.assertEqual(res["nginx"]["pss_peak_mb"], 0)


    def test_one_cgroup_limits_only_the_envelope(self):
        env = bench.one_cgroup_envelope(bench.load_envelope())
        self.assertEqual((env["cpus"], env["memory_mb"], env["one_cgroup"]), (1.5, 550.0, True), "the Rinha's whole envelope")
        self.assertEqual({s: v["cpus"] for s, v in env["services"].items()}, {s: 1.5 for s in cgroups.SERVICES})
        for v2 in (False, True):
            cg, tmp = self.confine(v2, env, split=False)
            quota = ("unified", "cpu.max") if v2 else ("cpu", "cpu.cfs_quota_us")
            with open(os.path.join(cg.dirs[quota[0]], quota[1])) as f:
                self.assertEqual(f.read(), "150000 100000" if v2 else "150000", "the envelope's cgroup holds the limit")
            for svc in cgroups.SERVICES:
                self.assertTrue(os.path.isdir(os.path.join(cg.dirs[quota[0]], svc)), "each service still has its cgroup, to be counted")
                self.assertFalse(os.path.exists(os.path.join(cg.dirs[quota[0]], svc, quota[1])), "but no limit of its own")
        page = report.render(dict(summary_fixture(), envelope=dict(env, enforced="cgroup-v1, one cgroup for the whole stack")))
        self.assertIn("no per-service split: every service may use the whole envelope", page)
        self.assertNotIn("db 0.8 CPU", page)


class Mix(unittest.TestCase):
    def test_pgbench_scripts(self):
        script = lambda mode, calls: bench.pgbench_script({"name": "x", "calls": calls, "mode": mode, "clients": 2}, MIX)  # noqa: E731
        single = script("tx", 1)
        self.assertEqual((single.count("transacao(:c0,"), "BEGIN" in single), (1, False))
        tx = script("tx", 10)
        self.assertTrue(tx.index("BEGIN;") < tx.index("transacao(") < tx.index("COMMIT;"))
        ids = [int(m) for m in re.findall(r"transacao\((\d+),", tx)]
        self.assertEqual(ids, sorted(ids), "client rows locked in ascending order")
        self.assertEqual(sorted(set(ids)), [c["id"] for c in MIX["clients"]])
        pipe = script("pipeline", 50)
        self.assertEqual((pipe.count("transacao("), pipe.count("\\startpipeline"), pipe.count("\\endpipeline"), "BEGIN" in pipe), (50, 1, 1, False))
        # debits : credits as in the mix
        r = MIX["load"]["rates"]
        self.assertIn("random(1, %d)" % (r["debitos"] + r["creditos"]), pipe)
        self.assertIn("<= %d THEN 'd'" % r["debitos"], pipe)
        lote = script("lote", 100)
        self.assertEqual((lote.count("transacoes_lote("), lote.count("THEN 'd'")), (1, 100))
        ids = [int(x) for x in re.search(r"ARRAY\[([0-9, ]+)\]::integer\[\]", lote).group(1).split(",")]
        self.assertEqual((len(ids), ids), (100, sorted(ids)))
        self.assertEqual(len(re.search(r"'\{(.*)\}'::text\[\]", lote).group(1).split(",")), 100)
        # pgbench binds at most 255 parameters per statement: 2 per request
        self.assertLessEqual(len(set(re.findall(r":[vk]\d+", lote))), 255)
        # the C batch call: the same arrays, its own function
        lote_c = script("lote_c", 10)
        self.assertEqual((lote_c.count("transacoes_lote_c("), lote_c.count("transacoes_lote("), lote_c.count("THEN 'd'")),
                         (1, 0, 10))
        one = script("lote_c", 1)
        self.assertIn("transacoes_lote_c(ARRAY[:c0]::integer[], ARRAY[:v0]::bigint[]", one)
        self.assertEqual(set(bench.PGBENCH_FUNCTION), {v["mode"] for m in ("default", "quick") for v in MIX["bench"][m]["pgbench"]} | {"tx"})

    def test_level_entry_medians_and_sums(self):
        def rep(rps, p99, st):
            return {"duration_us": 1_000_000, "requests": rps, "bytes": 0,
                    "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 1},
                    "latency_us": {"p50": 1000, "p90": 2000, "p99": p99, "max": 9000, "mean": 1},
                    "status": st, "inconsistencies": 1, "malformed": 0, "sent": {"d": 0, "c": 0, "e": 0}}
        lv = bench.level_entry("c64", 64, 1, [rep(100, 5000, {"200": 90, "422": 10}), rep(300, 7000, {"200": 300}),
                                              rep(200, 6000, {"200": 190, "503": 10})], None)
        self.assertEqual((lv["rps"], lv["latency_ms"]["p99"], lv["requests"], lv["duration_s"]), (200, 6.0, 600, 3))
        self.assertEqual(lv["status"], {"200": 580, "422": 10, "503": 10})
        self.assertEqual((lv["errors"], lv["socket_errors"]), (10 + 3, 3))  # the 503s and the timeouts
        self.assertEqual(lv["inconsistencies"], 3)
        self.assertEqual(len(lv["repeats"]), 3)


class OfficialRate(unittest.TestCase):
    """The official-rate level: its spec from k6/mix.json, its checks, and
    that it never stands for the stack's throughput."""

    def test_specs_from_the_mix(self):
        specs = bench.level_specs(MIX, MIX["bench"]["default"])
        self.assertEqual([x["name"] for x in specs], ["r340", "c16", "c64", "c128", "c256"], "the rate level first")
        r = specs[0]
        self.assertEqual((r["rate"], r["connections"], r["think_ms"], r["level_s"], r["repeats"]), (340, 34, 100.0, 10, 3))
        self.assertEqual([(x["rate"], x["think_ms"]) for x in specs[1:]], [(None, None)] * 4)
        # the rate is the mix's, not a constant
        mix = json.loads(json.dumps(MIX))
        mix["load"]["rates"] = {"debitos": 300, "creditos": 150, "extratos": 50}
        r = bench.level_specs(mix, mix["bench"]["quick"])[0]
        self.assertEqual((r["name"], r["rate"], r["think_ms"], r["repeats"]), ("r500", 500, 68.0, 1))
        self.assertEqual([x["name"] for x in bench.level_specs(MIX, {"levels": [64], "level_s": 2, "repeats": 1})], ["c64"])
        for mode in ("default", "quick"):
            self.assertEqual(bench.level_specs(MIX, MIX["compare"][mode])[0]["name"], "r340", mode)

    def test_wrk_args(self):
        self.assertFalse(any(x.startswith("think=") for x in bench.wrk_args(MIX)))
        self.assertEqual(bench.wrk_args(MIX, 100.0)[0], "think=100")
        self.assertEqual(bench.wrk_args(MIX, 100.0)[1:], bench.wrk_args(MIX))

    @staticmethod
    def lv(name, rps, p50=0.4, p99=1.2, mx=8.0, rate=None):
        return {"name": name, "rps": rps, "rate": rate, "connections": 34 if rate else 64, "think_ms": 100.0 if rate else None,
                "latency_ms": {"p50": p50, "p90": 1.0, "p99": p99, "max": mx}}

    def test_rate_reached_and_checks(self):
        self.assertEqual(bench.rate_reached(self.lv("r340", 330.0, rate=340), MIX), (True, 0.971))
        self.assertEqual(bench.rate_reached(self.lv("r340", 300.0, rate=340), MIX), (False, 0.882))
        checks = bench.rate_checks([self.lv("c64", 9000.0), self.lv("r340", 300.0, p99=2.0, rate=340)], MIX)
        self.assertEqual([(c["name"], c["passed"], c["value"]) for c in checks],
                         [("r340: req/s >= 90% of the offered 340", False, 0.882), ("r340: p50 <= 0.6 ms", True, 0.4),
                          ("r340: p99 <= 1.5 ms", False, 2.0), ("r340: max <= 10 ms", True, 8.0)])
        self.assertEqual(bench.rate_checks([self.lv("c64", 9000.0)], MIX), [])
        line = bench.rate_line(self.lv("r340", 300.0, rate=340), MIX)
        self.assertEqual(line, "r340   offered 340 req/s (34 connections, think 100 ms): NOT REACHED, 88% of it (under 90%): "
                               "its latencies are not the official load's")
        self.assertTrue(bench.rate_line(self.lv("r340", 338.0, rate=340), MIX).endswith("reached 99%"))
        self.assertIn("r340: the official peak rate, 340 req/s offered by 34 connections", bench.rate_note(bench.level_specs(MIX, MIX["bench"]["default"])))

    def test_best_levels_leave_the_rate_level_out(self):
        # every closed loop over the p99 target: the best such level is none, not the rate level
        levels = [self.lv("r340", 340.0, rate=340), self.lv("c16", 5000.0, p99=12.0), self.lv("c64", 9000.0, p99=30.0)]
        best, best_any = bench.best_levels(levels, 10)
        self.assertEqual((best, best_any["name"]), (None, "c64"))
        levels[1]["latency_ms"]["p99"] = 9.0
        self.assertEqual(bench.best_levels(levels, 10)[0]["name"], "c16")

    def test_level_entry_records_the_rate(self):
        r = {"duration_us": 1_000_000, "requests": 340, "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
             "latency_us": {"p50": 400, "p90": 800, "p99": 1200, "max": 5000}, "status": {"200": 340}, "inconsistencies": 0, "malformed": 0}
        lv = bench.level_entry("r340", 34, 1, [r], None, 340, 100.0)
        self.assertEqual((lv["rate"], lv["think_ms"], lv["connections"], lv["rps"]), (340, 100.0, 34, 340.0))
        self.assertNotIn("think_ms", bench.level_entry("c64", 64, 1, [r], None))


class FakeAPI(http.server.BaseHTTPRequestHandler):
    """The contract, roughly, for wrk: 400 for a request off the mix (a
    client, valor, descricao or header k6/mix.json does not have); balances
    are not tracked, except that `broken` answers a saldo past the limit
    now and then."""
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

    def _client(self):
        m = re.fullmatch(r"/clientes/(\d+)/(transacoes|extrato)", self.path)
        ok = m and int(m.group(1)) in self.limits and all(self.headers[k] == v for k, v in MIX["headers"].items())
        return self.limits[int(m.group(1))] if ok else None

    def do_GET(self):
        lim = self._client()
        if lim is None:
            return self._send(400, {})
        self._send(200, {"saldo": {"total": -lim, "data_extrato": "x", "limite": lim}, "ultimas_transacoes": []})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        lim, d = self._client(), MIX["descricao"]
        if (lim is None or not MIX["valor"]["min"] <= body["valor"] <= MIX["valor"]["max"] or body["tipo"] not in "cd"
                or len(body["descricao"]) != d["length"] or set(body["descricao"]) - set(d["alphabet"])):
            return self._send(400, {})
        if body["tipo"] == "d" and random.random() < 0.2:
            return self._send(422, {"erro": "limite insuficiente"})
        self._send(200, {"limite": lim, "saldo": -lim - 1 if (self.broken and random.random() < 0.1) else -lim})


class Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # wrk resets its connections at the end


@unittest.skipUnless(shutil.which("wrk"), "wrk not installed")
class WrkScript(unittest.TestCase):
    def run_against(self, broken, conns=2, think_ms=None):
        srv = Quiet(("127.0.0.1", 0), type("H", (FakeAPI,), {"broken": broken}))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            p = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d1s", "-s", os.path.join(HERE, "mix.lua"),
                                "http://127.0.0.1:%d" % srv.server_address[1], "--"] + bench.wrk_args(MIX, think_ms),
                               text=True, capture_output=True, timeout=30)
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(p.returncode, 0, p.stderr)
        line = next(ln for ln in p.stdout.splitlines() if ln.startswith("BENCH_RESULT "))
        return json.loads(line[len("BENCH_RESULT "):])

    def test_mix_and_checks(self):
        r = self.run_against(False)
        self.assertGreater(r["requests"], 50)
        self.assertEqual((r["inconsistencies"], r["malformed"]), (0, 0))
        self.assertEqual(set(r["status"]) - {"200", "422"}, set(), "every request of the mix (else 400)")
        # the percentile grid that lets bench.py merge 1-second slices
        ps = [p for p, _ in r["q"]]
        self.assertEqual((len(ps), ps[0], ps[-1]), (209, 0.5, 99.99))
        self.assertEqual([v for _, v in r["q"]], sorted(v for _, v in r["q"]))
        self.assertEqual(dict(map(tuple, r["q"]))[50], r["latency_us"]["p50"])
        s = r["sent"]
        self.assertGreater(s["d"], s["c"] * 1.2, "about 2 debits per credit")
        self.assertLess(s["e"], (s["d"] + s["c"]) * 0.15, "a few statements")

    def test_counts_inconsistencies(self):
        self.assertGreater(self.run_against(True)["inconsistencies"], 0)

    def test_think_paces_the_connections(self):
        # 4 connections, mean think 20 ms: about 4 x 1000 / 20 = 200 req/s, where the closed loop runs as fast as the server answers
        closed = self.run_against(False, conns=4)
        paced = self.run_against(False, conns=4, think_ms=20)
        rate = lambda r: r["requests"] / (r["duration_us"] / 1e6)  # noqa: E731
        self.assertGreater(rate(closed), 2 * rate(paced), (rate(closed), rate(paced)))
        self.assertTrue(120 < rate(paced) < 260, rate(paced))
        self.assertEqual((paced["inconsistencies"], paced["malformed"], set(paced["status"]) - {"200", "422"}), (0, 0, set()))
        self.assertLess(paced["latency_us"]["p50"], 20000, "wrk's latency excludes the think time")


def summary_fixture(tool="wrk"):
    lv = lambda n, c, rps: {  # noqa: E731
        "name": n, "connections": c, "rate": None, "duration_s": 10, "requests": int(rps * 10), "rps": rps,
        "latency_ms": {"p50": 1.2, "p90": 3.4, "p99": 8.9, "max": 40.0}, "status": {"200": 100, "422": 5},
        "errors": 0, "inconsistencies": 0,
        "services": {s: {"cpu_s": 3.0, "throttled_s": 0.1, "mem_peak_mb": 30.0, "pss_peak_mb": 12.0} for s in cgroups.SERVICES}}
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

    def test_official_rate_level(self):
        s = summary_fixture()
        r = dict(s["levels"][0], name="r340", connections=34, rate=340, think_ms=100.0, rps=338.0,
                 latency_ms={"p50": 0.45, "p90": 0.8, "p99": 1.31, "max": 6.2})
        s["levels"].insert(0, r)
        page = self.check_page(s)
        self.assertIn("at the official rate (r340)</div><div class=\"v\">p99 1.31 ms</div><div class=\"k\">p50 0.45, max 6.2 ms; 338.0 of 340 req/s offered", page)
        self.assertIn("<td>r340</td><td>34</td><td>340</td><td>100.0</td>", page)
        self.assertIn("best throughput</div><div class=\"v\">14 000 req/s", page)
        # make compare: latency ratios for every level, no req/s ratio for the rate level
        s = dict(s, scenario="compare", compare={"a": {"rev": "HEAD~1", "commit": "aaa"}, "b": {"rev": "HEAD", "commit": "bbb"}, "rounds": 1,
                                                 "order": ["A1", "B1"], "levels": compare.ratios([[r]], [[r]])})
        table = re.search(r'<p id="compare">.*?</table>', self.check_page(s), re.S).group(0)
        self.assertIn("<th>p50 B/A median</th>", table)
        self.assertIn("<td>r340</td><td>–</td><td>–..–</td><td>1.000</td>", table)

    def test_k6_summary_with_nulls(self):
        s = summary_fixture("k6")
        s.update(scenario="rinha", machine=None, envelope=None, db_ceiling=None, best_rps=None, ceiling_fraction=None)
        s["levels"] = [{"name": "rinha", "connections": None, "rate": 340, "duration_s": 240, "requests": None, "rps": None,
                        "latency_ms": {"p50": None, "p90": None, "p99": None, "max": None}, "status": {}, "errors": 0,
                        "inconsistencies": 0, "services": None}]
        self.check_page(s)

    def test_server_series_charts(self):
        s = summary_fixture()
        s["timeseries"] = series.build("wrk, 1-second slices", [{"t": 1, "dt": 1, "rps": 1000, "level": "c16"}], {"t": [], "cores": {}},
                                       [{"name": "c16", "start_s": 0, "end_s": 5}], 1764354270)
        s["server_series"], _ = bench.server_series(scrape_samples(), 1764354270.0, wall_minus_mono=1764354270.0 + 2 - 50.0)
        page = self.check_page(s)
        charts = re.findall(r'<svg[^>]*data-series="([\w-]+)" data-points="(\d+)"', page)
        self.assertEqual(charts[-4:], [("server-rps", "3"), ("server-p99", "3"), ("server-db", "3"), ("server-batch", "3")])
        self.assertIn("<h2>Over time: the stack's side</h2>", page)
        self.assertIn('aria-label="3.0 s: p99 1.96"', page)
        self.assertIn('aria-label="4.0 s: req/s –"', page, "a null is shown as not measured")
        self.assertEqual(page.count("Data of this chart"), 1 + 4)  # the fixture load has req/s only
        self.assertFalse("no-server-series" in page)
        # the stack's charts come after the generator's
        self.assertLess(page.index('data-series="rps"'), page.index('data-series="server-rps"'))

    def test_no_server_series(self):
        page = self.check_page(summary_fixture())
        self.assertFalse("server-series" in page or "stack&#x27;s side" in page, "older runs: nothing new")
        s = summary_fixture()
        s["server_series"] = None
        page = self.check_page(s)
        self.assertTrue('id="no-server-series"' in page and 'data-series="server-' not in page)

    def test_latency_split_table(self):
        s = summary_fixture()
        s["levels"][1]["latency_split"] = bench.latency_split(split_samples(), 11.5, 14.2, s["levels"][1]["latency_ms"])
        page = self.check_page(s)
        table = re.search(r'<h2>Where the time went \(per level\)</h2><p id="latency-split">.*?</table>', page, re.S).group(0)
        rows = re.findall(r"<tr>(.*?)</tr>", table)
        self.assertEqual(len(rows), 2, "a header and the one level that has a split")
        self.assertEqual(re.findall(r"<td>(.*?)</td>", rows[1]),
                         ["c64", "1.20 / 8.90", "0.62 / 2.50", "0.33 / 2.20", "0.50 / 0.99", "0.57", "– (–)", "2"],
                         "no wal: its cell says not measured")
        s["levels"][1]["wal"] = bench.wal_delta((100, 50.0, 120, 6.0, True), (1100, 370.0, 1320, 18.0, True), 800)
        row = re.findall(r"<tr>(.*?)</tr>", self.check_page(s).split('id="latency-split"')[1].split("</table>")[0])[1]
        self.assertEqual(re.findall(r"<td>(.*?)</td>", row)[6], "0.320 (1.25)")
        self.assertIn("interpolated inside their histogram buckets", table)
        self.assertLess(page.index('id="latency-split"'), page.index("<h2>All figures</h2>"))
        self.assertNotIn("latency-split", self.check_page(summary_fixture()), "runs without it: nothing")
        # make compare: both sides' medians, A then B
        s = dict(s, scenario="compare", sides={"a": [s["levels"][1]], "b": [dict(s["levels"][1], name="c64")]})
        rows = re.findall(r"<tr><td>([AB] c64)</td>", self.check_page(s))
        self.assertEqual(rows, ["A c64", "B c64"])

    def test_generator_bound_run_says_so(self):
        page = self.check_page(fixture("reference-stress-summary.json"))
        for want in ("the generator&#x27;s ceiling, not the stack&#x27;s", 'data-limited-by="generator"'):
            self.assertIn(want, page)
        self.assertFalse('<div class="k">highest rate sustained</div>' in page, "the ceiling is not presented as the stack's")
        self.assertFalse('id="generator-bound"' in self.check_page(fixture("reference-rinha-summary.json")))

    def test_archived_runs_render(self):
        runs = os.path.join(REPO, "reports", "runs")
        for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
            p = os.path.join(runs, name, "summary.json")
            if os.path.exists(p):
                with open(p) as f:
                    self.check_page(json.load(f))


def metrics_text(requests, fast, commits, writes, queued, errors, cpu):
    """A replica's /metrics as observe/scrape.py reads it (cumulative)."""
    return ("""rinha_http_requests_total{route="transacao",status="200"} %d
rinha_http_request_duration_seconds_bucket{route="transacao",le="0.001"} %d
rinha_http_request_duration_seconds_bucket{route="transacao",le="0.002"} %d
rinha_http_request_duration_seconds_bucket{route="transacao",le="+Inf"} %d
rinha_db_commit_requests_sum{kind="write"} %d
rinha_db_commit_requests_count{kind="write"} %d
rinha_http_errors_total{status="503",cause="queue_full"} %d
rinha_db_queued %d
process_cpu_seconds_total %f
""" % (requests, fast, requests, requests, writes, commits, errors, queued, cpu))


def scrape_samples():
    """Four samples at monotonic 50..53 s: api02 misses the third; a fixture
    of what bench.py's metrics sampler collects during a run."""
    P = bench.scrape.parse
    a1 = [P(metrics_text(0, 0, 0, 0, 0, 0, 1.0)), P(metrics_text(100, 50, 10, 80, 2, 0, 1.1)),
          P(metrics_text(300, 150, 30, 240, 4, 1, 1.3)), P(metrics_text(600, 300, 60, 480, 0, 3, 1.6))]
    a2 = [P(metrics_text(0, 0, 0, 0, 0, 0, 2.0)), P(metrics_text(100, 100, 10, 80, 1, 0, 2.1)),
          None, P(metrics_text(500, 500, 50, 400, 0, 0, 2.5))]
    return [(50.0 + i, {"api01": a1[i], "api02": a2[i]}) for i in range(4)]


class ServerSeries(unittest.TestCase):
    def test_shape_and_figures(self):
        # monotonic 50 s is unix start + 2 s: t counts from the run's start like the CPU series
        s, note = bench.server_series(scrape_samples(), 1764354270.0, wall_minus_mono=1764354270.0 + 2 - 50.0)
        self.assertEqual(s["t"], [3.0, 4.0, 5.0])
        self.assertEqual(s["dt"], [1.0, 1.0, 1.0])
        self.assertEqual(s["start"], "2025-11-28T18:24:30Z")
        self.assertEqual(s["replicas"], [2, 1, 1])
        self.assertEqual(s["rps"], [200.0, None, None], "a partial sum is not the stack's figure")
        self.assertEqual(s["writes_per_commit"], [8.0, None, None])
        self.assertEqual(s["commits_per_s"], [20.0, None, None])
        self.assertEqual(s["queued"], [3, None, None])
        self.assertEqual(s["errors_per_s"], [0.0, None, None])
        # 200 new answers: 150 at most 1 ms, 50 in (1, 2] ms: p99 = 1 + (198 - 150) / 50 ms
        self.assertAlmostEqual(s["p99_ms"][0], 1.96)
        self.assertEqual(s["cpu"], {"api01": [0.1, 0.2, 0.3], "api02": [0.1, None, None]})
        self.assertEqual(s["missed"], 2)
        self.assertIn("in 2 of 3 intervals", note)
        self.assertIn("api01 127.0.0.1:9101", s["source"])
        json.dumps(s, allow_nan=False)

    def test_unreachable_endpoints_are_null_with_a_reason(self):
        dead = [(50.0 + i, {"api01": None, "api02": None}) for i in range(5)]
        s, note = bench.server_series(dead, 0.0)
        self.assertIsNone(s)
        self.assertIn("METRICS_LISTEN", note)
        self.assertIn("127.0.0.1:9102", note)

    def test_finish_scrape_never_fails_the_run(self):
        class Broken:
            samples = []

            def stop(self):
                raise OSError("boom")
        s, note = bench.finish_scrape({"scrape": Broken()}, 0.0)
        self.assertIsNone(s)
        self.assertIn("boom", note)
        self.assertEqual(bench.finish_scrape({}, 0.0), (None, None))
        d = {"notes": "run."}
        bench.add_note(d, note)
        bench.add_note(d, None)
        self.assertTrue(d["notes"].startswith("run. Server-side series"))

    def test_live_sampler_without_endpoints(self):
        # nothing listens on these ports: the sampler records misses, the series is null
        sampler = bench.scrape.Sampler({"api01": ("127.0.0.1", 9), "api02": ("127.0.0.1", 9)}, interval=0.05).start()
        time.sleep(0.2)
        s, note = bench.finish_scrape({"scrape": sampler}, time.time())
        self.assertIsNone(s)
        self.assertIn("never answered", note)


SPLIT_LE = ("0.0005", "0.001", "0.0025", "+Inf")
# Per replica, per histogram (series label, bucket increments of the level,
# not cumulative): over both replicas the request durations are 80/80/36/4
# (both routes), the queue waits 150/40/10/0, the round trips 10/10/0/0.
SPLIT_INC = {
    "api01": {("rinha_http_request_duration_seconds", 'route="transacao",'): (40, 40, 20, 2),
              ("rinha_db_queue_wait_seconds", ""): (75, 20, 5, 0), ("rinha_db_round_trip_seconds", ""): (5, 5, 0, 0)},
    "api02": {("rinha_http_request_duration_seconds", 'route="transacao",'): (30, 30, 10, 2),
              ("rinha_http_request_duration_seconds", 'route="extrato",'): (10, 10, 6, 0),
              ("rinha_db_queue_wait_seconds", ""): (75, 20, 5, 0), ("rinha_db_round_trip_seconds", ""): (5, 5, 0, 0)},
}


def split_text(replica, level, base=7, before=0, after=0):
    """A replica's histograms, cumulative: `base` in every bucket, plus
    `level` times the level's increments, plus traffic outside the level
    (`before` and `after` answers, all over 2.5 ms) that a wrong bracket
    would take in."""
    lines = []
    for (name, labels), inc in SPLIT_INC[replica].items():
        cum = 0
        for i, (le, n) in enumerate(zip(SPLIT_LE, inc)):
            cum += base + level * n + (before + after if le == "+Inf" else 0)
            lines.append('%s_bucket{%sle="%s"} %d' % (name, labels, le, cum))
    return "\n".join(lines) + "\n"


def split_samples(api02_end=True):
    """Five samples (monotonic s) around a level run from 11.5 to 14.2 s: a
    warm-up's answers before 11 s, the level's between 11 and 15 s, more after
    16 s. The brackets are the samples at 11 and 15 s."""
    P = bench.scrape.parse
    at = {10.0: dict(level=0), 11.0: dict(level=0, before=1000), 13.0: dict(level=0, before=1000),
          15.0: dict(level=1, before=1000), 16.0: dict(level=1, before=1000, after=500)}
    out = []
    for t, kw in at.items():
        by = {r: P(split_text(r, **kw)) for r in SPLIT_INC}
        if t == 15.0 and not api02_end:
            by["api02"] = None
        out.append((t, by))
    return out


class LatencySplit(unittest.TestCase):
    CLIENT = {"p50": 1.5, "p90": 3.0, "p99": 6.0, "max": 20.0}

    def test_two_replicas_between_the_bracketing_samples(self):
        sp = bench.latency_split(split_samples(), 11.5, 14.2, self.CLIENT)
        self.assertEqual(sp["client"], {"p50_ms": 1.5, "p99_ms": 6.0})
        # cumulative 80/160/196/200: p50 at rank 100 inside (0.5, 1] ms; p99 at rank 198 in +Inf: the highest finite bound
        self.assertEqual(sp["replica"], {"p50_ms": 0.625, "p99_ms": 2.5})
        # 150/190/200: p50 rank 100 in [0, 0.5] ms; p99 rank 198 in (1, 2.5]: 1 + 1.5 x 8/10
        self.assertEqual(sp["queue"], {"p50_ms": 0.333, "p99_ms": 2.2})
        # 10/20: p50 rank 10 = 0.5 ms; p99 rank 19.8 in (0.5, 1]: 0.5 + 0.5 x 9.8/10
        self.assertEqual(sp["db"], {"p50_ms": 0.5, "p99_ms": 0.99})
        self.assertEqual(sp["outside_replica_p50_ms"], 0.875)
        self.assertEqual((sp["replicas"], sp["window_s"]), (2, 4.0))
        json.dumps(sp, allow_nan=False)
        line = bench.split_line({"name": "c16", "latency_split": sp})
        self.assertEqual(line, "c16    split p50/p99 ms: replica 0.62/2.50, queue 0.33/2.20, db 0.50/0.99, outside 0.88")

    def test_a_replica_missing_at_an_edge_is_left_out(self):
        sp = bench.latency_split(split_samples(api02_end=False), 11.5, 14.2, self.CLIENT)
        self.assertEqual(sp["replicas"], 1)
        # api01 alone: 40/80/100/102, p50 at rank 51 in (0.5, 1]; round trips 5/10: p50 = 0.5 ms
        self.assertAlmostEqual(sp["replica"]["p50_ms"], 0.5 + 0.5 * 11 / 40, delta=0.00051)  # rounded to the microsecond
        self.assertEqual(sp["db"]["p50_ms"], 0.5)
        only01 = [(t, {"api01": by["api01"]}) for t, by in split_samples()]
        self.assertEqual(sp, bench.latency_split(only01, 11.5, 14.2, self.CLIENT))
        self.assertIn("(1 replica answered)", bench.split_line({"name": "c16", "latency_split": sp}))

    def test_a_restarted_replica_is_left_out(self):
        samples = split_samples()
        samples[3][1]["api02"] = bench.scrape.parse(split_text("api02", level=0, base=0))  # counters back to zero
        self.assertEqual(bench.latency_split(samples, 11.5, 14.2, self.CLIENT)["replicas"], 1)

    def test_no_samples_no_window_no_request_are_nulls(self):
        nulls = {"p50_ms": None, "p99_ms": None}
        for samples, t0, t1 in (([], 11.5, 14.2),
                                (split_samples(), 9.0, 14.2),  # no sample before the level
                                (split_samples(), 11.5, 17.0),  # none after it
                                ([(t, {"api01": None, "api02": None}) for t, _ in split_samples()], 11.5, 14.2),
                                (split_samples()[1:3], 11.2, 12.5)):  # two samples, no request between them
            sp = bench.latency_split(samples, t0, t1, self.CLIENT)
            self.assertEqual(sp["client"], {"p50_ms": 1.5, "p99_ms": 6.0})
            self.assertEqual([sp[k] for k in ("replica", "queue", "db")], [nulls] * 3)
            self.assertIsNone(sp["outside_replica_p50_ms"])
            self.assertIn("no request", bench.split_line({"name": "c16", "latency_split": sp}))
        self.assertEqual(bench.latency_split([], 1, 2, self.CLIENT)["replicas"], 0)

    def test_wal_flushes_between_two_reads(self):
        w = bench.wal_delta((100, 50.0, 120, 6.0, True), (1100, 370.0, 1320, 18.0, True), 800)
        self.assertEqual(w, {"flushes": 1000, "flush_ms_mean": 0.32, "writes": 1200, "write_ms_mean": 0.01, "flushes_per_commit": 1.25})
        sp = bench.latency_split(split_samples(), 11.5, 14.2, self.CLIENT)
        self.assertEqual(bench.split_line({"name": "c16", "latency_split": sp, "wal": w}),
                         "c16    split p50/p99 ms: replica 0.62/2.50, queue 0.33/2.20, db 0.50/0.99, outside 0.88; "
                         "WAL flush mean 0.32 ms, 1.25 per commit")
        json.dumps(w, allow_nan=False)

    def test_wal_without_timing_or_reads_invents_nothing(self):
        untimed = bench.wal_delta((100, 0.0, 120, 0.0, False), (1100, 0.0, 1320, 0.0, False), 800)
        self.assertEqual((untimed["flushes"], untimed["flush_ms_mean"], untimed["write_ms_mean"]), (1000, None, None),
                         "track_wal_io_timing off: counts, no time (a zero would read as free flushes)")
        idle = bench.wal_delta((100, 50.0, 120, 6.0, True), (100, 50.0, 120, 6.0, True), 0)
        self.assertEqual((idle["flush_ms_mean"], idle["flushes_per_commit"]), (None, None), "nothing to average")
        self.assertIsNone(bench.wal_delta(None, (1, 1.0, 1, 1.0, True), 1))
        self.assertIsNone(bench.wal_delta((1, 1.0, 1, 1.0, True), None, 1))

    def test_db_alone_latencies_from_pgbench_logs(self):
        # pgbench --log with --rate: client, transaction, latency (µs, from the scheduled start), script, epoch s, µs, lag
        lines = ["0 %d %d 0 1764390000 %d 12" % (i, 300 + i, i) for i in range(99)] + ["1 0 25000 0 1764390001 5 40", "1 1 skipped 0 1764390001 9 9", ""]
        n, lat = bench.log_latencies(lines)
        self.assertEqual(n, 100, "a skipped transaction has no latency")
        self.assertEqual(lat, {"p50": 0.35, "p90": 0.39, "p99": 25.0, "max": 25.0})
        self.assertEqual(bench.log_latencies(["", "0 0 skipped 0 1 2 3"]), (0, None))
        fl = {"tool": "pgbench", "call": "transacao()", "rate": 340, "clients": 2, "duration_s": 10, "calls": n, "latency_ms": lat,
              "wal": {"flushes": 90, "flush_ms_mean": 0.31, "writes": 95, "write_ms_mean": 0.01, "flushes_per_commit": 0.9}}
        rate_lv = {"name": "r340", "rate": 340, "latency_ms": {"p50": 0.7, "p90": 1.0, "p99": 2.93, "max": 6.0}}
        self.assertEqual(bench.db_alone_line(fl, [rate_lv]),
                         "database alone at the official rate (pgbench, 340 transacao() calls/s over 2 connections, no nginx, no replica): "
                         "p50 0.35  p99 25.00  max 25.0 ms; WAL flush mean 0.31 ms; the stack at r340: p50 0.70  p99 2.93  max 6.0 ms")
        self.assertTrue(bench.db_alone_line(dict(fl, wal=None)).endswith("max 25.0 ms"), "no WAL read, no level: the database's figures alone")
        self.assertEqual(bench.db_alone_line(dict(fl, latency_ms=None)), "database alone at the official rate: not measured")
        s = summary_fixture()
        s["db_alone"] = fl
        self.assertIn("database alone at the official rate (pgbench, 340", bench.table(s))
        self.assertNotIn("database alone", bench.table(summary_fixture()), "none measured (make compare, older runs): no line")
        page = report.render(s)
        self.assertIn("database alone at the official rate</div><div class=\"v\">p99 25.00 ms</div>", page)
        self.assertNotIn("database alone at the official rate", report.render(summary_fixture()))

    def test_compare_rounds_take_the_median_of_the_wal(self):
        def lv(flushes, mean, per_commit):
            return dict(Compare.lv(1000, 10.0), wal={"flushes": flushes, "flush_ms_mean": mean, "writes": flushes,
                                                      "write_ms_mean": None, "flushes_per_commit": per_commit})
        w = compare.median_level([lv(10, 0.3, 1.0), lv(20, None, 2.0), lv(30, 0.5, 3.0)])["wal"]
        self.assertEqual(w, {"flushes": 60, "flush_ms_mean": 0.4, "writes": 60, "write_ms_mean": None, "flushes_per_commit": 2.0})
        self.assertNotIn("wal", compare.median_level([Compare.lv(1000, 10.0)] * 2), "none measured: none invented")

    def test_compare_rounds_take_the_median_of_each_figure(self):
        def lv(p50, replica, db):
            x = Compare.lv(1000, 10.0)
            x["latency_ms"]["p50"] = p50
            x["latency_split"] = {"client": {"p50_ms": p50, "p99_ms": 10.0}, "replica": {"p50_ms": replica, "p99_ms": 4.0},
                                  "queue": {"p50_ms": None, "p99_ms": None}, "db": {"p50_ms": db, "p99_ms": 3.0},
                                  "outside_replica_p50_ms": p50 - replica, "replicas": 2, "window_s": 5.0}
            return x
        rounds = [lv(1.0, 0.5, 0.4), lv(3.0, 0.7, None), lv(2.0, 0.6, 0.2)]
        sp = compare.median_level(rounds)["latency_split"]
        self.assertEqual(sp["client"], {"p50_ms": 2.0, "p99_ms": 10.0})
        self.assertEqual((sp["replica"]["p50_ms"], sp["db"]["p50_ms"], sp["queue"]["p50_ms"]), (0.6, 0.3, None))
        self.assertEqual((sp["outside_replica_p50_ms"], sp["replicas"], sp["window_s"]), (1.4, 2, 15.0))
        r = compare.ratios([[x] for x in rounds], [[x] for x in rounds])[0]
        self.assertEqual([x["latency_split"]["replica"]["p50_ms"] for x in r["a"]], [0.5, 0.7, 0.6], "each round's own split")
        self.assertNotIn("latency_split", compare.median_level([Compare.lv(1000, 10.0)] * 2), "none measured: none invented")


class SingleVerdict(unittest.TestCase):
    def test_reference_stress_run(self):
        """The real k6 v1.3.0 stress run said passed: true with a failed check."""
        s = fixture("reference-stress-summary.json")
        self.assertTrue(s["thresholds"]["passed"])
        self.assertTrue(any(c["passed"] is False for c in s["thresholds"]["checks"]))
        verdict.single_verdict(s)
        self.assertTrue(all(c["passed"] for c in s["thresholds"]["checks"]))
        self.assertTrue(s["thresholds"]["passed"])
        self.assertEqual([(b["name"], b["crossed"]) for b in s["stress"]["bounds"]],
                         [("http_req_duration p(99)<50", True), ("http_req_failed rate<0.01", False)])
        self.assertTrue(s["stress"]["aborted"])
        self.assertIn("stopped at its bound (http_req_duration p(99)<50): the measurement, not a failure", verdict.headline(s))
        again = json.loads(json.dumps(s))
        self.assertEqual(verdict.single_verdict(again), s, "idempotent")

    def test_a_failed_check_fails_the_run(self):
        for scenario in ("stress", "rinha", "bench-mix"):
            s = fixture("reference-stress-summary.json")
            s["scenario"] = scenario
            next(c for c in s["thresholds"]["checks"] if c["name"].startswith("inconsistencies"))["passed"] = False
            verdict.single_verdict(s)
            self.assertFalse(s["thresholds"]["passed"], scenario)
            h = verdict.headline(s)
            self.assertTrue(h.startswith("thresholds: FAILED (") and "inconsistencies count==0" in h, h)
        # outside a stress ramp the p99 bound is a check like any other
        s = fixture("reference-stress-summary.json")
        s["scenario"] = "rinha"
        self.assertFalse(verdict.single_verdict(s)["thresholds"]["passed"])

    def test_no_checks_is_not_a_failure_of_a_check(self):
        s = {"scenario": "bench-mix", "thresholds": {"passed": False, "checks": []}}
        self.assertTrue(verdict.single_verdict(s)["thresholds"]["passed"])
        self.assertEqual(verdict.single_verdict({"thresholds": None}), {"thresholds": None})


def window(cpu, throttled=None, wall=10.0, gen_cpu=None, threads=None, tool="wrk", rps=1000.0, **extra):
    """A one-level summary: cpu and throttled seconds per service over wall s."""
    env = {"cpus": 1.5, "services": {"db": {"cpus": 0.7}, "api01": {"cpus": 0.15}, "api02": {"cpus": 0.15}, "nginx": {"cpus": 0.5}}}
    sv = {k: {"cpu_s": v * wall, "throttled_s": (throttled or {}).get(k, 0.0) * wall} for k, v in cpu.items()}
    lv = {"name": "l", "rps": rps, "duration_s": wall, "services": sv,
          "generator": {"tool": tool, "cpu_s": None if gen_cpu is None else gen_cpu * wall, "window_s": wall, "threads": threads}}
    s = {"tool": tool, "scenario": "bench-mix" if tool == "wrk" else "stress", "envelope": env, "machine": {"cpus": 2}, "levels": [lv]}
    s.update(extra)
    return verdict.limited_by(s)


class LimitedBy(unittest.TestCase):
    IDLE = {"db": 0.2, "api01": 0.05, "api02": 0.05, "nginx": 0.1}

    def test_reference_stress_run_is_generator_bound(self):
        s = verdict.apply(fixture("reference-stress-summary.json"))
        self.assertEqual(s["limited_by"], "generator")
        e = s["limited_by_evidence"]
        self.assertAlmostEqual(e["stack_cores"], 0.696, places=2)   # of 1.5
        self.assertAlmostEqual(e["services"]["db"]["cores"], 0.471, places=2)
        self.assertLess(e["services"]["db"]["throttled_per_s"], 0.01)
        self.assertIsNone(e["generator_cores"], "k6's CPU was not measured then: inferred, not invented")
        self.assertIn("inferred", e["rule"])
        self.assertIn("GENERATOR-BOUND", verdict.headline(s))

    def test_reference_rinha_run_hit_no_limit(self):
        s = verdict.apply(fixture("reference-rinha-summary.json"))
        self.assertIsNone(s["limited_by"])
        self.assertTrue(s["thresholds"]["passed"])

    def test_stack_cpu(self):
        self.assertEqual(window({"db": 0.65, "api01": 0.14, "api02": 0.14, "nginx": 0.45}, gen_cpu=0.3, threads=2)["limited_by"], "stack-cpu")

    def test_database(self):
        self.assertEqual(window({"db": 0.68, "api01": 0.08, "api02": 0.08, "nginx": 0.2}, {"db": 0.06}, gen_cpu=0.2, threads=2)["limited_by"], "database")

    def test_service_throttling_picks_the_busiest(self):
        s = window({"db": 0.45, "api01": 0.149, "api02": 0.12, "nginx": 0.3}, {"api01": 0.2, "api02": 0.06}, gen_cpu=0.3, threads=2)
        self.assertEqual(s["limited_by"], "api01-throttling")
        self.assertIn("api01 at 99%", s["limited_by_evidence"]["rule"])

    def test_generator_busy_on_its_cores(self):
        s = window(self.IDLE, gen_cpu=1.8, threads=2)
        self.assertEqual(s["limited_by"], "generator")
        self.assertEqual(s["limited_by_evidence"]["generator_cores"], 1.8)
        self.assertEqual(s["limited_by_evidence"]["generator_share"], 0.9)

    def test_generator_took_the_machine(self):
        s = window({"db": 0.45, "api01": 0.1, "api02": 0.1, "nginx": 0.3}, gen_cpu=0.9, tool="k6", stress={"aborted": True})
        self.assertEqual(s["limited_by"], "generator")
        self.assertIn("cores were busy", s["limited_by_evidence"]["rule"])

    def test_closed_loop_with_room_and_a_light_generator_is_not_generator_bound(self):
        self.assertIsNone(window(self.IDLE, gen_cpu=0.3, threads=2)["limited_by"])

    def test_offered_load_below_capacity_has_no_limit(self):
        s = window(self.IDLE, tool="k6")
        s["levels"][0]["generator"]["cpu_s"] = None
        self.assertIsNone(verdict.limited_by(s)["limited_by"])

    def test_dropped_iterations_with_an_idle_stack_point_at_the_generator(self):
        s = window(self.IDLE, tool="k6")
        s["levels"][0]["generator"]["dropped_iterations"] = 120
        self.assertEqual(verdict.limited_by(s)["limited_by"], "generator")

    def test_a_few_dropped_iterations_are_not_a_starved_generator(self):
        """1 of 61,377 (a real full-length official run): the load was delivered."""
        s = window(self.IDLE, tool="k6", rps=255.7, wall=240.0)
        s["levels"][0]["requests"] = 61376
        s["levels"][0]["generator"]["dropped_iterations"] = 1
        s = verdict.limited_by(s)
        self.assertIsNone(s["limited_by"])
        self.assertIn("k6 dropped 1 iterations, 0.002% of the offered load", s["limited_by_evidence"]["rule"])
        s["levels"][0]["generator"]["dropped_iterations"] = 700  # 1.1%
        self.assertEqual(verdict.limited_by(s)["limited_by"], "generator")

    def test_an_offered_rate_with_room_is_not_a_closed_loop(self):
        # wrk's closed loop with an idle stack and no generator CPU: inferred generator-bound;
        # the same wrk level at an offered rate (levels[].rate): nothing saturated
        s = window(self.IDLE)
        self.assertEqual(s["limited_by"], "generator")
        s["levels"][0]["rate"] = 340
        self.assertIsNone(verdict.limited_by(s)["levels"][0]["limited_by"])
        self.assertTrue(s["levels"][0]["limited_by_evidence"]["rule"].startswith("no resource saturated"))
        busy = window({"db": 0.68, "api01": 0.08, "api02": 0.08, "nginx": 0.2}, {"db": 0.06}, gen_cpu=0.2, threads=2)
        busy["levels"][0]["rate"] = 340
        self.assertEqual(verdict.limited_by(busy)["limited_by"], "database", "a saturated resource is still named")

    def test_not_measured(self):
        s = window(self.IDLE)
        s["levels"][0]["services"] = None
        self.assertIsNone(verdict.limited_by(s)["limited_by"])
        self.assertIn("not measured", s["limited_by_evidence"]["rule"])

    def test_peak_level_decides_the_run(self):
        s = window(self.IDLE, gen_cpu=1.9, threads=2, rps=5000.0)
        lv2 = json.loads(json.dumps(s["levels"][0]))
        lv2.update(name="l2", rps=9000.0, services={k: {"cpu_s": v * 10, "throttled_s": 0} for k, v in
                                                   {"db": 0.66, "api01": 0.1, "api02": 0.1, "nginx": 0.2}.items()})
        lv2["generator"]["cpu_s"] = 3.0
        s["levels"].append(lv2)
        verdict.limited_by(s)
        self.assertEqual([lv["limited_by"] for lv in s["levels"]], ["generator", "database"])
        self.assertEqual((s["limited_by"], s["limited_by_evidence"]["level"]), ("database", "l2"))


    def test_noisy_neighbour(self):
        # the machine full, mostly by processes that are neither the stack nor wrk
        s = window(self.IDLE, gen_cpu=0.3, threads=2)
        s["levels"][0]["machine_busy_s"] = 19.0  # 1.9 of 2 cores over 10 s; stack 0.4 + wrk 0.3
        verdict.limited_by(s)
        self.assertEqual(s["limited_by"], "machine")
        self.assertEqual(s["limited_by_evidence"]["other_cores"], 1.2)
        s["levels"][0]["machine_busy_s"] = 8.0
        self.assertIsNone(verdict.limited_by(s)["limited_by"])


class MatchedCeiling(unittest.TestCase):
    VARIANTS = [{"name": "single", "calls": 1, "calls_per_s": 2746.0}, {"name": "lote10", "calls": 10, "calls_per_s": 11275.0},
                {"name": "lote_c10", "calls": 10, "calls_per_s": 19199.0}, {"name": "lote_c100", "calls": 100, "calls_per_s": 72230.0}]

    def test_the_best_variant_at_the_stacks_batch_size(self):
        m = bench.matched_ceiling({"variants": self.VARIANTS}, 14.1)
        self.assertEqual((m["variant"], m["calls_per_s"], m["calls"]), ("lote_c10", 19199.0, 10))
        self.assertEqual(bench.matched_ceiling({"variants": self.VARIANTS}, 100)["variant"], "lote_c100")

    def test_when_every_variant_settles_more_the_fewest_requests(self):
        m = bench.matched_ceiling({"variants": self.VARIANTS[2:]}, 3.5)
        self.assertEqual(m["variant"], "lote_c10")
        self.assertEqual(bench.matched_ceiling({"variants": [self.VARIANTS[3]]}, 9.0)["variant"], "lote_c100")

    def test_uncounted_commits_fall_back_to_the_overall_ceiling(self):
        self.assertIsNone(bench.matched_ceiling({"variants": self.VARIANTS}, None))
        self.assertIsNone(bench.matched_ceiling({"variants": []}, 12.0))


class MakeTargets(unittest.TestCase):
    def test_k6_targets_put_the_runners_options_before_the_script(self):
        """Everything after the script's name goes to `k6 run`: BENCH_REV's
        --rev must come before it (it once came after, and k6 refused it)."""
        for target, script in (("k6-rinha", "rinha"), ("stress", "stress")):
            p = subprocess.run(["make", "-n", "-s", "-C", REPO, target, "BENCH_REV=HEAD", "CONTINUOUS=1"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            line = next(x for x in p.stdout.splitlines() if "bench.py" in x)
            self.assertTrue(line.split("bench.py", 1)[1].split() == ["k6", "--rev", "HEAD", script], line)


class Compare(unittest.TestCase):
    @staticmethod
    def lv(rps, p99, name="c64", incons=0):
        return {"name": name, "connections": 64, "rps": rps, "requests": int(rps), "duration_s": 1,
                "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": p99, "max": 3 * p99}, "status": {"200": int(rps)},
                "errors": 0, "socket_errors": 0, "inconsistencies": incons, "services": None}

    def test_ratios_per_round_with_spread(self):
        a = [[self.lv(1000, 10.0)], [self.lv(800, 20.0)], [self.lv(1000, 10.0)]]
        b = [[self.lv(1500, 5.0)], [self.lv(1000, 10.0)], [self.lv(1100, 12.0)]]
        r = compare.ratios(a, b)[0]
        self.assertEqual(r["ratio_rps"], {"median": 1.25, "min": 1.1, "max": 1.5})
        self.assertEqual(r["ratio_p99"], {"median": 0.5, "min": 0.5, "max": 1.2})
        self.assertEqual([x["rps"] for x in r["a"]], [1000, 800, 1000])
        self.assertIn("1.250 (1.100..1.500)", compare.table({"compare": {
            "a": {"rev": "HEAD~1", "commit": "aaa"}, "b": {"rev": "HEAD", "commit": "bbb"}, "rounds": 3,
            "order": ["A1", "B1"], "levels": [r]}}))

    def test_rate_level_has_latency_ratios_and_no_rps_ratio(self):
        def r(rps, p50, p99, mx):
            x = dict(self.lv(rps, p99, name="r340"), rate=340, connections=34)
            x["latency_ms"].update(p50=p50, max=mx)
            return x
        a = [[r(340.0, 0.5, 1.0, 4.0), self.lv(1000, 10.0)], [r(339.0, 0.6, 1.5, 8.0), self.lv(800, 20.0)]]
        b = [[r(338.0, 0.25, 1.0, 2.0), self.lv(1500, 5.0)], [r(340.0, 0.3, 3.0, 8.0), self.lv(1000, 10.0)]]
        rl, cl = compare.ratios(a, b)
        self.assertEqual((rl["name"], rl["rate"], rl["ratio_rps"]), ("r340", 340, {"median": None, "min": None, "max": None}))
        self.assertEqual(rl["ratio_p50"], {"median": 0.5, "min": 0.5, "max": 0.5})
        self.assertEqual(rl["ratio_p99"], {"median": 1.5, "min": 1.0, "max": 2.0})
        self.assertEqual(rl["ratio_max"], {"median": 0.75, "min": 0.5, "max": 1.0})
        self.assertEqual(rl["a"][0], {"rps": 340.0, "p50_ms": 0.5, "p99_ms": 1.0, "max_ms": 4.0})
        self.assertEqual((cl["ratio_rps"]["median"], cl["rate"]), (1.375, None))
        text = compare.table({"compare": {"a": {"rev": "HEAD~1", "commit": "aaa"}, "b": {"rev": "HEAD", "commit": "bbb"}, "rounds": 2,
                                          "order": ["A1", "B1", "A2", "B2"], "levels": [rl, cl]}})
        row = next(ln for ln in text.splitlines() if ln.startswith("r340"))
        self.assertEqual(row.split()[:8], ["r340", "-", "0.500", "(0.500..0.500)", "1.500", "(1.000..2.000)", "0.750", "(0.500..1.000)"])
        self.assertTrue(row.endswith("0.50/1.00/4.0 0.60/1.50/8.0 | 0.25/1.00/2.0 0.30/3.00/8.0"), row)
        self.assertNotIn("splits differ", text, "no split recorded: nothing to say")

    def test_compare_levels_option_keeps_only_the_named_levels(self):
        cfg = MIX["compare"]["default"]
        names = lambda c: [s["name"] for s in bench.level_specs(MIX, c)]  # noqa: E731
        self.assertEqual(names(compare.only_levels(MIX, cfg, None)), names(cfg))
        self.assertEqual(names(compare.only_levels(MIX, cfg, "r340")), ["r340"])
        self.assertEqual(names(compare.only_levels(MIX, cfg, "c64, r340")), ["r340", "c64"], "run order kept")
        self.assertEqual(names(compare.only_levels(MIX, cfg, "c16,c256")), ["c16", "c256"])
        for bad in ("c65", "r340,x", ","):
            with self.assertRaises(SystemExit, msg=bad):
                compare.only_levels(MIX, cfg, bad)

    def test_compare_table_names_different_splits(self):
        def side(rev, api):
            return {"rev": rev, "commit": rev[:3], "split": {"db": 0.7, "api01": api, "api02": api, "nginx": 1.2 - 2 * api}}
        c = {"rounds": 1, "order": ["A1", "B1"], "levels": []}
        text = compare.table({"compare": dict(c, a=side("aaaa", 0.15), b=side("bbbb", 0.18))})
        self.assertIn("CPU splits differ: A db 0.7, api01 0.15, api02 0.15, nginx 0.9 | B db 0.7, api01 0.18, api02 0.18, nginx 0.84",
                      text)
        self.assertNotIn("splits differ", compare.table({"compare": dict(c, a=side("aaaa", 0.15), b=side("bbbb", 0.15))}))

    def test_median_level_sums_counts(self):
        m = compare.median_level([self.lv(1000, 10.0), self.lv(3000, 30.0, incons=1), self.lv(2000, 20.0)])
        self.assertEqual((m["rps"], m["latency_ms"]["p99"], m["requests"], m["inconsistencies"]), (2000, 20.0, 6000, 1))
        self.assertEqual(m["status"], {"200": 6000})
        self.assertEqual(len(m["repeats"]), 3)

    def test_join_cpu_keeps_columns_aligned(self):
        j = compare.join_cpu([{"t": [1, 2], "cores": {"db": [0.1, 0.2]}, "throttled": {}},
                              {"t": [5], "cores": {"db": [0.3], "nginx": [0.4]}, "throttled": {"db": [0.0]}}])
        self.assertEqual(j, {"t": [1, 2, 5], "cores": {"db": [0.1, 0.2, 0.3], "nginx": [None, None, 0.4]},
                             "throttled": {"db": [None, None, 0.0]}})


class Site(unittest.TestCase):
    def test_compare_pairs_and_generator_bound_marks(self):
        with tempfile.TemporaryDirectory() as d:
            runs = os.path.join(d, "runs")
            for name, s in (("20261128T182544Z-2966773", fixture("reference-stress-summary.json")),
                            ("20261128T200000Z-bbb-vs-aaa", dict(summary_fixture(), scenario="compare", compare={
                                "a": {"rev": "HEAD~1", "commit": "aaa1111"}, "b": {"rev": "HEAD", "commit": "bbb2222"},
                                "rounds": 3, "order": ["A1", "B1"], "levels": [{
                                    "name": "c64", "ratio_rps": {"median": 1.25, "min": 1.1, "max": 1.5},
                                    "ratio_p99": {"median": 0.5, "min": 0.4, "max": 0.9}, "a": [], "b": []}]}))):
                os.makedirs(os.path.join(runs, name))
                with open(os.path.join(runs, name, "summary.json"), "w") as f:
                    json.dump(s, f)
            out = os.path.join(d, "index.html")
            self.assertEqual(site_tool.main(["--runs", runs, "--out", out]), 0)
            with open(out) as f:
                page = f.read()
        for want in ('data-run="20261128T200000Z-bbb-vs-aaa" data-level="c64" data-ratio-rps="1.25" data-ratio-p99="0.5"',
                     "\u00d71.250 <span class=\"muted\">(1.100..1.500)</span>", "A <code>aaa1111</code> (HEAD~1)",
                     'data-limited-by="generator"', "generator-bound</span><span class=\"sr\"> (the load generator was the limit, not the stack)", 'class="genmark"'):
            self.assertTrue(want in page, want)
        # a compare run is a pair, not a point of a trend, nor a "latest run"
        self.assertFalse('data-scenario="compare" data-tool' in page or '<li class="card" data-scenario="compare"' in page)
        # the stress run's verdict, re-derived: passed, every check passed
        self.assertTrue('data-thresholds="passed"' in page)


class Series(unittest.TestCase):
    def test_merge_quantiles_matches_the_pooled_distribution(self):
        rnd = random.Random(5)
        a = sorted(rnd.expovariate(1 / 2.0) for _ in range(20000))
        b = sorted(rnd.expovariate(1 / 8.0) for _ in range(5000))
        grid = [i * 0.5 for i in range(1, 199)] + [99 + i * 0.1 for i in range(1, 10)] + [99.95, 99.99]
        part = lambda xs: (len(xs), [[p, series.percentile(xs, p)] for p in grid], xs[-1])  # noqa: E731
        m = series.merge_quantiles([part(a), part(b)])
        pooled = sorted(a + b)
        for p in (50, 90, 99):
            exact = series.percentile(pooled, p)
            self.assertLess(abs(m["p%d" % p] - exact) / exact, 0.05, (p, m, exact))
        self.assertEqual(m["max"], max(a[-1], b[-1]))
        self.assertEqual(series.merge_quantiles([])["p99"], None)

    def test_rates(self):
        r = series.rates([(100.0, {"db": 1.0, "g": 0.0}), (101.0, {"db": 1.5, "g": 0.25}), (103.0, {"db": 2.5, "g": 0.25})], 100.0)
        self.assertEqual(r, {"t": [1.0, 3.0], "db": [0.5, 0.5], "g": [0.25, 0.0]})

    def test_k6_csv_buckets(self):
        expected = {k: set(v) for k, v in MIX["expected_status"].items()}
        pts, t0, spans = series.k6_csv_points(os.path.join(FIXTURES, "k6-metrics.csv"), expected)
        self.assertEqual(t0, 1764354270)
        self.assertEqual(spans, {"validacao": [0, 1], "debitos": [2, 7], "creditos": [2, 7], "extratos": [2, 7]})
        self.assertEqual([p["t"] for p in pts], list(range(1, 9)))
        self.assertEqual([p["rps"] for p in pts], [10, 10, 10, 20, 30, 40, 50, 60])
        # second k of the load has latencies 1..n ms: nearest-rank percentiles
        self.assertEqual([(p["p50_ms"], p["p99_ms"], p["max_ms"]) for p in pts[2:]],
                         [(5, 10, 10), (10, 20, 20), (15, 30, 30), (20, 40, 40), (25, 50, 50), (30, 60, 60)])
        # a 503 debit at second 4 and a 422 credit at second 5; debits' 422s and the validation's are expected
        self.assertEqual([p["errors"] for p in pts], [0, 0, 0, 0, 1, 1, 0, 0])
        phases = series.k6_phases("rinha", spans, 0.025, MIX)
        self.assertEqual(phases, [{"name": "validation", "start_s": 0, "end_s": 2}, {"name": "ramp", "start_s": 2, "end_s": 5},
                                  {"name": "plateau", "start_s": 5, "end_s": 8}])
        self.assertEqual(series.k6_phases("stress", {"debitos": [0, 9]}, 1, MIX), [{"name": "ramp", "start_s": 0, "end_s": 10}])

    def test_k6_csv_gzip_and_millisecond_timestamps(self):
        with open(os.path.join(FIXTURES, "k6-metrics.csv")) as f:
            text = f.read()
        text = re.sub(r"^(http_req_duration),(\d+),", lambda m: "%s,%d," % (m.group(1), int(m.group(2)) * 1000 + 250), text, flags=re.M)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.csv.gz")
            with gzip.open(p, "wt") as f:
                f.write(text)
            pts, t0, _ = series.k6_csv_points(p, {k: set(v) for k, v in MIX["expected_status"].items()})
        self.assertEqual((t0, [x["rps"] for x in pts][:4]), (1764354270, [10, 10, 10, 20]))

    def test_wrk_points(self):
        r = {"duration_us": 1_000_000, "requests": 900, "status": {"200": 880, "422": 15, "503": 5}, "malformed": 1,
             "inconsistencies": 2, "errors": {"connect": 0, "read": 1, "write": 0, "status": 5, "timeout": 3},
             "latency_us": {"p50": 1500, "p90": 2500, "p99": 9000, "max": 12000}, "q": [[50, 1500], [90, 2500], [99, 9000]]}
        p = series.wrk_points([{"t": 3.2, "result": r, "level": "c64"}])[0]
        self.assertEqual((p["rps"], p["p50_ms"], p["p90_ms"], p["p99_ms"], p["max_ms"]), (900.0, 1.5, 2.5, 9.0, 12.0))
        self.assertEqual(p["errors"], 5 + 1 + 3 + 1)  # the 503s, read error, timeouts, the malformed answer
        self.assertEqual((p["inconsistencies"], p["level"], p["t"]), (2, "c64", 3.2))


if __name__ == "__main__":
    unittest.main(verbosity=1)
