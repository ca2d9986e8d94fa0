"""Browser test of the reports site, in headless Chromium driven by Selenium.

    python3 -m pytest tests/site        (make test-site)

Builds the site from the fixture runs (tests/site/fixtures/runs) with
reports/tools/site.py, opens it from the file system in headless Chromium
(fresh profile, no network; the browser set-up of reports/tools/screenshot.py,
Debian's python3-selenium and chromium-driver), and checks what a person
would see:
  - the runs table: one row per valid fixture run, newest first, each with
    its commit, tool, scenario, req/s and threshold verdict, linking to its
    report.html (or summary.json when there is none); the unreadable fixture
    is reported as skipped;
  - every chart rendered its data: one drawn point per measured run, inside
    the chart, higher values drawn higher, each labelled with date, commit,
    tool and envelope; the line goes through every point;
  - keyboard: Tab reaches the skip link and then the chart points, a focused
    point shows a visible focus ring and its figures in the readout;
  - contrast of every visible text >= 4.5:1, in light and dark schemes;
  - reduced motion: no transition left when the user asks for less motion;
  - no request leaves the file system and no script error;
  - the empty archive and the real archive (reports/runs, when present)
    build and load too.
Saves a full-page screenshot to build/site-test/screenshot.png. The tests
run in file order on one page (a module-scoped browser).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "reports", "tools"))
from screenshot import emulate, file_url, open_browser, save_full_page  # noqa: E402

SITE = os.path.join(ROOT, "reports", "tools", "site.py")
FIXTURES = os.path.join(HERE, "fixtures", "runs")
REAL_RUNS = os.path.join(ROOT, "reports", "runs")
OUT = os.path.join(ROOT, "build", "site-test")


def build(runs_dir, out_html):
    subprocess.run([sys.executable, SITE, "--runs", runs_dir, "--out", out_html], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fixture_runs(runs_dir):
    """The expectations, read straight from the fixture files."""
    good, bad = [], []
    for d in sorted(os.listdir(runs_dir)):
        try:
            with open(os.path.join(runs_dir, d, "summary.json")) as f:
                s = json.load(f)
        except (OSError, ValueError):
            bad.append(d)
            continue
        s["_id"] = d
        s["_report"] = os.path.isfile(os.path.join(runs_dir, d, "report.html"))
        levels = [lv for lv in s.get("levels") or [] if lv.get("rps") is not None]
        s["_peak"] = max(levels, key=lambda lv: lv["rps"]) if levels else None
        good.append(s)
    good.sort(key=lambda s: (s["date"], s["_id"]))
    return good, bad


runs, bad = fixture_runs(FIXTURES)


# ------------------------------------------------------------------ the checks

ROWS_JS = """Array.from(document.querySelectorAll('#runs-table tr.run')).map(function (tr) {
  var a = tr.querySelector('th a');
  return {run: tr.dataset.run, commit: tr.dataset.commit, tool: tr.dataset.tool, scenario: tr.dataset.scenario,
          rps: tr.dataset.rps, p99: tr.dataset.p99, text: tr.innerText, href: a.href,
          visible: tr.getBoundingClientRect().height > 0};
})"""

CHARTS_JS = """Array.from(document.querySelectorAll('section.group')).map(function (g) {
  return {scenario: g.dataset.scenario, tool: g.dataset.tool,
    charts: Array.from(g.querySelectorAll('svg[data-chart]')).map(function (svg) {
      var box = svg.getBoundingClientRect();
      var line = svg.querySelector('polyline.line');
      return {metric: svg.dataset.chart, declared: +svg.dataset.points,
        box: {x: box.x, y: box.y, w: box.width, h: box.height},
        linePoints: line ? line.points.numberOfItems : 0,
        lineLength: line ? line.getTotalLength() : 0,
        readout: svg.parentNode.querySelector('.readout').textContent,
        points: Array.from(svg.querySelectorAll('g.pt')).map(function (p) {
          var r = p.getBoundingClientRect(), m = p.firstElementChild;
          var st = getComputedStyle(m);
          return {run: p.dataset.run, value: +p.dataset.value, label: p.getAttribute('aria-label'),
                  fail: p.classList.contains('fail'),
                  cx: r.x + r.width / 2, cy: r.y + r.height / 2, w: r.width, h: r.height,
                  painted: st.display !== 'none' && st.visibility !== 'hidden' && st.strokeWidth !== '0px'};
        })};
    })};
})"""

CONTRAST_JS = r"""(function () {
  function rgba(s) { var m = s.match(/[\d.]+/g) || [0, 0, 0, 0]; return m.map(Number).concat([1]).slice(0, 4); }
  function lum(c) { return [0, 1, 2].reduce(function (a, i, k) { var v = c[i] / 255;
    v = v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); return a + [0.2126, 0.7152, 0.0722][k] * v; }, 0); }
  function bg(el) { for (; el; el = el.parentElement) { var c = rgba(getComputedStyle(el).backgroundColor);
      if (c[3] > 0.5) return c; } return [255, 255, 255, 1]; }
  var worst = [], n = 0;
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (var t = walker.nextNode(); t; t = walker.nextNode()) {
    var el = t.parentElement; if (!t.textContent.trim() || !el) continue;
    var r = el.getBoundingClientRect(); if (r.width === 0 || r.height === 0) continue;
    var cs = getComputedStyle(el); if (cs.visibility === 'hidden' || el.closest('.sr')) continue;
    var inSvg = el.closest('svg');
    var fg = rgba(inSvg ? cs.fill : cs.color), b = bg(el);
    var l1 = lum(fg), l2 = lum(b), ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    n++;
    if (ratio < 4.5) worst.push({text: t.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100,
                                  fg: inSvg ? cs.fill : cs.color, bg: 'rgb(' + b.slice(0, 3) + ')'});
  }
  return {checked: n, low: worst.slice(0, 10)};
})()"""


@pytest.fixture(scope="module")
def page():
    """The site built from the fixture runs, open in headless Chromium."""
    os.makedirs(OUT, exist_ok=True)
    page_path = os.path.join(OUT, "index.html")
    build(FIXTURES, page_path)
    driver = open_browser(logs=True)
    try:
        driver.get(file_url(page_path))
        yield Page(driver)
    finally:
        driver.quit()


class Page:
    """The few things the checks do with the page, in their words."""

    def __init__(self, driver):
        self.driver = driver

    def eval(self, expr):
        return self.driver.execute_script("return " + expr)

    def goto(self, url):
        self.driver.get(url)

    def tab(self):
        ActionChains(self.driver).send_keys(Keys.TAB).perform()

    def media(self, **features):
        emulate(self.driver, **features)

    def requests_and_errors(self):
        """URLs the page requested, and its script errors, since the last call."""
        events = [json.loads(e["message"])["message"] for e in self.driver.get_log("performance")]
        urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
        errors = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE" and e.get("source") != "network"]
        return urls, errors


def test_page_loads_from_the_file_system(page):
    """Page loads from the file system with its title."""
    assert runs, "no fixture runs"
    title = page.eval("document.title")
    assert "load test reports" in title, title
    assert page.eval("document.querySelector('#count').dataset.runs") == str(len(runs))


def test_table_one_row_per_run_newest_first(page):
    """Table: one row per valid fixture run, newest first."""
    rows = page.eval(ROWS_JS)
    want = [r["_id"] for r in reversed(runs)]
    got = [r["run"] for r in rows]
    assert got == want, "rows %s != %s" % (got, want)
    assert all(r["visible"] for r in rows), "a run row is not displayed"


def test_table_rows_show_their_run(page):
    """Table: each row shows its run's commit, tool, scenario, req/s, p99 and verdict."""
    rows = {r["run"]: r for r in page.eval(ROWS_JS)}
    for s in runs:
        r = rows[s["_id"]]
        assert r["commit"] == s["commit"] and s["commit"] in r["text"], (s["_id"], "commit")
        assert r["tool"] == s["tool"] and s["tool"] in r["text"], (s["_id"], "tool")
        assert r["scenario"] == s["scenario"] and s["scenario"] in r["text"], (s["_id"], "scenario")
        rps = s["_peak"]["rps"]
        assert float(r["rps"]) == rps, (s["_id"], r["rps"], rps)
        shown = "{:,.0f}".format(rps) if rps >= 100 else "{:.1f}".format(rps)
        assert shown in r["text"], (s["_id"], shown, r["text"])
        assert float(r["p99"]) == s["_peak"]["latency_ms"]["p99"], (s["_id"], "p99")
        th = s.get("thresholds")
        verdict = "not evaluated" if not th else ("passed" if th["passed"] else "FAILED")
        assert verdict in r["text"], (s["_id"], verdict)
        if s.get("dirty"):
            assert "+dirty" in r["text"], (s["_id"], "dirty flag")
        env = "%g CPU / %g MB" % (s["envelope"]["cpus"], s["envelope"]["memory_mb"])
        assert env in r["text"], (s["_id"], env)


def test_table_links_each_report(page):
    """Table: each run links to its report.html, or to its summary.json without one."""
    rows = {r["run"]: r for r in page.eval(ROWS_JS)}
    for s in runs:
        target = urllib.parse.unquote(urllib.parse.urlparse(rows[s["_id"]]["href"]).path)
        want = "report.html" if s["_report"] else "summary.json"
        assert os.path.basename(target) == want, (s["_id"], target)
        assert os.path.isfile(target), "link target missing: %s" % target
        assert os.path.samefile(os.path.dirname(target), os.path.join(FIXTURES, s["_id"]))


def test_unreadable_run_listed_as_skipped(page):
    """The unreadable fixture is listed as skipped, not shown as a run."""
    listed = page.eval("Array.from(document.querySelectorAll('[data-skipped]')).map(e => e.dataset.skipped)")
    assert listed == bad, (listed, bad)


def test_charts_per_scenario_and_tool(page):
    """Charts: one throughput and one p99 chart per scenario and tool."""
    groups = page.eval(CHARTS_JS)
    want = sorted({(s["scenario"], s["tool"]) for s in runs})
    assert sorted((g["scenario"], g["tool"]) for g in groups) == want, groups
    for g in groups:
        assert [c["metric"] for c in g["charts"]] == ["throughput", "p99"], g["charts"]


def test_charts_draw_every_point(page):
    """Charts: every chart drew one point per measured run, inside the chart, in date order."""
    for g in page.eval(CHARTS_JS):
        mine = [s for s in runs if (s["scenario"], s["tool"]) == (g["scenario"], g["tool"])]
        for c in g["charts"]:
            key = "rps" if c["metric"] == "throughput" else "p99"
            want = [(s["_id"], s["_peak"]["rps"] if key == "rps" else s["_peak"]["latency_ms"]["p99"])
                    for s in mine if s["_peak"]]
            want = [(i, v) for i, v in want if v is not None]
            got = [(p["run"], p["value"]) for p in c["points"]]
            assert got == want, (g["scenario"], c["metric"], got, want)
            assert c["declared"] == len(want)
            b = c["box"]
            assert b["w"] > 200 and b["h"] > 100, ("chart not laid out", b)
            xs = []
            for p in c["points"]:
                assert p["w"] > 4 and p["h"] > 4 and p["painted"], ("point not painted", p)
                assert b["x"] <= p["cx"] <= b["x"] + b["w"] and b["y"] <= p["cy"] <= b["y"] + b["h"], \
                    ("point outside its chart", p, b)
                xs.append(p["cx"])
            assert xs == sorted(xs) and len(set(xs)) == len(xs), ("points not left to right", xs)


def test_charts_scale_and_line(page):
    """Charts: a higher value is drawn higher, and the line joins every point."""
    for g in page.eval(CHARTS_JS):
        for c in g["charts"]:
            pts = c["points"]
            for a in pts:
                for b in pts:
                    if a["value"] > b["value"]:
                        assert a["cy"] < b["cy"], ("scale inverted", g["scenario"], c["metric"], a, b)
            if len(pts) > 1:
                assert c["linePoints"] == len(pts) and c["lineLength"] > 0, c
            else:
                assert c["linePoints"] == 0


def test_chart_points_labelled(page):
    """Charts: every point carries its date, commit, tool and envelope; failed runs are marked."""
    by_id = {s["_id"]: s for s in runs}
    for g in page.eval(CHARTS_JS):
        for c in g["charts"]:
            for p in c["points"]:
                s = by_id[p["run"]]
                lab = p["label"]
                for part in (s["date"][:10], s["commit"], s["tool"], "%g CPU / %g MB" % (
                        s["envelope"]["cpus"], s["envelope"]["memory_mb"])):
                    assert part in lab, (part, lab)
                failed = bool(s.get("thresholds")) and s["thresholds"]["passed"] is False
                assert p["fail"] == failed and ("FAILED" in lab) == failed, (p["run"], lab)
            last = by_id[c["points"][-1]["run"]]
            assert c["readout"].startswith("Latest:") and last["commit"] in c["readout"], c["readout"]


def test_keyboard_reaches_points_with_focus_ring(page):
    """Keyboard: Tab reaches the skip link, then chart points, with a visible focus ring and readout."""
    page.driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    page.tab()
    first = page.eval("document.activeElement.className + '|' + document.activeElement.getAttribute('href')")
    assert first == "skip|#runs", first
    skip_visible = page.eval("document.activeElement.getBoundingClientRect().left >= 0")
    assert skip_visible, "skip link stays off screen when focused"
    focused = None
    for _ in range(60):
        page.tab()
        focused = page.eval("""(function (e) { if (!e.classList || !e.classList.contains('pt')) return null;
            var m = e.firstElementChild, s = getComputedStyle(m);
            return {run: e.dataset.run, label: e.dataset.label, stroke: s.stroke, width: s.strokeWidth,
                    readout: e.closest('figure').querySelector('.readout').textContent}; })(document.activeElement)""")
        if focused:
            break
    assert focused, "no chart point reached with Tab"
    assert focused["readout"] == focused["label"], ("readout not updated", focused)
    assert focused["width"] == "4px", ("no visible focus ring", focused)


def test_contrast_light(page):
    """Contrast: every visible text >= 4.5:1 in the light scheme."""
    page.media(prefers_color_scheme="light")
    r = page.eval(CONTRAST_JS)
    assert r["checked"] > 200 and not r["low"], r


def test_contrast_dark(page):
    """Contrast: every visible text >= 4.5:1 in the dark scheme."""
    page.media(prefers_color_scheme="dark")
    r = page.eval(CONTRAST_JS)
    assert page.eval("getComputedStyle(document.documentElement).backgroundColor") != "rgb(255, 255, 255)"
    assert r["checked"] > 200 and not r["low"], r
    page.media(prefers_color_scheme="light")


def test_reduced_motion(page):
    """Reduced motion: transitions and smooth scrolling are off when asked."""
    q = ("[getComputedStyle(document.querySelector('g.pt').firstElementChild).transitionDuration,"
         " getComputedStyle(document.documentElement).scrollBehavior]")
    page.media(prefers_reduced_motion="no-preference")
    normal = page.eval(q)
    page.media(prefers_reduced_motion="reduce")
    reduced = page.eval(q)
    page.media(prefers_reduced_motion="no-preference")
    assert normal == ["0.15s", "smooth"], normal
    assert reduced == ["0s", "auto"], reduced


def test_no_request_leaves_no_script_error(page):
    """No request leaves the file system, no script error."""
    urls, errs = page.requests_and_errors()
    assert urls, "no request seen at all"
    assert all(u.startswith("file:") or u.startswith("data:") for u in urls), urls
    assert not errs, errs[:3]


def test_screenshot_saved(page):
    """Screenshot saved."""
    shot = os.path.join(OUT, "screenshot.png")
    save_full_page(page.driver, shot)
    with open(shot, "rb") as f:
        head = f.read(8)
    assert head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(shot) > 20000, os.path.getsize(shot)


def test_empty_archive(page):
    """An empty archive builds a page that says so."""
    empty = tempfile.mkdtemp(prefix="site-empty-")
    try:
        out = os.path.join(OUT, "empty", "index.html")
        build(empty, out)
        page.goto(file_url(out))
        assert page.eval("document.querySelectorAll('tr.run').length") == 0
        assert page.eval("document.querySelectorAll('svg[data-chart]').length") == 0
        assert "No run archived yet" in page.eval("document.body.innerText")
    finally:
        shutil.rmtree(empty)


def test_real_archive(page):
    """The real archive (reports/runs) builds and loads, one row per readable run."""
    if not os.path.isdir(REAL_RUNS) or not os.listdir(REAL_RUNS):
        pytest.skip("no real run archived yet")
    out = os.path.join(OUT, "real", "index.html")
    build(REAL_RUNS, out)
    page.goto(file_url(out))
    n_ok = sum(1 for d in os.listdir(REAL_RUNS) if readable(os.path.join(REAL_RUNS, d, "summary.json")))
    rows = page.eval("document.querySelectorAll('tr.run').length")
    assert rows == n_ok, (rows, n_ok)
    pts = page.eval("Array.from(document.querySelectorAll('svg[data-chart]')).map(s => "
                    "[+s.dataset.points, s.querySelectorAll('g.pt').length])")
    assert all(a == b for a, b in pts), pts


def readable(path):
    try:
        with open(path) as f:
            s = json.load(f)
        return isinstance(s, dict) and s.get("schema") == 1 and isinstance(s.get("date"), str)
    except (OSError, ValueError):
        return False
