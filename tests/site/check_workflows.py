#!/usr/bin/python3
"""Checks .github/workflows/*.yml as far as it can be done without GitHub.

    check_workflows.py [--root .]

For every workflow: valid YAML with name, triggers and jobs; every job has
runs-on and steps; every step has exactly one of `uses` (pinned to a
version) or `run`; `needs` name existing jobs; `steps.X.outputs.Y` name a
step of the same job that writes Y to $GITHUB_OUTPUT, `needs.J.outputs.O` an
output job J declares; every `run` script is valid bash (`bash -n`, and
shellcheck when installed); every `make TARGET` is a target `make help`
lists; every repository file a script names exists.

For stress.yml, the paths it writes match what the site reads: the run
folder is under the site's runs folder (mk/site.mk SITE_RUNS), named
<UTC compact timestamp>-<short commit>; k6 writes summary.json (through
SUMMARY_PATH, which k6/rinha.js reads) and report.html (the web dashboard
export) into it, the names site.py links to; `make site` runs after the
archive is restored and before the site is laid out from SITE_OUT and
SITE_RUNS; the Pages artifact is that layout. For test.yml: it runs
`make test` (directly or through .ci/run, which runs it).

Prints one line per check and closes with "N passed, N failed".
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import yaml

results = []


def ok(name, cond, detail=""):
    results.append(bool(cond))
    print("%s  %s%s" % ("ok  " if cond else "FAIL", name, "" if cond else ": %s" % (detail,)))
    return cond


EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PATHLIKE = re.compile(r"(?<![\w./$-])((?:\.?[\w-]+/)+[\w.-]+\.(?:js|py|yml|yaml|sh|json|mk)|compose\.yml|\.ci/run)\b")


def make_targets(root):
    out = subprocess.run(["make", "-s", "--no-print-directory", "help"], cwd=root, capture_output=True, text=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def triggers(doc):
    # PyYAML (YAML 1.1) reads the key `on` as the boolean True.
    t = doc.get("on", doc.get(True))
    if isinstance(t, str):
        return {t: None}
    if isinstance(t, list):
        return {k: None for k in t}
    return t or {}


def placeholder(script):
    return EXPR.sub("PLACEHOLDER", script)


def check_generic(path, doc, root, targets):
    base = os.path.basename(path)
    ok("%s: has a name, triggers and jobs" % base, doc.get("name") and triggers(doc) and doc.get("jobs"),
       sorted(map(str, doc)))
    jobs = doc.get("jobs") or {}
    for jid, job in jobs.items():
        where = "%s: job %s" % (base, jid)
        ok("%s: runs-on and steps" % where, job.get("runs-on") and isinstance(job.get("steps"), list), job.keys())
        needs = job.get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        ok("%s: needs existing jobs" % where, all(n in jobs for n in needs), needs)
        steps = job.get("steps") or []
        ids = {s.get("id"): s for s in steps if s.get("id")}
        for n, s in enumerate(steps):
            label = "%s step %d (%s)" % (where, n + 1, s.get("name") or s.get("uses") or "?")
            ok("%s: exactly one of uses/run" % label, ("uses" in s) != ("run" in s), s.keys())
            if "uses" in s:
                ok("%s: action pinned to a version" % label, re.fullmatch(r"[\w.-]+/[\w./-]+@[\w.-]+", s["uses"]),
                   s["uses"])
            text = yaml.safe_dump(s)
            for ref in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
                sid, out = ref
                src = ids.get(sid)
                writes = src is not None and re.search(r"\b%s=" % re.escape(out), src.get("run", ""))
                ok("%s: steps.%s.outputs.%s is written earlier" % (label, sid, out),
                   writes and steps.index(src) < n, "no such step or output")
            if "run" in s:
                script = placeholder(s["run"])
                r = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
                ok("%s: bash -n" % label, r.returncode == 0, r.stderr.strip())
                if shutil.which("shellcheck"):
                    r = subprocess.run(["shellcheck", "-s", "bash", "-e", "SC2086,SC2129", "-"], input=script,
                                       capture_output=True, text=True)
                    ok("%s: shellcheck" % label, r.returncode == 0, r.stdout.strip()[:800])
                for t in re.findall(r"(?:^|[;&|(]\s*|\s)make\s+((?:[\w-]+\s*)+)", s["run"], re.M):
                    for target in t.split():
                        if target.startswith("-") or "=" in target:
                            continue
                        ok("%s: make %s exists (make help)" % (label, target), target in targets, sorted(targets))
                for p in PATHLIKE.findall(s["run"]):
                    if p.startswith(("../", "_site", "reports/runs/")):
                        continue
                    ok("%s: file %s exists" % (label, p), os.path.exists(os.path.join(root, p)), p)
        for out, value in (job.get("outputs") or {}).items():
            for sid, sout in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", str(value)):
                src = ids.get(sid)
                ok("%s: output %s comes from a step that writes it" % (where, out),
                   src is not None and re.search(r"\b%s=" % re.escape(sout), src.get("run", "")), value)
        text = yaml.safe_dump(job)
        for j, out in re.findall(r"needs\.([\w-]+)\.outputs\.([\w-]+)", text):
            ok("%s: needs.%s.outputs.%s is declared" % (where, j, out),
               j in needs and out in (jobs.get(j, {}).get("outputs") or {}), (needs, out))


def mk_var(root, name):
    with open(os.path.join(root, "mk", "site.mk")) as f:
        m = re.search(r"^%s\s*\?=\s*(\S+)" % name, f.read(), re.M)
    return m.group(1) if m else None


def step_by(steps, pred):
    for n, s in enumerate(steps):
        if pred(s):
            return n, s
    return None, None


def check_stress(doc, root):
    base = "stress.yml"
    t = triggers(doc)
    ok("%s: runs on push and on demand" % base, "push" in t and "workflow_dispatch" in t, t)
    runs_dir, site_out = mk_var(root, "SITE_RUNS"), mk_var(root, "SITE_OUT")
    ok("%s: mk/site.mk defines SITE_RUNS and SITE_OUT" % base, runs_dir and site_out, (runs_dir, site_out))
    job = doc["jobs"].get("stress") or {}
    steps = job.get("steps") or []

    n_run, s_run = step_by(steps, lambda s: s.get("id") == "run")
    m = re.search(r'dir="([^"$]+)/\$\{compact\}-\$\{commit\}"', (s_run or {}).get("run", ""))
    ok("%s: the run folder is %s/<compact UTC>-<short commit>" % (base, runs_dir), m and m.group(1) == runs_dir,
       m and m.group(1))
    script = (s_run or {}).get("run", "")
    ok("%s: the run folder uses the compact UTC timestamp and a 7-char commit" % base,
       "+%Y%m%dT%H%M%SZ" in script and "date -u" in script and "--short=7" in script, script)

    n_k6, s_k6 = step_by(steps, lambda s: "k6 run" in s.get("run", ""))
    env = (s_k6 or {}).get("env") or {}
    d = "${{ steps.run.outputs.dir }}"
    ok("%s: k6 runs k6/rinha.js" % base, s_k6 and "k6 run k6/rinha.js" in s_k6["run"])
    ok("%s: k6 writes summary.json into the run folder" % base, env.get("SUMMARY_PATH") == d + "/summary.json", env)
    ok("%s: k6 exports its HTML dashboard as report.html in the run folder" % base,
       str(env.get("K6_WEB_DASHBOARD")).lower() == "true" and env.get("K6_WEB_DASHBOARD_EXPORT") == d + "/report.html",
       env)
    try:
        with open(os.path.join(root, "k6", "rinha.js")) as f:
            k6src = f.read()
    except OSError:
        k6src = ""
    ok("%s: k6/rinha.js writes its summary to SUMMARY_PATH" % base, "__ENV.SUMMARY_PATH" in k6src)
    ok("%s: k6/rinha.js reads BASE_URL, RUN_COMMIT and RUN_DATE" % base,
       all("__ENV." + v in k6src for v in ("BASE_URL", "RUN_COMMIT", "RUN_DATE")))
    with open(os.path.join(root, "reports", "tools", "site.py")) as f:
        site_src = f.read()
    ok("%s: site.py links report.html and reads summary.json" % base,
       '"report.html"' in site_src and '"summary.json"' in site_src)
    n_setup, s_setup = step_by(steps, lambda s: s.get("uses", "").startswith("grafana/setup-k6-action@"))
    ok("%s: stock k6 from grafana/setup-k6-action, before k6 runs" % base,
       s_setup is not None and n_k6 is not None and n_setup < n_k6)
    n_wait, s_wait = step_by(steps, lambda s: ":9999" in s.get("run", "") and "curl" in s.get("run", ""))
    n_up, _ = step_by(steps, lambda s: "compose -f compose.yml up" in s.get("run", ""))
    n_build, _ = step_by(steps, lambda s: "compose -f compose.yml build" in s.get("run", ""))
    ok("%s: build, up, wait for :9999, then k6" % base,
       None not in (n_build, n_up, n_wait, n_k6) and n_build < n_up < n_wait < n_k6, (n_build, n_up, n_wait, n_k6))
    ok("%s: k6's threshold failure (exit 99) does not stop the archiving" % base,
       s_k6 and "exit_code=$rc" in s_k6["run"] and "99" in s_k6["run"])

    n_restore, s_restore = step_by(steps, lambda s: "ARCHIVE_BRANCH" in s.get("run", "") and "worktree add" in s.get("run", ""))
    ok("%s: earlier runs are restored into %s" % (base, runs_dir),
       s_restore and ("%s/" % runs_dir) in s_restore["run"])
    n_site, _ = step_by(steps, lambda s: re.search(r"\bmake site\b", s.get("run", "")))
    n_lay, s_lay = step_by(steps, lambda s: "_site" in s.get("run", ""))
    n_pages, s_pages = step_by(steps, lambda s: s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    ok("%s: restore, make site, lay out, upload to Pages, in that order" % base,
       None not in (n_restore, n_site, n_lay, n_pages) and n_k6 < n_restore < n_site < n_lay < n_pages,
       (n_restore, n_site, n_lay, n_pages))
    lay = (s_lay or {}).get("run", "")
    ok("%s: the Pages layout takes %s and %s" % (base, site_out, runs_dir),
       ("cp %s _site/index.html" % site_out) in lay and ("cp -r %s _site/runs" % runs_dir) in lay, lay)
    ok("%s: site.py's page and runs folder sit as in the layout (index.html beside runs/)" % base,
       os.path.dirname(site_out) == os.path.dirname(runs_dir) and os.path.basename(runs_dir) == "runs",
       (site_out, runs_dir))
    ok("%s: the Pages artifact is that layout" % base, s_pages and (s_pages.get("with") or {}).get("path") == "_site")
    n_art, s_art = step_by(steps, lambda s: s.get("uses", "").startswith("actions/upload-artifact@"))
    ok("%s: the run folder is kept as a build artifact" % base, s_art and (s_art.get("with") or {}).get("path") == d)
    deploy = doc["jobs"].get("deploy") or {}
    ok("%s: a deploy job publishes with actions/deploy-pages" % base,
       any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy.get("steps") or [])
       and deploy.get("needs") == "stress")
    perms = doc.get("permissions") or {}
    ok("%s: permissions for Pages and the archive branch" % base,
       perms.get("pages") == "write" and perms.get("id-token") == "write" and perms.get("contents") == "write", perms)
    sla = doc["jobs"].get("sla") or {}
    ok("%s: a job fails the workflow on the SLA thresholds" % base,
       "needs.stress.outputs.k6_exit" in yaml.safe_dump(sla) and "exit 1" in yaml.safe_dump(sla))


def simulate_archive(doc, root):
    """Runs stress.yml's own archive, site and layout scripts against a local
    bare repository, twice (first push: no archive branch yet; second: the
    first run restored), and checks the laid-out site links every run."""
    base = "stress.yml"
    steps = {s.get("name"): s for s in doc["jobs"]["stress"]["steps"]}
    names = ("Restore the archive of earlier runs", "Build the site (make site)",
             "Add the run to the archive branch", "Lay out the site")
    if not ok("%s: archive, site and layout steps present" % base, all(n in steps for n in names), sorted(steps)):
        return
    tmp = tempfile.mkdtemp(prefix="workflows-check-")
    env = dict(os.environ, ARCHIVE_BRANCH=doc.get("env", {}).get("ARCHIVE_BRANCH", "reports-archive"),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    q = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        origin = os.path.join(tmp, "origin")
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", origin], check=True, **q)
        seed = os.path.join(tmp, "seed")
        subprocess.run(["git", "clone", "-q", origin, seed], check=True, **q)
        # The seed holds what `make site` needs: the Makefile, mk/ and the site tools.
        for rel in ("Makefile", "mk", "reports/tools"):
            dst = os.path.join(seed, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            (shutil.copytree if os.path.isdir(os.path.join(root, rel)) else shutil.copy)(os.path.join(root, rel), dst)
        subprocess.run("git add -A && git commit -qm seed && git push -q origin HEAD:main", shell=True, cwd=seed,
                       check=True, **q)
        fixture = os.path.join(root, "tests", "site", "fixtures", "runs", "20261122T100000Z-3333ccc")
        ids = ["20261126T100000Z-aaaaaaa", "20261126T110000Z-bbbbbbb"]
        for i, rid in enumerate(ids):
            ws = os.path.join(tmp, "ws%d" % i, "repo")
            subprocess.run(["git", "clone", "-q", origin, ws], check=True, **q)
            run_dir = os.path.join(ws, "reports", "runs", rid)
            shutil.copytree(fixture, run_dir)
            sub = {"steps.run.outputs.dir": "reports/runs/" + rid, "steps.run.outputs.id": rid}
            for name in names:
                script = steps[name]["run"]
                for k, v in sub.items():
                    script = script.replace("${{ %s }}" % k, v)
                r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=ws, **q)
                if not ok("%s: push %d: step '%s' runs" % (base, i + 1, name), r.returncode == 0, r.stdout[-600:]):
                    return
            site = os.path.join(ws, "_site")
            with open(os.path.join(site, "index.html")) as f:
                page = f.read()
            links = [urllib.parse.unquote(h) for h in re.findall(r'href="(runs/[^"#]+)"', page)]
            want = ids[: i + 1]
            linked = sorted({h.split("/")[1] for h in links})
            ok("%s: push %d: the published site links runs %s" % (base, i + 1, ", ".join(want)), linked == want, linked)
            ok("%s: push %d: every run link resolves inside the published folder" % (base, i + 1),
               links and all(os.path.isfile(os.path.join(site, h)) for h in links),
               [h for h in links if not os.path.isfile(os.path.join(site, h))])
            ok("%s: push %d: each run links its report.html" % (base, i + 1),
               all("runs/%s/report.html" % r in links for r in want), links)
        out = subprocess.run(["git", "--git-dir", origin, "ls-tree", "-r", "--name-only", env["ARCHIVE_BRANCH"]], **q)
        archived = sorted({p.split("/")[1] for p in out.stdout.split() if p.startswith("runs/")})
        ok("%s: the archive branch holds both runs" % base, archived == ids, out.stdout[-400:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_test(doc, root):
    base = "test.yml"
    t = triggers(doc)
    ok("%s: runs on push" % base, "push" in t, t)
    scripts = "\n".join(s.get("run", "") for j in doc["jobs"].values() for s in j.get("steps") or [])
    via_ci = "bash .ci/run" in scripts
    if via_ci:
        with open(os.path.join(root, ".ci", "run")) as f:
            ci = f.read()
        ok("%s: runs .ci/run, which runs make test" % base, re.search(r"^make test\b", ci, re.M), ci[-200:])
    else:
        ok("%s: runs make test" % base, re.search(r"\bmake test\b", scripts), scripts)
    ok("%s: runs on Debian 12" % base,
       any("debian:12" in str(j.get("container")) for j in doc["jobs"].values()), doc["jobs"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    args = ap.parse_args()
    root = args.root
    targets = make_targets(root)
    ok("make help lists targets", {"site", "test"} <= targets, sorted(targets))
    files = sorted(glob.glob(os.path.join(root, ".github", "workflows", "*.yml")))
    names = [os.path.basename(f) for f in files]
    ok("workflows present: stress.yml and test.yml", {"stress.yml", "test.yml"} <= set(names), names)
    for path in files:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            ok("%s: valid YAML" % os.path.basename(path), False, e)
            continue
        if not ok("%s: valid YAML (a mapping)" % os.path.basename(path), isinstance(doc, dict), type(doc)):
            continue
        check_generic(path, doc, root, targets)
        if os.path.basename(path) == "stress.yml":
            check_stress(doc, root)
            simulate_archive(doc, root)
        elif os.path.basename(path) == "test.yml":
            check_test(doc, root)
    passed = sum(results)
    failed = len(results) - passed
    print("workflows check: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
