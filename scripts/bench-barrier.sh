#!/usr/bin/env bash
# Revocation-barrier latency (BENCHMARKS.md): s4load admin-credentials
# (issue/revoke, both through the barrier) through the leader of a
# three-node cluster from scripts/cluster.sh up, at c in $CS (1 64) for $DUR
# (8s), $ROUNDS rounds (2), CPU of the three nodes summed. After each run
# it asks every node one history question (GET /api/admin/events?limit=1),
# which first builds the IAM history's indexes that the run left pending
# (meta/history_queue.go; a node builds them on its own only after 100 ms
# without an apply), and reports what that took: its CPU-seconds summed
# over the nodes, and the CPU per 1,000 events of the run and the build
# together, so that work left for later is counted in the run that left it.
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
declare -A toks
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
HZ=$(getconf CLK_TCK)
for round in $(seq "${ROUNDS:-2}"); do
  for v in "${builds[@]}"; do
    B=$(ab_base "$v") D=$W/c-$v
    P=$(leaderport "$B" "$D")
    for c in ${CS:-1 64}; do
      pids=("$(cat "$D/n1.pid")" "$(cat "$D/n2.pid")" "$(cat "$D/n3.pid")")
      tok=${toks[$v]:=$(curl -s --cacert "$D/tls/cert.pem" -X POST "https://localhost:$P/api/admin/login" -H 'Content-Type: application/json' \
        -d '{"username":"root","password":"password12345"}' | jq -r .token)}
      out=$("$W/s4load" -endpoint "https://localhost:$P" -cacert "$D/tls/cert.pem" -user root -password password12345 -scenario admin-credentials -c "$c" -duration "${DUR:-8s}" -users $(( c < 16 ? 16 : c )) -pid "$(cat "$D/n1.pid"),$(cat "$D/n2.pid"),$(cat "$D/n3.pid")" 2>/dev/null)
      t0=$(ticks "${pids[@]}") s0=$(date +%s%N)
      for i in 0 1 2; do
        curl -sf --cacert "$D/tls/cert.pem" -H "Authorization: Bearer $tok" "https://localhost:$((B + i))/api/admin/events?limit=1" >/dev/null || true # a build before the history answers 404
      done
      cu=$(( $(ticks "${pids[@]}") - t0 )) ms=$(( ($(date +%s%N) - s0) / 1000000 ))
      cpu=$(grep -o 'server CPU *[0-9.]* CPU-s' <<<"$out" | grep -o '[0-9.]*' | head -1)
      n=$(grep -o 'requests *[0-9]* total' <<<"$out" | grep -o '[0-9]*')
      echo "$round $v c=$c | $(grep -o '[0-9.]* ok/s' <<<"$out") | $(grep -o 'p50 [0-9.]*ms  p90 [0-9.]*ms  p99 [0-9.]*ms' <<<"$out") | $(grep -o '[0-9.]* CPU-s per 1000 requests' <<<"$out" | head -1) | history question $ms ms, $(awk -v c="$cu" -v hz="$HZ" 'BEGIN{printf "%.2f", c/hz}') CPU-s | with it $(awk -v a="$cpu" -v c="$cu" -v hz="$HZ" -v n="$n" 'BEGIN{printf "%.3f", (a + c/hz)/n*1000}') CPU-s per 1000"
    done
  done
done
