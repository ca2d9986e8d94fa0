#!/usr/bin/env bash
# The site's browser test: installs headless Chromium from Debian when it is
# missing (idempotent; root), then runs tests/site/browser_test.py.
set -euo pipefail
cd "$(dirname "$0")/../.."

# scripts/deps.sh installs what is missing (the project's base set and these).
scripts/deps.sh chromium fonts-dejavu-core

exec timeout 300 /usr/bin/python3 tests/site/browser_test.py --out "${SITE_TEST_OUT:-build/site-test}" "$@"
