#!/usr/bin/env bash
# The project's one installer: installs the Debian packages it needs, only
# those missing. Debian 12 (bookworm), as root. Idempotent and quiet when all
# is there. No service starts during an install (no system nginx on :80, no
# system PostgreSQL, no dockerd with its bridge): the project starts its own.
#
#   scripts/deps.sh [PKG...]          the base set, plus PKG...
#   scripts/deps.sh --only PKG...     only PKG... (a component's own needs,
#                                     e.g. chromium for the site's browser test)
set -euo pipefail

packages=(
    build-essential pkg-config
    libh2o-evloop-dev libpq-dev libjansson-dev check      # the server and its unit tests
    postgresql-15 postgresql-client-15                    # the database
    postgresql-server-dev-15                              # its C functions (db/c)
    nginx-light                                           # the load balancer
    python3 python3-pytest curl iproute2                  # the integration tests
    cppcheck clang-format clang-tidy clang libclang-rt-14-dev  # lint, fuzzing (libFuzzer)
    wrk nodejs python3-yaml                               # load (faults, bench), k6 checks, compose.yml reading
)
if [ "${1:-}" = --only ]; then
    packages=("${@:2}")
else
    packages+=("$@")
fi

missing=()
for p in "${packages[@]}"; do
    case "$p" in
        nginx-light) command -v nginx >/dev/null && continue ;; # transitional on some releases: any nginx will do
        nodejs) command -v node >/dev/null && continue ;;       # any Node.js will do for the k6 script checks
    esac
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
# Debian's policy-rc.d hook: exit 101 forbids every service start. Only a
# hook made here is removed again.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
