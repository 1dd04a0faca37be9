#!/usr/bin/env bash
# Where a three-node PUT's CPU goes, node by node (BENCHMARKS.md): a cluster
# from scripts/cluster.sh up on free loopback ports and a Writer key; for
# every "scenario:size" argument, s4load at concurrency $C (16) for $DUR
# (15s) with every worker on one node, first the leader, then a follower
# (which forwards its events to the leader), $ROUNDS times (1). Prints each
# node's CPU-seconds per 1,000 requests (utime+stime from /proc/PID/stat
# over the run) with its role: "took" is the node the requests went to.
# Stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
W=$(mktemp -d)
export S4_CLUSTER_DIR=$W/cluster
base=$((20000 + RANDOM % 20000))
export S4_BASE_PORT=$base S4_CLUSTER_BASE_PORT=$((base + 10))
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
scripts/cluster.sh up >/dev/null
BASE="https://localhost:$base" AWS_CA_BUNDLE=$S4_CLUSTER_DIR/tls/cert.pem
TOKEN=$(admin_token)
read -r AK SK <<<"$(issue_keys "$TOKEN" "$(new_user "$TOKEN" bench Writer)")"
go build -o "$W/s4load" ./cmd/s4load
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
role() { curl -s --cacert "$AWS_CA_BUNDLE" "https://localhost:$((base + $1 - 1))/health/ready" | grep -o '"role":"[a-z]*"' | cut -d'"' -f4; }
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(s3-put:4KiB s3-put:1MiB)
for round in $(seq "${ROUNDS:-1}"); do
  for r in "${runs[@]}"; do
    scenario=${r%%:*} size=${r#*:}
    leader=0 follower=0
    for i in 1 2 3; do
      if [ "$(role "$i")" = leader ]; then leader=$i; elif [ $follower = 0 ]; then follower=$i; fi
    done
    for target in $leader $follower; do
      declare -A before=()
      for i in 1 2 3; do before[$i]=$(ticks "$(cat "$S4_CLUSTER_DIR/n$i.pid")"); done
      out=$("$W/s4load" -c "${C:-16}" -duration "${DUR:-15s}" -scenario "$scenario" -size "$size" \
        -endpoint "https://localhost:$((base + target - 1))" -cacert "$AWS_CA_BUNDLE" -access-key "$AK" -secret-key "$SK" 2>/dev/null)
      n=$(grep -o 'requests *[0-9]* total' <<<"$out" | grep -o '[0-9]*')
      line="$round $r to the $(role "$target") | $(grep -o '[0-9.]* ok/s' <<<"$out") |"
      total=0
      for i in 1 2 3; do
        d=$(( $(ticks "$(cat "$S4_CLUSTER_DIR/n$i.pid")") - before[$i] ))
        total=$((total + d))
        tag=$(role "$i"); [ "$i" = "$target" ] && tag="$tag, took"
        line="$line n$i ($tag) $(awk -v d="$d" -v n="$n" -v hz="$HZ" 'BEGIN{printf "%.3f", d/hz/n*1000}') |"
      done
      echo "$line sum $(awk -v d="$total" -v n="$n" -v hz="$HZ" 'BEGIN{printf "%.3f", d/hz/n*1000}') CPU-s per 1,000 ($n requests)"
    done
  done
done
