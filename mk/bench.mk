# Load scenarios and the benchmark (issue 4): k6/, bench/, reports/tools/report.py.
# Every run is archived in reports/runs/<UTC timestamp>-<short commit>/.
.PHONY: bench bench-quick stress k6-rinha k6-check bench-deps compare compare-quick report-browser-test k6-runner-test

BENCH := /usr/bin/python3 bench/bench.py

# wrk, node, python3-yaml and pgbench (postgresql-client-15) are in
# scripts/deps.sh's base set.
bench-deps:
	scripts/deps.sh

# BENCH_REV=HEAD (or any commit): measure a clean export of that commit,
# built in var/bench-src/, instead of the working tree.
BENCH_REV ?=
BENCH_BUILD := $(if $(BENCH_REV),,all)
BENCH_ARGS := $(if $(BENCH_REV),--rev $(BENCH_REV),) $(if $(CONTINUOUS),--continuous,)
# The k6 runner's options go before the script's name: everything after it
# is passed to `k6 run`.
K6_ARGS := $(if $(BENCH_REV),--rev $(BENCH_REV),)

# ONE_CGROUP=1: the whole stack in one cgroup of 1.5 CPU / 550 MB instead of
# compose.yml's per-service split.
bench: bench-deps $(BENCH_BUILD) ## benchmark inside the envelope (cgroups): wrk levels + pgbench ceiling, ~3.5 min; archived in reports/runs/ (BENCH_REV=HEAD: a clean export; ONE_CGROUP=1: one cgroup, no split)
	$(BENCH) bench $(BENCH_ARGS) $(if $(ONE_CGROUP),--one-cgroup,)

bench-quick: bench-deps $(BENCH_BUILD) ## the ~25 s variant of make bench (CI)
	$(BENCH) bench --quick $(BENCH_ARGS) $(if $(ONE_CGROUP),--one-cgroup,)

stress: bench-deps $(BENCH_BUILD) ## k6/stress.js against the confined stack (needs k6 on the PATH)
	$(BENCH) k6 $(K6_ARGS) stress

k6-rinha: bench-deps $(BENCH_BUILD) ## k6/rinha.js, the official test, against the confined stack (needs k6; TIME_SCALE=0.1 for a short run)
	$(BENCH) k6 $(K6_ARGS) rinha

k6-check: bench-deps ## check the k6 scripts without k6 (driven in node on a fake server) and the benchmark's unit tests
	node --import ./k6/test/register.mjs --test k6/test/k6.test.mjs
	/usr/bin/python3 bench/test_bench.py

CHECK_TOOLS += k6-check

# make compare A=<rev> B=<rev> (default HEAD~1 and HEAD): both commits
# exported and built in var/bench-src/, then measured in turn, A B A B ...,
# each turn a fresh stack in its own compose.yml's split of the envelope at
# the same levels (LEVELS: only some of them); prints the ratios B/A of req/s,
# p50, p99 and max with their spread; archived in reports/runs/.
A ?= HEAD~1
B ?= HEAD
ROUNDS ?=
LEVELS ?=
COMPARE_ARGS = $(A) $(B) $(if $(ROUNDS),--rounds $(ROUNDS),) $(if $(LEVELS),--levels $(LEVELS),)

compare: bench-deps ## two commits interleaved (A B A B ..., 3 rounds) in the envelope: ratios B/A of req/s and p99 with their spread (A=<rev> B=<rev> ROUNDS=n LEVELS=r340,c64)
	$(BENCH) compare $(COMPARE_ARGS)

compare-quick: bench-deps ## make compare with one 2 s level at 64 connections and 2 rounds (~30 s plus the two builds)
	$(BENCH) compare --quick $(COMPARE_ARGS)

report-browser-test: ## browser test of report.html's time-series charts (headless Chromium through Selenium)
	scripts/deps.sh --only $(SITE_BROWSER)
	timeout 300 /usr/bin/python3 bench/test_report_browser.py

CHECK_TOOLS += report-browser-test

k6-runner-test: bench-deps all ## bench.py's k6 runner end to end with k6/test/fake-k6 standing in for k6 (starts the confined stack, ~10 s)
	/usr/bin/python3 bench/test_k6_runner.py

CHECK_TOOLS += k6-runner-test
