#!/usr/bin/env bash
# Checks .github/workflows (tests/site/check_workflows.py). Installs its
# Debian packages when missing (python3-yaml, shellcheck; root).
set -euo pipefail
cd "$(dirname "$0")/../.."

# scripts/deps.sh installs what is missing (the project's base set and these).
scripts/deps.sh shellcheck

exec /usr/bin/python3 tests/site/check_workflows.py "$@"
