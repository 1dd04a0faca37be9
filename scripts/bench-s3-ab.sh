#!/usr/bin/env bash
# Single-node S3 load A/B (BENCHMARKS.md): one node built from commit OLD and
# one from HEAD, both up for the whole run; each "scenario:size" argument runs
# against one then the other, $DUR (10s) at c=16, $ROUNDS (2) rounds.
# Usage: scripts/bench-s3-ab.sh OLD s3-put:4KiB s3-put:1MiB
# ACCESS_LOG=1 adds a third node, HEAD with --access-log (to a file), to
# each round. Stops only the nodes it started.
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
variants="old new" PL= BL=
if [ "${ACCESS_LOG:-}" = 1 ]; then
  read -r PL BL <<<"$(start log "$W/s4-new" --access-log "$W/access.log")"
  variants="old new log"
fi
trap 'kill $PO $PN $PL 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
for b in $BO $BN $BL; do
  until [ "$(curl -sk -o /dev/null -w '%{http_code}' "$b/health/ready")" = 200 ]; do sleep 0.2; done
done
keys() { BASE=$1 AWS_CA_BUNDLE=$2; local t; t=$(admin_token); issue_keys "$t" "$(new_user "$t" bench Writer)"; }
read -r AO SO <<<"$(keys $BO $W/old/tls/cert.pem)"
read -r AN SN <<<"$(keys $BN $W/new/tls/cert.pem)"
[ -z "$BL" ] || read -r AL SL <<<"$(keys $BL $W/log/tls/cert.pem)"
for round in $(seq "${ROUNDS:-2}"); do
  for r in "$@"; do
    sc=${r%%:*} sz=${r#*:}
    for v in $variants; do
      case $v in old) P=$PO B=$BO A=$AO S=$SO ;; new) P=$PN B=$BN A=$AN S=$SN ;; log) P=$PL B=$BL A=$AL S=$SL ;; esac
      out=$("$W/s4load" -endpoint $B -cacert $W/$v/tls/cert.pem -c 16 -duration ${DUR:-10s} -pid $P -scenario $sc -size $sz -access-key $A -secret-key $S 2>/dev/null)
      echo "$round $v $sc $sz | $(grep -o '[0-9.]* ok/s' <<<"$out") | p50 $(grep -o 'p50 [0-9.]*ms' <<<"$out" | cut -d' ' -f2) | $(grep -o '[0-9.]* CPU-s per 1000 requests' <<<"$out" | head -1) | $(awk '/^requests/{n=$2} /^server CPU/{c=$3} END{if (n) printf "%.4f (%.2f CPU-s / %d)", 1000*c/n, c, n}' <<<"$out")"
    done
  done
done
