#!/usr/bin/env bash
# The site's browser test: installs headless Chromium from Debian when it is
# missing (idempotent; root), then runs tests/site/browser_test.py.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(chromium fonts-dejavu-core python3)
missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-site: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "test-site: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

exec timeout 300 /usr/bin/python3 tests/site/browser_test.py --out "${SITE_TEST_OUT:-build/site-test}" "$@"
