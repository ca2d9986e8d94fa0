"""Browser test of the reports site: what a person sees of it.

    python3 -m pytest tests/site        (make test-site)

Builds the site from the fixture runs (tests/site/fixtures/runs: six runs
and an unreadable folder) with reports/tools/site.py, opens it from the file
system in headless Chromium through Selenium (the browser of
reports/tools/screenshot.py: fresh profile, no network) and checks it
against the fixture files themselves: the table, the charts, the keyboard,
contrast in both schemes, no motion, no request off the file system, no
script error; then the empty and the real archive. Saves a full-page
screenshot to build/site-test/screenshot.png. The tests share one browser
and run in file order.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "reports", "tools"))
from screenshot import emulate, file_url, open_browser, save_full_page  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "site", "fixtures", "runs")
REAL_RUNS = os.path.join(ROOT, "reports", "runs")
OUT = os.path.join(ROOT, "build", "site-test")


def build(runs_dir, name):
    out = os.path.join(OUT, name, "index.html")
    subprocess.run([sys.executable, os.path.join(ROOT, "reports", "tools", "site.py"), "--runs", runs_dir, "--out", out],
                   check=True, capture_output=True)
    return file_url(out)


def read_fixtures():
    """The fixture runs oldest first, each with its id, report and peak
    level; and the unreadable folders."""
    runs, bad = [], []
    for d in sorted(os.listdir(FIXTURES)):
        try:
            with open(os.path.join(FIXTURES, d, "summary.json")) as f:
                s = json.load(f)
        except ValueError:
            bad.append(d)
            continue
        s.update(_id=d, _report=os.path.isfile(os.path.join(FIXTURES, d, "report.html")),
                 _peak=max((lv for lv in s["levels"] if lv["rps"] is not None), key=lambda lv: lv["rps"]))
        runs.append(s)
    return sorted(runs, key=lambda s: s["date"]), bad


RUNS, BAD = read_fixtures()
BY_ID = {s["_id"]: s for s in RUNS}


def envelope(s):
    return "%g CPU / %g MB" % (s["envelope"]["cpus"], s["envelope"]["memory_mb"])


def failed(s):
    return bool(s.get("thresholds")) and s["thresholds"]["passed"] is False


@pytest.fixture(scope="module")
def driver():
    d = open_browser(logs=True)
    try:
        d.get(build(FIXTURES, "fixtures"))
        yield d
    finally:
        d.quit()


def js(driver, expr):
    return driver.execute_script("return " + expr)


ROWS = """Array.from(document.querySelectorAll('#runs-table tr.run')).map(tr => Object.assign(
  {text: tr.innerText, href: tr.querySelector('th a').href, shown: tr.getBoundingClientRect().height > 0}, tr.dataset))"""

CHARTS = """Array.from(document.querySelectorAll('section.group')).map(g => ({scenario: g.dataset.scenario, tool: g.dataset.tool,
  charts: Array.from(g.querySelectorAll('svg[data-chart]')).map(svg => {
    const b = svg.getBoundingClientRect(), line = svg.querySelector('polyline.line');
    return {metric: svg.dataset.chart, declared: +svg.dataset.points, box: [b.left, b.top, b.right, b.bottom],
      line: line ? line.points.numberOfItems : 0, length: line ? line.getTotalLength() : 0,
      readout: svg.parentNode.querySelector('.readout').textContent,
      points: Array.from(svg.querySelectorAll('g.pt')).map(p => {
        const r = p.getBoundingClientRect(), st = getComputedStyle(p.firstElementChild);
        return {run: p.dataset.run, value: +p.dataset.value, label: p.getAttribute('aria-label'), fail: p.classList.contains('fail'),
                x: r.x + r.width / 2, y: r.y + r.height / 2, size: Math.min(r.width, r.height),
                painted: st.visibility !== 'hidden' && st.strokeWidth !== '0px'};
      })};
  })}))"""

# WCAG 2 contrast of every visible text against the first opaque background behind it.
CONTRAST = r"""(function () {
  const rgb = s => (s.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number).concat([1]).slice(0, 4);
  const lum = c => c.slice(0, 3).reduce((a, v, k) => { v /= 255;
    return a + [0.2126, 0.7152, 0.0722][k] * (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4)); }, 0);
  const back = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c[3] > 0.5) return c; }
    return [255, 255, 255, 1]; };
  const low = [], walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n = 0;
  for (let t = walk.nextNode(); t; t = walk.nextNode()) {
    const el = t.parentElement, r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (!t.textContent.trim() || !r.width || !r.height || cs.visibility === 'hidden' || el.closest('.sr')) continue;
    const fg = el.closest('svg') ? cs.fill : cs.color, l1 = lum(rgb(fg)), l2 = lum(back(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    n++;
    if (ratio < 4.5) low.push([t.textContent.trim().slice(0, 40), ratio.toFixed(2), fg]);
  }
  return {checked: n, low: low.slice(0, 10)};
})()"""


def test_table_one_row_per_run_newest_first(driver):
    """One row per readable run, newest first, with its commit, tool,
    scenario, envelope, peak req/s and p99 and threshold verdict, linking to
    its report.html (its summary.json without one); the unreadable folder is
    listed as skipped."""
    rows = js(driver, ROWS)
    assert [r["run"] for r in rows] == [s["_id"] for s in reversed(RUNS)]
    for r in rows:
        s = BY_ID[r["run"]]
        lv = s["_peak"]
        assert r["shown"] and (r["commit"], r["tool"], r["scenario"]) == (s["commit"], s["tool"], s["scenario"])
        assert float(r["rps"]) == lv["rps"] and float(r["p99"]) == lv["latency_ms"]["p99"], r
        th = s.get("thresholds")
        shown = ["{:,.0f}".format(lv["rps"]) if lv["rps"] >= 100 else "{:.1f}".format(lv["rps"]), envelope(s),
                 "not evaluated" if not th else "passed" if th["passed"] else "FAILED"] + ["+dirty"] * bool(s.get("dirty"))
        assert all(x in r["text"] for x in shown), (shown, r["text"])
        target = urllib.parse.unquote(urllib.parse.urlparse(r["href"]).path)
        assert os.path.samefile(target, os.path.join(FIXTURES, s["_id"], "report.html" if s["_report"] else "summary.json"))
    assert js(driver, "Array.from(document.querySelectorAll('[data-skipped]')).map(e => e.dataset.skipped)") == BAD


def test_charts_draw_every_run(driver):
    """Per scenario and tool, a throughput and a p99 chart, each drawing
    every run as a painted point inside it, left to right in date order, a
    higher value higher, the line through every point; each point labelled
    with its date, commit, tool and envelope, failed runs marked; the
    readout gives the latest run."""
    groups = js(driver, CHARTS)
    assert sorted((g["scenario"], g["tool"]) for g in groups) == sorted({(s["scenario"], s["tool"]) for s in RUNS})
    for g in groups:
        assert [c["metric"] for c in g["charts"]] == ["throughput", "p99"]
        for c in g["charts"]:
            pts = c["points"]
            want = [(s["_id"], s["_peak"]["rps"] if c["metric"] == "throughput" else s["_peak"]["latency_ms"]["p99"])
                    for s in RUNS if (s["scenario"], s["tool"]) == (g["scenario"], g["tool"])]
            assert [(p["run"], p["value"]) for p in pts] == want and c["declared"] == len(want), (g, c)
            left, top, right, bottom = c["box"]
            assert right - left > 200 and bottom - top > 100, ("chart not laid out", c["box"])
            for p in pts:
                assert p["size"] > 4 and p["painted"] and left <= p["x"] <= right and top <= p["y"] <= bottom, p
                s = BY_ID[p["run"]]
                assert all(x in p["label"] for x in (s["date"][:10], s["commit"], s["tool"], envelope(s))), p["label"]
                assert p["fail"] == ("FAILED" in p["label"]) == failed(s), p
            xs = [p["x"] for p in pts]
            assert xs == sorted(set(xs)), ("points not left to right", xs)
            assert all(a["y"] < b["y"] for a in pts for b in pts if a["value"] > b["value"]), "a higher value is not drawn higher"
            assert (c["line"], c["length"] > 0) == ((len(pts), True) if len(pts) > 1 else (0, False)), c
            assert c["readout"].startswith("Latest:") and BY_ID[pts[-1]["run"]]["commit"] in c["readout"], c["readout"]


def test_keyboard_reaches_points_with_focus_ring(driver):
    """Tab reaches the skip link first, then chart points; a focused point
    has a visible focus ring and its figures in the readout."""
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert js(driver, "[document.activeElement.getAttribute('href'), document.activeElement.getBoundingClientRect().left >= 0]") == ["#runs", True]
    for _ in range(60):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = js(driver, """(e => e.matches('g.pt') && {label: e.getAttribute('aria-label'),
            ring: getComputedStyle(e.firstElementChild).strokeWidth, readout: e.closest('figure').querySelector('.readout').textContent})
            (document.activeElement)""")
        if focused:
            break
    assert focused, "no chart point reached with Tab"
    assert focused["readout"] == focused["label"] and focused["ring"] == "4px", focused


def test_nothing_moves(driver):
    """No transition, animation or smooth scrolling: nothing to reduce when
    reduced motion is asked for."""
    assert js(driver, """Array.from(document.querySelectorAll('*')).filter(e => { const s = getComputedStyle(e);
        return s.transitionDuration.split(',').some(d => parseFloat(d) > 0) || s.animationName !== 'none'
            || s.scrollBehavior === 'smooth'; }).length""") == 0


def test_no_request_leaves_no_script_error(driver):
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors[:3]


def test_screenshot_saved(driver):
    shot = os.path.join(OUT, "screenshot.png")
    save_full_page(driver, shot)
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(shot) > 20000


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_contrast(driver, scheme):
    """Every visible text at 4.5:1 or more, in the dark and light schemes."""
    emulate(driver, prefers_color_scheme=scheme)
    assert (js(driver, "getComputedStyle(document.documentElement).backgroundColor") == "rgb(255, 255, 255)") == (scheme == "light")
    r = js(driver, CONTRAST)
    assert r["checked"] > 200 and not r["low"], r


def test_empty_archive(driver):
    with tempfile.TemporaryDirectory() as empty:
        driver.get(build(empty, "empty"))
    assert js(driver, "document.querySelectorAll('tr.run, svg[data-chart]').length") == 0
    assert "No run archived yet" in js(driver, "document.body.innerText")


def test_real_archive_shows_every_run(driver):
    """The real archive (reports/runs): every folder a row, none skipped,
    every chart drew the points it declares."""
    folders = [d for d in os.listdir(REAL_RUNS) if os.path.isdir(os.path.join(REAL_RUNS, d))] if os.path.isdir(REAL_RUNS) else []
    if not folders:
        pytest.skip("no run archived yet")
    driver.get(build(REAL_RUNS, "real"))
    assert js(driver, "[document.querySelectorAll('tr.run').length, document.querySelectorAll('[data-skipped]').length]") == [len(folders), 0]
    assert js(driver, "Array.from(document.querySelectorAll('svg[data-chart]')).every(s => +s.dataset.points === s.querySelectorAll('g.pt').length)")
