#!/usr/bin/env bash
# `make submission`: writes the folder to copy into the official repository
# (zanfranceschi/rinha-de-backend-2024-q1) as participantes/<name>/:
#   docker-compose.yml  compose.yml with the published images instead of builds
#   nginx.conf          the load balancer's configuration (baked into the image)
#   postgresql.conf     the database settings (baked into the image)
#   script.sql          schema, seed and procedures (baked into the image)
#   README.md           who, the stack, the link to the source
#
# Environment:
#   SUBMISSION_NAME  folder name (default crebitos-c)
#   SUBMISSION_DIR   where to write it (default build/submission)
#   IMAGE_PREFIX     image name prefix (default the one in compose.yml)
#   IMAGE_TAG        image tag (default the one in compose.yml)
#   SOURCE_URL       link to the source (default: git remote origin)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
name=${SUBMISSION_NAME:-crebitos-c}
out=${SUBMISSION_DIR:-$repo/build/submission}/$name

source_url=${SOURCE_URL:-}
if [ -z "$source_url" ]; then
    source_url=$(git -C "$repo" remote get-url origin 2>/dev/null || true)
fi
# git@host:owner/repo(.git) -> https://host/owner/repo
source_url=$(printf '%s' "${source_url%.git}" | sed -E 's#^git@([^:]+):#https://\1/#')
if [ -z "$source_url" ]; then
    source_url="https://github.com/OWNER/crebitos-c"
    echo "submission: warning: no SOURCE_URL and no git remote; the README links to $source_url" >&2
fi
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)

rm -rf "$out"
mkdir -p "$out"

/usr/bin/python3 - "$repo/compose.yml" "$out/docker-compose.yml" "$commit" "$repo/scripts" <<'EOF'
import sys
import yaml

src, dst, commit, scripts = sys.argv[1:5]
sys.path.insert(0, scripts)
import envelope  # compose.yml as compose reads it (interpolated)

doc = envelope.load(src)
for name, svc in doc["services"].items():
    svc.pop("build", None)
    if not svc.get("image"):
        sys.exit(f"submission: service {name} has no image")

class Dumper(yaml.SafeDumper):
    pass
# Keep the order of compose.yml and write None as an empty value.
Dumper.add_representer(type(None), lambda d, _: d.represent_scalar("tag:yaml.org,2002:null", ""))
body = yaml.dump(doc, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=200)
head = (
    "# Crébitos in C: Rinha de Backend 2024/Q1 submission (source commit %s).\n"
    "# Generated from compose.yml by `make submission`: every image is public.\n"
    "# nginx :9999 -> two C replicas -> PostgreSQL 15, all in the host network,\n"
    "# talking over unix sockets in the shared volume `run` (/run/rinha).\n" % commit
)
open(dst, "w").write(head + body)
EOF

cp "$repo/nginx/nginx.conf" "$out/nginx.conf"
cp "$repo/db/postgresql.conf" "$out/postgresql.conf"
{
    echo "-- Schema, seed and procedures, in the order the database image loads them"
    echo "-- (db/init.sh). Baked into the db image; kept here for the reviewers."
    for f in "$repo"/db/[0-9][0-9]-*.sql; do
        printf '\n-- %s\n' "db/$(basename "$f")"
        cat "$f"
    done
} >"$out/script.sql"

images=$(awk '/^ *image:/ { print $2 }' "$out/docker-compose.yml" | sort -u)
limits=$(/usr/bin/python3 "$repo/scripts/envelope.py" limits "$out/docker-compose.yml" |
    awk '{ printf "| %s | %s | %sMB |\n", $1, $2, $3 }')

cat >"$out/README.md" <<EOF
# Crébitos in C

Submission to the Rinha de Backend 2024/Q1.

## Stack

- **API**: C (one event loop per replica with h2o, libjansson for JSON),
  two replicas; each keeps one pipelined libpq connection and settles every
  request that arrives during a round trip in one database commit.
- **Database**: PostgreSQL 15 (Debian), stored procedures decide each
  credit or debit atomically; durable commits (\`fsync\` and
  \`synchronous_commit\` on).
- **Load balancer**: nginx (Debian), \`least_conn\` over keep-alive upstreams.
- All services in the host network; the replicas and PostgreSQL talk over
  unix sockets in a shared volume; only nginx listens on TCP (:9999).

## Resources

| service | cpus | memory |
|---|---|---|
$limits

## Images

$(printf -- '- `%s`\n' $images)

All built on \`debian:bookworm-slim\` from the Dockerfiles in the source.

## Source

$source_url (commit \`$commit\`)
EOF

echo "submission: wrote $out"
ls -1 "$out" | sed 's/^/  /'
