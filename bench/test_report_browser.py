#!/usr/bin/python3
"""Browser test of a run's report.html (reports/tools/report.py): what a
person sees of the time series in headless Chromium, through Selenium
(Debian's chromium, chromium-driver and python3-selenium; the make target
installs them).

  /usr/bin/python3 bench/test_report_browser.py     (make report-browser-test)

Two reports: a k6 run whose time series comes from the hand-written CSV
fixture (k6/test/fixtures/k6-metrics.csv) plus a sampled CPU series, and the
archived real stress run (no series, generator-bound).
"""
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (puts reports/tools on the path)
import report  # noqa: E402
import series  # noqa: E402
from screenshot import file_url, open_browser  # noqa: E402  (reports/tools: the site's browser helpers)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

FIXTURES = os.path.join(bench.REPO, "k6", "test", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def k6_run_with_series():
    """The reference rinha summary plus the time series the runner builds
    from the CSV fixture (phases from where its scenarios ran)."""
    mix = bench.load_mix()
    s = fixture("reference-rinha-summary.json")
    pts, t0, spans = series.k6_csv_points(os.path.join(FIXTURES, "k6-metrics.csv"),
                                          {k: set(v) for k, v in mix["expected_status"].items()})
    cpu = {"t": [1, 2, 3, 4, 5, 6, 7, 8],
           "cores": {"db": [0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.5, 0.4], "nginx": [0.05] * 8, "generator": [0.2] * 8},
           "throttled": {"db": [0.0] * 8}}
    s["timeseries"] = series.build("k6 --out csv, 1-second buckets", pts, cpu, series.k6_phases("rinha", spans, 0.025, mix), t0)
    return s


class ReportInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pages = {}
        for name, s in (("series", k6_run_with_series()), ("stress", fixture("reference-stress-summary.json"))):
            d = os.path.join(cls.tmp.name, name)
            os.makedirs(d)
            with open(os.path.join(d, "report.html"), "w") as f:
                f.write(report.render(s, d))
            cls.pages[name] = os.path.join(d, "report.html")
        cls.driver = open_browser(width=1280, height=900)

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.tmp.cleanup()

    def open(self, name):
        self.driver.get(file_url(self.pages[name]))

    def charts(self):
        return self.driver.execute_script("""return Array.from(document.querySelectorAll('svg[data-series]')).map(function (svg) {
          var b = svg.getBoundingClientRect();
          var table = svg.parentNode.querySelector('details table.data');
          return {id: svg.dataset.series, declared: +svg.dataset.points, w: b.width, h: b.height,
                  cols: svg.querySelectorAll('g.col[tabindex="0"]').length, lines: svg.querySelectorAll('polyline').length,
                  rows: table ? table.querySelectorAll('tr').length - 1 : -1, text: svg.textContent,
                  label: svg.querySelector('g.col').getAttribute('aria-label'),
                  phases: Array.from(svg.querySelectorAll('text.ph')).map(function (t) { return t.textContent; })};
        })""")

    def test_every_chart_is_drawn_with_one_instant_per_point(self):
        self.open("series")
        charts = self.charts()
        self.assertEqual([c["id"] for c in charts], ["rps", "latency", "errors", "cpu"])
        for c in charts:
            self.assertGreater(c["w"], 400, c)
            self.assertGreater(c["h"], 150, c)
            self.assertGreater(c["lines"], 0, c)
            self.assertEqual(c["cols"], c["declared"], c)
            self.assertEqual(c["rows"], c["declared"], "the table under the chart has every point: %s" % c)
            self.assertEqual(c["phases"], ["validation", "ramp", "plateau"], c)
        self.assertEqual([c["declared"] for c in charts], [8, 8, 8, 8])
        self.assertTrue(charts[1]["label"].startswith("1 s: p50 "), charts[1]["label"])
        self.assertIn("load generator", charts[3]["text"], "the generator's CPU is drawn beside the stack's")

    def test_tab_reaches_the_instants_and_shows_their_figures(self):
        self.open("series")
        body = self.driver.find_element(By.TAG_NAME, "body")
        seen = None
        for _ in range(40):
            body.send_keys(Keys.TAB) if seen is None else self.driver.switch_to.active_element.send_keys(Keys.TAB)
            seen = self.driver.execute_script("""var e = document.activeElement;
              if (!e || !e.matches('g.col')) return false;
              var tip = e.querySelector('.tip');
              return {label: e.getAttribute('aria-label'), tip: tip.textContent, visible: getComputedStyle(tip).visibility,
                      chart: e.closest('svg').dataset.series};""")
            if seen:
                break
        self.assertTrue(seen, "no instant of a chart reached with Tab")
        self.assertEqual(seen["chart"], "rps")
        self.assertEqual(seen["label"], "1 s: req/s 10")
        self.assertEqual(seen["tip"], seen["label"])
        self.assertEqual(seen["visible"], "visible", "a focused instant shows its figures")
        hidden = self.driver.execute_script("return getComputedStyle(document.querySelectorAll('g.col .tip')[3]).visibility")
        self.assertEqual(hidden, "hidden", "only the focused instant's figures show")

    def test_a_run_without_series_says_so_and_a_generator_bound_run_is_marked(self):
        self.open("stress")
        self.assertEqual(self.charts(), [])
        msg = self.driver.find_element(By.ID, "no-timeseries")
        self.assertTrue(msg.is_displayed())
        self.assertIn("No time series for this run", msg.text)
        banner = self.driver.find_element(By.ID, "generator-bound")
        self.assertTrue(banner.is_displayed())
        self.assertIn("Generator-bound", banner.text)


if __name__ == "__main__":
    unittest.main(verbosity=1)
