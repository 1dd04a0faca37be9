#!/usr/bin/env bash
# Revocation-barrier latency (BENCHMARKS.md): s4load admin-credentials
# (issue/revoke, both through the barrier) through the leader of a
# three-node cluster from scripts/cluster.sh up, at c in $CS (1 64) for $DUR
# (8s), $ROUNDS rounds (2), CPU of the three nodes summed.
#
#   scripts/bench-barrier.sh        HEAD alone: one cluster on the machine
#   scripts/bench-barrier.sh OLD    A/B: a cluster built from commit OLD and
#                                   one from HEAD, both up for the whole
#                                   run, measured alternately
#
# Stops only the clusters it started.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:-}
. scripts/lib-ab.sh
leaderport() { # base dir
  for i in 0 1 2; do
    if curl -s --cacert "$2/tls/cert.pem" "https://localhost:$(( $1 + i ))/health/ready" | grep -q '"role":"leader"'; then echo $(( $1 + i )); return; fi
  done
}
for round in $(seq "${ROUNDS:-2}"); do
  for v in "${builds[@]}"; do
    B=$(ab_base "$v") D=$W/c-$v
    P=$(leaderport "$B" "$D")
    for c in ${CS:-1 64}; do
      out=$("$W/s4load" -endpoint "https://localhost:$P" -cacert "$D/tls/cert.pem" -user root -password password12345 -scenario admin-credentials -c "$c" -duration "${DUR:-8s}" -users $(( c < 16 ? 16 : c )) -pid "$(cat "$D/n1.pid"),$(cat "$D/n2.pid"),$(cat "$D/n3.pid")" 2>/dev/null)
      echo "$round $v c=$c | $(grep -o '[0-9.]* ok/s' <<<"$out") | $(grep -o 'p50 [0-9.]*ms  p90 [0-9.]*ms  p99 [0-9.]*ms' <<<"$out") | $(grep -o '[0-9.]* CPU-s per 1000 requests' <<<"$out" | head -1)"
    done
  done
done
