#!/usr/bin/env bash
# Checks .github/workflows (tests/site/check_workflows.py). Installs its
# Debian packages when missing (python3-yaml, shellcheck; root).
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
for p in python3 python3-yaml shellcheck; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "workflows-check: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "workflows-check: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

exec /usr/bin/python3 tests/site/check_workflows.py "$@"
