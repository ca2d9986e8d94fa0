#!/usr/bin/env bash
# A private, loopback-only Docker engine for the compose stack, started by
# hand (no systemd, no service), and the local debian:bookworm-slim base.
#
#   scripts/compose-dockerd.sh install     apt-get the Debian packages if missing
#   scripts/compose-dockerd.sh start       start dockerd (returns when it answers)
#   scripts/compose-dockerd.sh stop        stop it (by the PID it recorded)
#   scripts/compose-dockerd.sh base-image  create debian:bookworm-slim if absent
#   scripts/compose-dockerd.sh env         print the DOCKER_HOST line to eval
#   scripts/compose-dockerd.sh purge       stop it and delete its images and cache
#
# The engine changes nothing outside its own folders: no iptables rules
# (--iptables=false), no default bridge (--bridge=none), no ip_forward sysctl
# (--ip-forward=false); containers use the host's network namespace
# (network_mode: host in compose.yml), so no network of its own is needed.
# Its socket, state and images live apart from any system Docker:
#   socket  /run/rinha-dockerd/docker.sock   (DOCKER_HOST)
#   state   /run/rinha-dockerd/              (exec root, pid file)
#   images  /var/lib/rinha-docker            (kept between runs as a cache)
# Logs: var/log/dockerd.log.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
RUN=/run/rinha-dockerd
DATA_ROOT=${RINHA_DOCKER_ROOT:-/var/lib/rinha-docker}
SOCK=$RUN/docker.sock
PIDFILE=$RUN/dockerd.pid
LOG=$repo/var/log/dockerd.log
BASE_IMAGE=debian:bookworm-slim
# Debian's client, not another docker that may come first in PATH.
DOCKER=/usr/bin/docker
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export DOCKER_HOST=unix://$SOCK

say() { printf 'compose-dockerd: %s\n' "$*"; }
die() { printf 'compose-dockerd: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

cmd_install() {
    # No service starts during the install (deps.sh): no dockerd with its
    # default bridge and iptables rules.
    "$repo/scripts/deps.sh" --only docker.io docker-compose debootstrap
    # Where systemd runs, the package enables its units: this engine is only
    # ever started by hand, so they stay disabled (no bridge at next boot).
    if command -v systemctl >/dev/null; then
        systemctl disable docker.service docker.socket containerd.service >/dev/null 2>&1 || true
    fi
}

pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE" || true; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
answers() { "$DOCKER" version >/dev/null 2>&1; }

cmd_start() {
    [ -x /usr/sbin/dockerd ] || die "dockerd missing (scripts/compose-dockerd.sh install)"
    if alive "$(pid)"; then say "already running (pid $(pid))"; return 0; fi
    mkdir -p "$RUN" "$DATA_ROOT" "$(dirname "$LOG")"
    chmod 0700 "$RUN"
    # Its own configuration file (not /etc/docker/daemon.json), which also
    # keeps the engine's identity key out of /etc/docker.
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$DATA_ROOT" >"$RUN/daemon.json"
    # Open files: at most the hard limit this process may have (raising it
    # needs CAP_SYS_RESOURCE, which the machine may not give).
    local nofile
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=1048576
    /usr/sbin/dockerd \
        --host "unix://$SOCK" --group root \
        --config-file "$RUN/daemon.json" --data-root "$DATA_ROOT" --exec-root "$RUN/exec" --pidfile "$PIDFILE" \
        --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --ip=127.0.0.1 --userland-proxy=false \
        --default-ulimit "nofile=$nofile:$nofile" \
        --log-level=warn --log-driver=json-file --log-opt max-size=10m \
        >>"$LOG" 2>&1 &
    local d=$! i
    for ((i = 0; i < 300; i++)); do
        answers && { say "dockerd up (pid $d, socket $SOCK)"; return 0; }
        alive "$d" || die "dockerd exited: see $LOG"
        sleep 0.1
    done
    kill -TERM "$d" 2>/dev/null || true
    die "dockerd did not answer within 30 s: see $LOG"
}

cmd_stop() {
    local p i
    p=$(pid)
    if alive "$p"; then
        kill -TERM "$p"
        for ((i = 0; i < 300; i++)); do alive "$p" || break; sleep 0.1; done
        if alive "$p"; then say "dockerd did not stop in 30 s; killing it"; kill -KILL "$p" 2>/dev/null || true; fi
        say "dockerd stopped"
    fi
    rm -f "$PIDFILE" "$SOCK"
    # Nothing of the engine may stay mounted (container layers, shm).
    grep -E " ($DATA_ROOT|$RUN)[/ ]" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    rm -rf "$RUN"
}

# The mirror and suites apt uses here, as "URI suite" lines for bookworm.
apt_sources() {
    apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null |
        awk '$3 == "deb" && $2 ~ /^bookworm(-updates|-security)?$/ { print $1, $2 }' | sort -u
}

cmd_base_image() {
    if "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        return 0
    fi
    local mirror root
    mirror=$(apt_sources | awk '$2 == "bookworm" { print $1; exit }')
    [ -n "$mirror" ] || die "no bookworm mirror in apt's sources"
    root=$repo/build/docker-rootfs
    say "creating $BASE_IMAGE: debootstrap --variant=minbase bookworm from $mirror"
    rm -rf "$root"
    mkdir -p "$root"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$repo/var/log/debootstrap.log" 2>&1 ||
        die "debootstrap failed: see var/log/debootstrap.log"
    # What the official image carries that builds rely on: the same apt
    # sources (bookworm, -updates, -security) and no service starts inside
    # builds. (Not its trimmed docs and locales: only its size differs.)
    {
        echo "Types: deb"
        echo "URIs: $mirror"
        echo "Suites: bookworm bookworm-updates"
        echo "Components: main"
        echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
        apt_sources | awk '$2 == "bookworm-security" { print ""; print "Types: deb"; print "URIs: " $1;
            print "Suites: bookworm-security"; print "Components: main";
            print "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"; exit }'
    } >"$root/etc/apt/sources.list.d/debian.sources"
    rm -rf "$root/etc/apt/sources.list" "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 0755 "$root/usr/sbin/policy-rc.d"
    # /dev, /proc and /sys are provided by the engine.
    tar -C "$root" --numeric-owner --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -c . |
        "$DOCKER" import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$root"
    say "created $BASE_IMAGE ($("$DOCKER" image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    base-image) cmd_base_image ;;
    env) echo "export DOCKER_HOST=$DOCKER_HOST" ;;
    purge) cmd_stop && rm -rf "$DATA_ROOT" && say "removed $DATA_ROOT" ;;
    *) echo "usage: $0 install|start|stop|base-image|env|purge" >&2; exit 2 ;;
esac
