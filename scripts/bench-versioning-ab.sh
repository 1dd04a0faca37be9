#!/usr/bin/env bash
# Versioned next to unversioned bucket on one node (BENCHMARKS.md
# "Versioning on the hot path"): one node built from HEAD; each
# "scenario:size" argument runs against an unversioned bucket, then against
# one with versioning enabled (s4load -versioning), taking turns, $DUR (10s)
# at c=16, $ROUNDS (3) rounds; server CPU-seconds per 1,000 requests from
# the node's PID. Stops only the node it started.
# Usage: scripts/bench-versioning-ab.sh s3-put:4KiB s3-get:4KiB
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
W=$(mktemp -d)
trap 'stop_node; rm -rf "$W"' EXIT
go build -o "$W/s4load" ./cmd/s4load
start_node "$W"
t=$(admin_token)
read -r A S <<<"$(issue_keys "$t" "$(new_user "$t" bench Writer)")"
for round in $(seq "${ROUNDS:-3}"); do
  for r in "$@"; do
    sc=${r%%:*} sz=${r#*:}
    for v in plain versioned; do
      flags=(-bucket "bench-$v")
      [ "$v" = plain ] || flags+=(-versioning)
      out=$("$W/s4load" -endpoint "$BASE" -cacert "$AWS_CA_BUNDLE" -c 16 -duration "${DUR:-10s}" -pid "$NODE_PID" \
        -scenario "$sc" -size "$sz" -access-key "$A" -secret-key "$S" "${flags[@]}" 2>/dev/null)
      echo "$round $v $sc $sz | $(grep -o '[0-9.]* ok/s' <<<"$out") | p50 $(grep -o 'p50 [0-9.]*ms' <<<"$out" | cut -d' ' -f2) | $(awk '/^requests/{n=$2} /^server CPU/{c=$3} END{if (n) printf "%.4f CPU-s per 1000 (%.2f CPU-s / %d)", 1000*c/n, c, n}' <<<"$out")"
    done
  done
done
