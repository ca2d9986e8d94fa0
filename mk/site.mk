# The reports site (reports/index.html), its browser test, and the GitHub
# workflows' check. Python 3 standard library (Debian's /usr/bin/python3);
# the browser test installs Debian's chromium when it is missing.
SITE_PYTHON ?= /usr/bin/python3
SITE_RUNS   ?= reports/runs
SITE_OUT    ?= reports/index.html

.PHONY: site test-site workflows-check site-screenshot

site: ## build the reports site (reports/index.html) from reports/runs/*/summary.json
	$(SITE_PYTHON) reports/tools/site.py --runs $(SITE_RUNS) --out $(SITE_OUT)

test-site: ## browser test of the site on fixture runs (headless Chromium; screenshot in build/site-test/)
	tests/site/run.sh

workflows-check: ## check .github/workflows: valid YAML, make targets and paths they use exist
	tests/site/workflows_check.sh

TEST_EXTRA += test-site workflows-check

site-screenshot: site ## rebuild the site and screenshot it into docs/site.png (the README's picture)
	$(SITE_PYTHON) tests/site/screenshot.py $(SITE_OUT) docs/site.png
