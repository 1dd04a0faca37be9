#!/usr/bin/env bash
# Revocation-barrier latency A/B (BENCHMARKS.md): two three-node clusters from
# scripts/cluster.sh up, one built from commit OLD and one from HEAD, both up
# for the whole run; s4load admin-credentials (issue/revoke, both through the
# barrier) through each leader, alternating, at c in $CS (1 64) for $DUR (8s),
# two rounds, CPU of the three nodes summed. Usage: scripts/bench-barrier.sh OLD
# Stops only the clusters it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OLD=$1
W=$(mktemp -d)
git -C "$ROOT" worktree add -q "$W/old" "$OLD"
git -C "$ROOT" worktree add -q "$W/new" HEAD
(cd "$ROOT" && go build -o "$W/s4load" ./cmd/s4load)
up() { (cd "$W/$1" && S4_CLUSTER_DIR=$W/c-$1 S4_BASE_PORT=$2 S4_CLUSTER_BASE_PORT=$(( $2 + 10 )) scripts/cluster.sh up >/dev/null); }
down() { (cd "$W/$1" && S4_CLUSTER_DIR=$W/c-$1 S4_BASE_PORT=$2 S4_CLUSTER_BASE_PORT=$(( $2 + 10 )) scripts/cluster.sh down >/dev/null) || true; }
BO=$((21000 + RANDOM % 5000)); BN=$((BO + 100))
trap 'down old $BO; down new $BN; git -C "$ROOT" worktree remove --force "$W/old"; git -C "$ROOT" worktree remove --force "$W/new"; rm -rf "$W"' EXIT
up old $BO; up new $BN
leaderport() { # base dir
  for i in 0 1 2; do
    if curl -s --cacert "$2/tls/cert.pem" "https://localhost:$(( $1 + i ))/health/ready" | grep -q '"role":"leader"'; then echo $(( $1 + i )); return; fi
  done
}
for round in 1 2; do
  for v in old new; do
    if [ $v = old ]; then B=$BO; else B=$BN; fi
    D=$W/c-$v; P=$(leaderport $B $D)
    for c in ${CS:-1 64}; do
      out=$("$W/s4load" -endpoint https://localhost:$P -cacert $D/tls/cert.pem -user root -password password12345 -scenario admin-credentials -c $c -duration ${DUR:-8s} -users $(( c < 16 ? 16 : c )) -pid "$(cat $D/n1.pid),$(cat $D/n2.pid),$(cat $D/n3.pid)" 2>/dev/null)
      echo "$round $v c=$c | $(grep -o '[0-9.]* ok/s' <<<"$out") | $(grep -o 'p50 [0-9.]*ms  p90 [0-9.]*ms  p99 [0-9.]*ms' <<<"$out") | $(grep -o '[0-9.]* CPU-s per 1000 requests' <<<"$out" | head -1)"
    done
  done
done
