# The reports site (reports/index.html), its browser test, and the GitHub
# workflows' check. Python 3 standard library (Debian's /usr/bin/python3);
# the browser test and the screenshot drive Debian's headless Chromium with
# Selenium, installed when missing.
SITE_PYTHON ?= /usr/bin/python3
SITE_RUNS   ?= reports/runs
SITE_OUT    ?= reports/index.html
SITE_BROWSER := chromium chromium-driver python3-selenium fonts-dejavu-core

.PHONY: site test-site workflows-check site-screenshot

site: ## build the reports site (reports/index.html) from reports/runs/*/summary.json
	$(SITE_PYTHON) reports/tools/site.py --runs $(SITE_RUNS) --out $(SITE_OUT)

test-site: ## browser test of the site on fixture runs (headless Chromium; screenshot in build/site-test/)
	scripts/deps.sh --only $(SITE_BROWSER)
	timeout 300 $(SITE_PYTHON) -m pytest -q -p no:cacheprovider tests/site

workflows-check: ## check .github/workflows: yamllint, then what it cannot see (.github/checks/workflows.py)
	scripts/deps.sh --only yamllint shellcheck python3-yaml
	yamllint --strict -c .github/checks/yamllint.yml .github
	$(SITE_PYTHON) .github/checks/workflows.py

CHECK_TOOLS += test-site workflows-check

site-screenshot: site ## rebuild the site and screenshot it into docs/site.png (the README's picture)
	scripts/deps.sh --only $(SITE_BROWSER)
	$(SITE_PYTHON) reports/tools/screenshot.py $(SITE_OUT) docs/site.png
