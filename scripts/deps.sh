#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing.
# Debian 12 (bookworm), as root. Idempotent and quiet when all is there.
set -euo pipefail

packages=(
    build-essential pkg-config
    libh2o-evloop-dev libpq-dev libjansson-dev check      # the server and its unit tests
    postgresql-15 postgresql-client-15                    # the database
    nginx-light                                           # the load balancer
    python3 python3-pytest curl iproute2                  # the integration tests
    cppcheck clang-format clang-tidy clang libclang-rt-14-dev  # lint, fuzzing (libFuzzer)
    wrk nodejs python3-yaml                               # load (faults, bench), k6 checks, compose.yml reading
)
# Extra packages a component needs only for itself (e.g. chromium for the
# site's browser test) can be passed as arguments.
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
    # nginx-light is a transitional package on some releases: any nginx will do.
    if [ "$p" = nginx-light ] && command -v nginx >/dev/null 2>&1; then
        continue
    fi
    # Any Node.js on the PATH will do for the k6 script checks.
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then
        continue
    fi
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
