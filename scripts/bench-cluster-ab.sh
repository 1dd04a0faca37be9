#!/usr/bin/env bash
# Three-node S3 load A/B (BENCHMARKS.md): two three-node clusters from
# scripts/cluster.sh up, one built from commit OLD and one from HEAD, both up
# for the whole run; for every scenario given as "scenario:size" (default
# PUT/GET of 4 KiB and 1 MiB) s4load runs at concurrency $C (16) for $DUR
# (10s) on each cluster in turn, $ROUNDS rounds (2), the workers spread over
# the three nodes and the CPU of the three processes summed.
# Usage: scripts/bench-cluster-ab.sh OLD [scenario:size ...]
# Stops only the clusters it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
OLD=$1
shift
. scripts/lib-ab.sh
declare -A AK SK
for v in old new; do
  BASE="https://localhost:$(ab_base $v)" AWS_CA_BUNDLE=$W/c-$v/tls/cert.pem
  TOKEN=$(admin_token)
  read -r AK[$v] SK[$v] <<<"$(issue_keys "$TOKEN" "$(new_user "$TOKEN" bench Writer)")"
done
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(s3-put:4KiB s3-get:4KiB s3-put:1MiB s3-get:1MiB)
for round in $(seq "${ROUNDS:-2}"); do
  for r in "${runs[@]}"; do
    for v in old new; do
      B=$(ab_base $v) D=$W/c-$v
      out=$("$W/s4load" -c "${C:-16}" -duration "${DUR:-10s}" -scenario "${r%%:*}" -size "${r#*:}" \
        -endpoint "https://localhost:$B,https://localhost:$((B + 1)),https://localhost:$((B + 2))" \
        -cacert "$D/tls/cert.pem" -pid "$(cat "$D/n1.pid"),$(cat "$D/n2.pid"),$(cat "$D/n3.pid")" \
        -access-key "${AK[$v]}" -secret-key "${SK[$v]}" 2>/dev/null)
      echo "$round $r $v | $(grep -o '[0-9.]* ok/s' <<<"$out") | $(grep -o '[0-9]* errors' <<<"$out" | head -1) | $(grep -o 'p50 [0-9.]*ms  p90 [0-9.]*ms  p99 [0-9.]*ms' <<<"$out") | $(grep -o '[0-9.]* CPU-s per 1000 requests' <<<"$out" | head -1)"
    done
  done
done
