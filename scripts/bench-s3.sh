#!/usr/bin/env bash
# Load run of the S3 API of one node, as in BENCHMARKS.md: builds s4 and
# s4load, starts a node on free loopback ports in a temp dir, creates a
# Writer and its key, then runs each scenario given as "scenario:size"
# (default: the five of BENCHMARKS.md) at concurrency $C (16) for $DUR (15s)
# and prints s4load's report with the server's CPU per 1000 requests.
# Stops only the node it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
W=$(mktemp -d)
trap 'stop_node; rm -rf "$W"' EXIT
start_node "$W" >/dev/null
go build -o "$W/s4load" ./cmd/s4load
TOKEN=$(admin_token)
read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <<<"$(issue_keys "$TOKEN" "$(new_user "$TOKEN" bench Writer)")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(s3-head-bucket s3-get:4KiB s3-put:4KiB s3-get:1MiB s3-put:1MiB)
for r in "${runs[@]}"; do
  scenario=${r%%:*} size=${r#*:}
  [ "$size" = "$r" ] && size=4KiB
  echo "== $scenario $size (c=${C:-16}, ${DUR:-15s}) $(git rev-parse --short HEAD)"
  "$W/s4load" -endpoint "$BASE" -cacert "$AWS_CA_BUNDLE" -c "${C:-16}" -duration "${DUR:-15s}" \
    -pid "$NODE_PID" -scenario "$scenario" -size "$size"
done
