#!/usr/bin/python3
"""What yamllint cannot prove about .github/workflows/*.yml (make
workflows-check runs yamllint first, for YAML syntax and style).

    workflows.py [--root .]

Every workflow: GitHub's shape (name, triggers, jobs with runs-on and steps,
each step a pinned `uses` or a `run`, `needs` naming jobs); every output it
reads is written first; every run script passes shellcheck, and the make
targets and files it names exist. test.yml runs .ci/run on Debian 12.
stress.yml: its steps in the order a run needs, k6 never exporting its own
dashboard, k6's threshold exit not stopping the archiving, the artifacts,
Pages and the SLA job; then its scripts from naming the run to laying out
the site run as written, for two pushes against a local bare repository,
with a k6 summary.json standing in for k6: afterwards the summary has its
envelope and machine, the published site links every run's report.html,
and the archive branch holds both runs.

Prints one line per check and closes with "N passed, N failed".
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import yaml

results = []
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STEP_OUT = re.compile(r"steps\.([\w-]+)\.outputs\.([\w-]+)")
NEEDS_OUT = re.compile(r"needs\.([\w-]+)\.outputs\.([\w-]+)")
MAKE = re.compile(r"(?:^|[;&|(]\s*|\s)make\s+((?:[\w-]+\s*)+)", re.M)
PATHLIKE = re.compile(r"(?<![\w./$-])((?:\.?[\w-]+/)+[\w.-]+\.(?:js|py|yml|yaml|sh|json|mk)|compose\.yml|\.ci/run)\b")
# stress.yml's steps that the replay runs, in order, by name.
REPLAYED = ("Name the run", "Complete summary.json (envelope, machine)", "Restore the archive of earlier runs",
            "Build the site (make site)", "Add the run to the archive branch", "Lay out the site")
# What the replay's repository holds: what those steps use.
SEEDED = ("Makefile", "mk", "compose.yml", "scripts", "bench", "reports/tools", ".github/scripts")


def ok(name, cond, detail=""):
    results.append(bool(cond))
    print("%s  %s%s" % ("ok  " if cond else "FAIL", name, "" if cond else ": %s" % (detail,)))
    return cond


def triggers(doc):
    t = doc.get("on", doc.get(True))  # PyYAML (YAML 1.1) reads the key `on` as True
    return {t: None} if isinstance(t, str) else dict.fromkeys(t) if isinstance(t, list) else t or {}


def as_list(v):
    return [v] if isinstance(v, str) else list(v or [])


def text(x):
    return yaml.safe_dump(x) if x else ""


def written(steps, sid, out):
    return any(s.get("id") == sid and re.search(r"\b%s=" % re.escape(out), s.get("run", "")) for s in steps)


def check_workflow(base, doc, root, targets):
    jobs = doc.get("jobs") or {}
    ok("%s: has a name, triggers and jobs" % base, doc.get("name") and triggers(doc) and jobs)
    for jid, job in jobs.items():
        steps = job.get("steps") or []
        bad = [s.get("name") for s in steps if ("uses" in s) == ("run" in s)
               or "uses" in s and not re.fullmatch(r"[\w.-]+/[\w./-]+@[\w.-]+", s["uses"])]
        ok("%s: job %s: runs-on, steps (each a pinned `uses` or a `run`), needs known jobs" % (base, jid),
           job.get("runs-on") and steps and not bad and all(n in jobs for n in as_list(job.get("needs"))), bad or job.keys())
        # An output read before it is written is an empty string on GitHub, not an error.
        unwritten = ["step %d reads steps.%s.outputs.%s" % (n + 1, sid, out) for n, s in enumerate(steps)
                     for sid, out in STEP_OUT.findall(text(s)) if not written(steps[:n], sid, out)]
        unwritten += ["output %s" % v for v in (job.get("outputs") or {}).values()
                      for sid, out in STEP_OUT.findall(v) if not written(steps, sid, out)]
        unwritten += ["needs.%s.outputs.%s" % (j, out) for j, out in NEEDS_OUT.findall(text(job))
                      if j not in as_list(job.get("needs")) or out not in (jobs.get(j, {}).get("outputs") or {})]
        ok("%s: job %s: every output it reads is written first" % (base, jid), not unwritten, unwritten)
        for n, step in enumerate(s for s in steps if "run" in s):
            label = "%s: job %s: run step '%s'" % (base, jid, step.get("name", n + 1))
            r = subprocess.run(["shellcheck", "-s", "bash", "-e", "SC2086,SC2129", "-"], input=EXPR.sub("PLACEHOLDER", step["run"]),
                               capture_output=True, text=True)
            absent = [t for group in MAKE.findall(step["run"]) for t in group.split()
                      if t not in targets and "=" not in t and not t.startswith("-")]
            absent += [p for p in PATHLIKE.findall(step["run"])
                       if not p.startswith(("../", "_site", "reports/runs/")) and not os.path.exists(os.path.join(root, p))]
            ok("%s: shellcheck passes, its make targets and files exist" % label, r.returncode == 0 and not absent,
               absent or r.stdout.strip()[:800])


def check_test(doc, root):
    with open(os.path.join(root, ".ci", "run")) as f:
        ci = f.read()
    ok("test.yml: on push, in Debian 12, runs .ci/run, which runs make test and make check-tools",
       "push" in triggers(doc) and "debian:12" in text(doc["jobs"]) and "bash .ci/run" in text(doc["jobs"])
       and re.search(r"^make test\b", ci, re.M) and re.search(r"^make check-tools\b", ci, re.M))


def check_stress(doc):
    jobs, perms = doc["jobs"], doc.get("permissions") or {}
    steps = jobs["stress"]["steps"]
    ok("stress.yml: runs on push and on demand; may write pages, id-token and contents (the archive branch)",
       {"push", "workflow_dispatch"} <= set(triggers(doc)) and all(perms.get(k) == "write" for k in ("pages", "id-token", "contents")))
    order = [next((n for n, s in enumerate(steps) if mark in text(s)), None) for mark in (
        "id: run", "compose -f compose.yml build", "compose -f compose.yml up", "127.0.0.1:9999/clientes", "grafana/setup-k6-action@",
        "k6 run k6/rinha.js", "reports/tools/report.py", REPLAYED[2], REPLAYED[-1], "actions/upload-pages-artifact@")]
    ok("stress.yml: name the run, build, up, wait for :9999, set up k6, k6, report.py, restore, lay out, upload to Pages",
       None not in order and order == sorted(order), order)
    k6 = steps[order[5]] if order[5] is not None else {}
    ok("stress.yml: k6 writes summary.json into the run folder; nothing asks k6 for its dashboard export (k6's code)",
       (k6.get("env") or {}).get("SUMMARY_PATH") == "${{ steps.run.outputs.dir }}/summary.json"
       and not re.search(r"(?i)dashboard", text(doc)), k6.get("env"))
    ok("stress.yml: k6's threshold exit (99) is recorded and does not stop the archiving",
       "exit_code=$rc" in k6.get("run", "") and "-ne 99" in k6.get("run", ""), k6.get("run"))
    paths = {s["uses"].split("@")[0]: (s.get("with") or {}).get("path") for s in steps if "uses" in s}
    ok("stress.yml: the run folder is a build artifact, _site the Pages artifact",
       paths.get("actions/upload-artifact") == "${{ steps.run.outputs.dir }}" and paths.get("actions/upload-pages-artifact") == "_site", paths)
    ok("stress.yml: deploy-pages after the run; the sla job fails on k6's exit code",
       jobs["deploy"].get("needs") == "stress" and "actions/deploy-pages@" in text(jobs["deploy"])
       and "needs.stress.outputs.k6_exit" in text(jobs["sla"]) and "exit 1" in text(jobs["sla"]))


def sh(cmd, cwd, env, check=True):
    return subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=check,
                          shell=isinstance(cmd, str))


def replay(doc, root):
    """stress.yml's scripts from naming the run to laying out the site, for
    two pushes (the first finds no archive branch) against a local bare
    repository holding what they use."""
    steps = {s.get("name"): s for s in doc["jobs"]["stress"]["steps"]}
    if not ok("stress.yml: the replayed steps are there", all(n in steps for n in REPLAYED), sorted(steps)):
        return
    tmp = tempfile.mkdtemp(prefix="workflows-check-")
    env = dict(os.environ, ARCHIVE_BRANCH=doc["env"]["ARCHIVE_BRANCH"],
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    with open(os.path.join(root, "k6", "test", "fixtures", "reference-rinha-summary.json")) as f:
        s = json.load(f)  # a real run's, less what k6/rinha.js cannot see
    k6_summary = dict(s, envelope=None, machine=None, levels=[dict(lv, services=None) for lv in s["levels"]])
    try:
        origin, seed = os.path.join(tmp, "origin"), os.path.join(tmp, "seed")
        sh(["git", "init", "-q", "--bare", "-b", "main", origin], tmp, env)
        sh(["git", "clone", "-q", origin, seed], tmp, env)
        for rel in SEEDED:
            (shutil.copytree if os.path.isdir(os.path.join(root, rel)) else shutil.copy)(os.path.join(root, rel), os.path.join(seed, rel))
        sh("git add -A && git commit -qm seed && git push -q origin HEAD:main", seed, env)
        ids = []
        for push in (1, 2):
            ws = os.path.join(tmp, "ws%d" % push, "repo")
            sh(["git", "clone", "-q", origin, ws], None, env)
            sh(["git", "commit", "-q", "--allow-empty", "-m", "push %d" % push], ws, env)
            outputs = {}
            for name in REPLAYED:
                script = steps[name]["run"].replace("sudo ", "")  # root here
                for k, v in outputs.items():
                    script = script.replace("${{ steps.run.outputs.%s }}" % k, v)
                r = sh(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], ws,
                       dict(env, GITHUB_OUTPUT=os.path.join(ws, "..", "out")), check=False)
                if not ok("stress.yml: push %d: step '%s' runs" % (push, name), r.returncode == 0, r.stdout[-600:]):
                    return
                if name == REPLAYED[0]:
                    with open(os.path.join(ws, "..", "out")) as f:
                        outputs = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
                    with open(os.path.join(ws, outputs["dir"], "summary.json"), "w") as f:
                        json.dump(k6_summary, f)
            ids.append(outputs["id"])
            with open(os.path.join(ws, outputs["dir"], "summary.json")) as f:
                s = json.load(f)
            ok("stress.yml: push %d: the run is named <UTC compact timestamp>-<7-char commit>, its summary completed "
               "with the envelope (enforced by docker) and the machine" % push,
               re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{7}", ids[-1]) and s["envelope"]["enforced"] == "docker"
               and s["envelope"]["services"] and s["machine"]["cpus"], (ids[-1], s["envelope"], s["machine"]))
            with open(os.path.join(ws, "_site", "index.html")) as f:
                links = [urllib.parse.unquote(h) for h in re.findall(r'href="(runs/[^"#]+)"', f.read())]
            broken = [h for h in links if not os.path.isfile(os.path.join(ws, "_site", h))]
            ok("stress.yml: push %d: the published site links the report.html of runs %s, every link resolves" % (push, ", ".join(ids)),
               {h.split("/")[1] for h in links} == set(ids) and not broken and all("runs/%s/report.html" % r in links for r in ids),
               broken or links)
        tree = sh(["git", "--git-dir", origin, "ls-tree", "-r", "--name-only", env["ARCHIVE_BRANCH"]], tmp, env, check=False).stdout
        ok("stress.yml: the archive branch holds both runs", {p.split("/")[1] for p in tree.split() if p.startswith("runs/")} == set(ids),
           tree[-400:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    root = ap.parse_args().root
    help_out = subprocess.run(["make", "-s", "--no-print-directory", "help"], cwd=root, capture_output=True, text=True).stdout
    targets = {line.split()[0] for line in help_out.splitlines() if line.strip()}
    docs = {}
    for path in sorted(glob.glob(os.path.join(root, ".github", "workflows", "*.yml"))):
        with open(path) as f:
            docs[os.path.basename(path)] = yaml.safe_load(f)  # yamllint has proven it parses
    if ok("workflows present: stress.yml and test.yml", {"stress.yml", "test.yml"} <= set(docs), sorted(docs)):
        for base, doc in docs.items():
            check_workflow(base, doc, root, targets)
        check_test(docs["test.yml"], root)
        check_stress(docs["stress.yml"])
        replay(docs["stress.yml"], root)
    passed = sum(results)
    print("workflows check: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
