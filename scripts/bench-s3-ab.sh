#!/usr/bin/env bash
# Single-node S3 load A/B (BENCHMARKS.md): one node built from commit OLD and
# one from HEAD, both up for the whole run; each "scenario:size" argument runs
# against one then the other, $DUR (10s) at c=16, $ROUNDS (2) rounds.
# Usage: scripts/bench-s3-ab.sh OLD s3-put:4KiB s3-put:1MiB
# ACCESS_LOG=1 adds a third node, HEAD with --access-log (to a file), to
# each round. VARIANTS="name=--flag=value[,--flag=value] ..." adds one more
# HEAD node per entry, started with those flags (e.g.
# VARIANTS="blob=--inline-threshold=0 inl256=--inline-threshold=262144").
# Stops only the nodes it started.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
set -euo pipefail
cd "$ROOT"
. scripts/lib.sh
OLD=$1; shift
W=$(mktemp -d)
git worktree add -q "$W/old" "$OLD"
(cd "$W/old" && go build -o "$W/s4-old" ./cmd/s4)
git worktree remove --force "$W/old"
go build -o "$W/s4-new" ./cmd/s4
go build -o "$W/s4load" ./cmd/s4load
start() { # name bin [server flags]
  local port cport; port=$(free_port); cport=$(free_port)
  S4_ROOT_PASSWORD=password12345 "$2" server --data-dir "$W/$1" --listen 127.0.0.1:$port --cluster-listen 127.0.0.1:$cport "${@:3}" >"$W/$1.log" 2>&1 &
  echo "$! https://localhost:$port"
}
read -r PO BO <<<"$(start old "$W/s4-old")"
read -r PN BN <<<"$(start new "$W/s4-new")"
declare -A VP VB VA VS
VP[old]=$PO VB[old]=$BO VP[new]=$PN VB[new]=$BN
variants="old new"
extra=${VARIANTS:-}
[ "${ACCESS_LOG:-}" != 1 ] || extra="log=--access-log=$W/access.log $extra"
for spec in $extra; do
  name=${spec%%=*} flags=${spec#*=}
  read -r VP[$name] VB[$name] <<<"$(start "$name" "$W/s4-new" ${flags//,/ })"
  variants="$variants $name"
done
trap 'for v in $variants; do kill ${VP[$v]} 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT
for v in $variants; do
  until [ "$(curl -sk -o /dev/null -w '%{http_code}' "${VB[$v]}/health/ready")" = 200 ]; do sleep 0.2; done
done
keys() { BASE=$1 AWS_CA_BUNDLE=$2; local t; t=$(admin_token); issue_keys "$t" "$(new_user "$t" bench Writer)"; }
for v in $variants; do read -r VA[$v] VS[$v] <<<"$(keys ${VB[$v]} $W/$v/tls/cert.pem)"; done
for round in $(seq "${ROUNDS:-2}"); do
  for r in "$@"; do
    sc=${r%%:*} sz=${r#*:}
    for v in $variants; do
      P=${VP[$v]} B=${VB[$v]} A=${VA[$v]} S=${VS[$v]}
      out=$("$W/s4load" -endpoint $B -cacert $W/$v/tls/cert.pem -c 16 -duration ${DUR:-10s} -pid $P -scenario $sc -size $sz -access-key $A -secret-key $S 2>/dev/null)
      echo "$round $v $sc $sz | $(grep -o '[0-9.]* ok/s' <<<"$out") | p50 $(grep -o 'p50 [0-9.]*ms' <<<"$out" | cut -d' ' -f2) | $(grep -o '[0-9.]* CPU-s per 1000 requests' <<<"$out" | head -1) | $(awk '/^requests/{n=$2} /^server CPU/{c=$3} END{if (n) printf "%.4f (%.2f CPU-s / %d)", 1000*c/n, c, n}' <<<"$out")"
    done
  done
done
