#!/usr/bin/python3
"""What yamllint cannot prove about .github/workflows/*.yml (make
workflows-check runs yamllint first, for YAML syntax and style).

    workflows.py [--root .]

Every workflow: GitHub's shape (name, triggers, jobs with runs-on and steps;
a step either `uses` an action pinned to a version or has one `run`; `needs`
names jobs), every steps.X.outputs.Y and needs.J.outputs.O names an output
that is written, every run script passes shellcheck, and every `make TARGET`
and repository file a script names exists.

test.yml runs .ci/run on Debian 12. stress.yml's steps come in the order a
run needs; k6 writes summary.json and report.html into the run folder and its
threshold exit (99) does not stop the archiving; the run is kept as an
artifact, the site deployed to Pages, the SLA decided last. Then its own
scripts (name the run, restore the archive, make site, archive the run, lay
out the site) run as written, in the workflow's order, for two pushes
against a local bare repository: afterwards the published site links every
run's report.html and the archive branch holds both runs.

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
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[\w.-]+")
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STEP_OUT = re.compile(r"steps\.([\w-]+)\.outputs\.([\w-]+)")
NEEDS_OUT = re.compile(r"needs\.([\w-]+)\.outputs\.([\w-]+)")
MAKE = re.compile(r"(?:^|[;&|(]\s*|\s)make\s+((?:[\w-]+\s*)+)", re.M)
PATHLIKE = re.compile(r"(?<![\w./$-])((?:\.?[\w-]+/)+[\w.-]+\.(?:js|py|yml|yaml|sh|json|mk)|compose\.yml|\.ci/run)\b")
# stress.yml's steps that the replay runs, by name.
REPLAYED = ("Name the run", "Restore the archive of earlier runs", "Build the site (make site)",
            "Add the run to the archive branch", "Lay out the site")


def ok(name, cond, detail=""):
    results.append(bool(cond))
    print("%s  %s%s" % ("ok  " if cond else "FAIL", name, "" if cond else ": %s" % (detail,)))
    return cond


def triggers(doc):
    # PyYAML (YAML 1.1) reads the key `on` as the boolean True.
    t = doc.get("on", doc.get(True))
    return {t: None} if isinstance(t, str) else dict.fromkeys(t) if isinstance(t, list) else t or {}


def as_list(v):
    return [v] if isinstance(v, str) else list(v or [])


def run_of(step):
    return step.get("run", "")


def writes(step, out):
    return re.search(r"\b%s=" % re.escape(out), run_of(step))


# ------------------------------------------------------------ every workflow


def check_shape(base, doc):
    ok("%s: has a name, triggers and jobs" % base, doc.get("name") and triggers(doc) and doc.get("jobs"))
    jobs = doc.get("jobs") or {}
    for jid, job in jobs.items():
        steps = job.get("steps")
        bad = [s.get("name") for s in steps or []
               if ("uses" in s) == ("run" in s) or ("uses" in s and not PINNED.fullmatch(s["uses"]))]
        ok("%s: job %s: runs-on, steps (each a pinned `uses` or a `run`), needs known jobs" % (base, jid),
           job.get("runs-on") and isinstance(steps, list) and not bad
           and all(n in jobs for n in as_list(job.get("needs"))), bad or job.keys())


def check_outputs(base, doc):
    """An output read before it is written is an empty string on GitHub, not
    an error: only a check can see it."""
    jobs = doc.get("jobs") or {}
    for jid, job in jobs.items():
        steps = job.get("steps") or []
        missing = []
        for n, step in enumerate(steps):
            for sid, out in STEP_OUT.findall(yaml.safe_dump(step)):
                if not any(s.get("id") == sid and writes(s, out) for s in steps[:n]):
                    missing.append("step %d reads steps.%s.outputs.%s" % (n + 1, sid, out))
        for name, value in (job.get("outputs") or {}).items():
            for sid, out in STEP_OUT.findall(str(value)):
                if not any(s.get("id") == sid and writes(s, out) for s in steps):
                    missing.append("output %s reads steps.%s.outputs.%s" % (name, sid, out))
        for j, out in NEEDS_OUT.findall(yaml.safe_dump(job)):
            if j not in as_list(job.get("needs")) or out not in (jobs.get(j, {}).get("outputs") or {}):
                missing.append("needs.%s.outputs.%s" % (j, out))
        ok("%s: job %s: every output it reads is written first" % (base, jid), not missing, missing)


def check_scripts(base, doc, root, targets):
    for jid, job in (doc.get("jobs") or {}).items():
        for n, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            label = "%s: job %s step %d (%s)" % (base, jid, n + 1, step.get("name", "?"))
            script = EXPR.sub("PLACEHOLDER", step["run"])
            r = subprocess.run(["shellcheck", "-s", "bash", "-e", "SC2086,SC2129", "-"], input=script,
                               capture_output=True, text=True)
            ok("%s: shellcheck" % label, r.returncode == 0, r.stdout.strip()[:800])
            wanted = [t for group in MAKE.findall(step["run"]) for t in group.split()
                      if not t.startswith("-") and "=" not in t]
            files = [p for p in PATHLIKE.findall(step["run"]) if not p.startswith(("../", "_site", "reports/runs/"))]
            absent = [t for t in wanted if t not in targets] + \
                     [p for p in files if not os.path.exists(os.path.join(root, p))]
            if wanted or files:
                ok("%s: its make targets and files exist" % label, not absent, absent)


# ------------------------------------------------------------------ test.yml


def check_test(doc, root):
    scripts = "\n".join(run_of(s) for j in doc["jobs"].values() for s in j.get("steps") or [])
    with open(os.path.join(root, ".ci", "run")) as f:
        ci = f.read()
    ok("test.yml: on push, runs .ci/run, which runs make test and make check-tools",
       "push" in triggers(doc) and "bash .ci/run" in scripts
       and re.search(r"^make test\b", ci, re.M) and re.search(r"^make check-tools\b", ci, re.M))
    ok("test.yml: runs on Debian 12", any("debian:12" in str(j.get("container")) for j in doc["jobs"].values()))


# ---------------------------------------------------------------- stress.yml


def index_of(steps, pred):
    return next((n for n, s in enumerate(steps) if pred(s)), None)


def check_stress(doc):
    jobs = doc["jobs"]
    steps = (jobs.get("stress") or {}).get("steps") or []
    t = triggers(doc)
    ok("stress.yml: runs on push and on demand", "push" in t and "workflow_dispatch" in t, t)
    order = [index_of(steps, p) for p in (
        lambda s: s.get("id") == "run",
        lambda s: "compose -f compose.yml build" in run_of(s),
        lambda s: "compose -f compose.yml up" in run_of(s),
        lambda s: ":9999" in run_of(s) and "curl" in run_of(s),
        lambda s: s.get("uses", "").startswith("grafana/setup-k6-action@"),
        lambda s: "k6 run k6/rinha.js" in run_of(s),
        lambda s: s.get("name") == REPLAYED[1],
        lambda s: s.get("name") == REPLAYED[-1],
        lambda s: s.get("uses", "").startswith("actions/upload-pages-artifact@"))]
    ok("stress.yml: name the run, build, up, wait for :9999, set up k6, k6, restore, lay out, upload to Pages",
       None not in order and order == sorted(order), order)
    k6 = steps[order[5]] if order[5] is not None else {}
    env, d = k6.get("env") or {}, "${{ steps.run.outputs.dir }}"
    ok("stress.yml: k6 writes summary.json into the run folder, and never its dashboard export (k6's code)",
       env.get("SUMMARY_PATH") == d + "/summary.json" and "K6_WEB_DASHBOARD" not in env
       and "K6_WEB_DASHBOARD_EXPORT" not in env, env)
    ok("stress.yml: the project's report.py renders report.html from the run's summary.json",
       any("reports/tools/report.py" in run_of(s) and "summary.json" in run_of(s) for s in steps))
    ok("stress.yml: k6's threshold exit (99) is recorded and does not stop the archiving",
       "exit_code=$rc" in run_of(k6) and "-ne 99" in run_of(k6), run_of(k6))
    art = next((s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")), {})
    pages = next((s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@")), {})
    ok("stress.yml: the run folder is a build artifact, _site the Pages artifact",
       (art.get("with") or {}).get("path") == d and (pages.get("with") or {}).get("path") == "_site")
    deploy, sla = jobs.get("deploy") or {}, yaml.safe_dump(jobs.get("sla") or {})
    ok("stress.yml: deploy-pages after the run; the sla job fails on k6's exit code",
       deploy.get("needs") == "stress" and any(s.get("uses", "").startswith("actions/deploy-pages@")
                                               for s in deploy.get("steps") or [])
       and "needs.stress.outputs.k6_exit" in sla and "exit 1" in sla)
    perms = doc.get("permissions") or {}
    ok("stress.yml: may write pages, id-token and contents (the archive branch)",
       all(perms.get(k) == "write" for k in ("pages", "id-token", "contents")), perms)


def sh(cmd, cwd, env, **kw):
    return subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def seed_origin(root, tmp, env):
    """A bare repository holding what `make site` needs."""
    origin, seed = os.path.join(tmp, "origin"), os.path.join(tmp, "seed")
    sh(["git", "init", "-q", "--bare", "-b", "main", origin], tmp, env, check=True)
    sh(["git", "clone", "-q", origin, seed], tmp, env, check=True)
    for rel in ("Makefile", "mk", "reports/tools"):
        src, dst = os.path.join(root, rel), os.path.join(seed, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst)
    sh("git add -A && git commit -qm seed && git push -q origin HEAD:main", seed, env, shell=True, check=True)
    return origin


def replay_push(steps, origin, ws, fixture, env, push):
    """One push: clone, a new commit, then stress.yml's replayed steps as
    written, with the outputs of its "Name the run" step and a k6 run's
    files (a fixture run) in the run folder. Returns (every step ran, the
    run id it named)."""
    sh(["git", "clone", "-q", origin, ws], None, env, check=True)
    sh(["git", "commit", "-q", "--allow-empty", "-m", "push %d" % push], ws, env, check=True)
    outputs = {}
    for step in (s for s in steps if s.get("name") in REPLAYED):
        script = step["run"]
        for k, v in outputs.items():
            script = script.replace("${{ steps.run.outputs.%s }}" % k, v)
        gh_out = os.path.join(ws, "..", "github_output")
        r = sh(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], ws, dict(env, GITHUB_OUTPUT=gh_out))
        if not ok("stress.yml: replay: step '%s' runs" % step["name"], r.returncode == 0, r.stdout[-600:]):
            return False, None
        if step["name"] == REPLAYED[0]:
            with open(gh_out) as f:
                outputs = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            for name in ("summary.json", "report.html"):
                shutil.copy(os.path.join(fixture, name), os.path.join(ws, outputs.get("dir", "?"), name))
    return True, outputs.get("id")


def replay_archive(doc, root):
    """stress.yml's archive and site scripts, for two pushes (the first
    finds no archive branch), against a local bare repository."""
    steps = doc["jobs"]["stress"]["steps"]
    if not ok("stress.yml: the replayed steps are there", all(any(s.get("name") == n for s in steps)
                                                            for n in REPLAYED)):
        return
    tmp = tempfile.mkdtemp(prefix="workflows-check-")
    env = dict(os.environ, ARCHIVE_BRANCH=doc.get("env", {}).get("ARCHIVE_BRANCH", ""),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    fixture = os.path.join(root, "tests", "site", "fixtures", "runs", "20261122T100000Z-3333ccc")
    try:
        origin = seed_origin(root, tmp, env)
        ids = []
        for i in (1, 2):
            ws = os.path.join(tmp, "ws%d" % i, "repo")
            ran, rid = replay_push(steps, origin, ws, fixture, env, i)
            if not ran or not ok("stress.yml: push %d: the run is named <UTC compact timestamp>-<7-char commit>" % i,
                      rid and re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{7}", rid), rid):
                return
            ids.append(rid)
            with open(os.path.join(ws, "_site", "index.html")) as f:
                links = [urllib.parse.unquote(h) for h in re.findall(r'href="(runs/[^"#]+)"', f.read())]
            broken = [h for h in links if not os.path.isfile(os.path.join(ws, "_site", h))]
            ok("stress.yml: push %d: the published site links the report.html of runs %s, every link resolves"
               % (i, ", ".join(ids)), sorted({h.split("/")[1] for h in links}) == sorted(ids) and not broken
               and all("runs/%s/report.html" % r in links for r in ids), broken or links)
        tree = sh(["git", "--git-dir", origin, "ls-tree", "-r", "--name-only", env["ARCHIVE_BRANCH"]], tmp, env).stdout
        ok("stress.yml: the archive branch holds both runs",
           sorted({p.split("/")[1] for p in tree.split() if p.startswith("runs/")}) == sorted(ids), tree[-400:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    root = ap.parse_args().root
    help_out = subprocess.run(["make", "-s", "--no-print-directory", "help"], cwd=root, capture_output=True, text=True)
    targets = {line.split()[0] for line in help_out.stdout.splitlines() if line.strip()}
    files = {os.path.basename(f): f for f in glob.glob(os.path.join(root, ".github", "workflows", "*.yml"))}
    ok("workflows present: stress.yml and test.yml", {"stress.yml", "test.yml"} <= set(files), sorted(files))
    for base, path in sorted(files.items()):
        with open(path) as f:
            doc = yaml.safe_load(f)  # yamllint has proven it parses
        check_shape(base, doc)
        check_outputs(base, doc)
        check_scripts(base, doc, root, targets)
        if base == "stress.yml":
            check_stress(doc)
            replay_archive(doc, root)
        elif base == "test.yml":
            check_test(doc, root)
    passed = sum(results)
    print("workflows check: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
