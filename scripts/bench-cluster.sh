#!/usr/bin/env bash
# Three-node load run next to a single node, in one run (BENCHMARKS.md):
# starts one node (scripts/lib.sh) and a three-node cluster
# (scripts/cluster.sh up) on free loopback ports, a Writer key on each,
# then for every scenario given as "scenario:size" (default PUT/GET of
# 4 KiB and 1 MiB) runs s4load at concurrency $C (16) for $DUR (15s) first
# against the single node, then against the cluster with the workers spread
# over the three nodes and the CPU of the three processes summed; all of it
# $ROUNDS times (1), so that a noisy neighbour shows as a spread. With
# ROUNDS > 1 it prints one line per run.
# Stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
W=$(mktemp -d)
export S4_CLUSTER_DIR=$W/cluster
base=$((20000 + RANDOM % 20000))
export S4_BASE_PORT=$base S4_CLUSTER_BASE_PORT=$((base + 10))
trap 'stop_node; scripts/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$W"' EXIT

start_node "$W" >/dev/null
SINGLE_BASE=$BASE SINGLE_CA=$AWS_CA_BUNDLE
TOKEN=$(admin_token)
read -r SAK SSK <<<"$(issue_keys "$TOKEN" "$(new_user "$TOKEN" bench Writer)")"

scripts/cluster.sh up >/dev/null
BASE="https://localhost:$base" AWS_CA_BUNDLE=$S4_CLUSTER_DIR/tls/cert.pem
TOKEN=$(admin_token)
read -r CAK CSK <<<"$(issue_keys "$TOKEN" "$(new_user "$TOKEN" bench Writer)")"
CLUSTER_EPS="https://localhost:$base,https://localhost:$((base + 1)),https://localhost:$((base + 2))"
CLUSTER_PIDS=$(cat "$S4_CLUSTER_DIR"/n1.pid),$(cat "$S4_CLUSTER_DIR"/n2.pid),$(cat "$S4_CLUSTER_DIR"/n3.pid)
go build -o "$W/s4load" ./cmd/s4load

runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(s3-put:4KiB s3-get:4KiB s3-put:1MiB s3-get:1MiB)
load() { "$W/s4load" -c "${C:-16}" -duration "${DUR:-15s}" -scenario "$1" -size "$2" "${@:3}" 2>/dev/null; }
brief() { echo "$(grep -o '[0-9.]* ok/s' <<<"$1") | $(grep -o '[0-9]* errors' <<<"$1" | head -1) | $(grep -o 'p50 [0-9.]*ms  p90 [0-9.]*ms  p99 [0-9.]*ms' <<<"$1") | $(grep -o '[0-9.]* CPU-s per 1000 requests' <<<"$1" | head -1)"; }
full() { grep -E '^  |requests|throughput|payload|latency|server CPU' <<<"$1"; }
for round in $(seq "${ROUNDS:-1}"); do
  for r in "${runs[@]}"; do
    scenario=${r%%:*} size=${r#*:}
    one=$(load "$scenario" "$size" -endpoint "$SINGLE_BASE" -cacert "$SINGLE_CA" -pid "$NODE_PID" \
      -access-key "$SAK" -secret-key "$SSK")
    three=$(load "$scenario" "$size" -endpoint "$CLUSTER_EPS" -cacert "$S4_CLUSTER_DIR/tls/cert.pem" -pid "$CLUSTER_PIDS" \
      -access-key "$CAK" -secret-key "$CSK")
    if [ "${ROUNDS:-1}" -gt 1 ]; then
      echo "$round $r one node    | $(brief "$one")"
      echo "$round $r three nodes | $(brief "$three")"
    else
      echo "== $scenario $size, one node (c=${C:-16}, ${DUR:-15s}) $(git rev-parse --short HEAD)"
      full "$one"
      echo "== $scenario $size, three nodes (workers over n1-n3, CPU of the three summed)"
      full "$three"
    fi
  done
done
