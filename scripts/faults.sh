#!/usr/bin/env bash
# The fault suite of real processes (cmd/s4faults): for each seed, three
# `s4 server` processes on loopback, a workload of real S3 and admin
# clients, one fault at a time (kill -9 and SIGSTOP of the leader and of a
# follower, partitions through TCP proxies, a full data disk when run as
# root), then the checks of S4's promises: no revoked credential accepted
# after the revocation was acknowledged, acknowledged writes on every node,
# listings that agree, no read back in time.
#
#   scripts/faults.sh [-s SEEDS] [-d DURATION] [-f FAULTS] [-- DRIVER FLAGS]
#
#   -s SEEDS     comma-separated seeds, or a range A-B (default 1)
#   -d DURATION  workload and faults per seed (default 60s; then heal, check)
#   -f FAULTS    comma-separated: kill-leader,kill-follower,stop-leader,
#                stop-follower,partition,disk, or all (default all)
#   after --     more flags for s4faults (-v, --keep, --hammer N, ...)
#
# Builds s4 and s4faults into a temporary directory (S4_BIN=path runs
# another s4 binary instead). Exits 1 if any seed found a violation, 2 if a
# run could not be made.
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=1 duration=60s faults=all
while [ $# -gt 0 ]; do
  case "$1" in
    -s) seeds=$2; shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -f) faults=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "faults.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ $seeds =~ ^([0-9]+)-([0-9]+)$ ]]; then
  seeds=$(seq -s, "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${S4_BIN:-}
if [ -z "$bin" ]; then
  go build -o "$work/s4" ./cmd/s4
  bin=$work/s4
fi
go build -o "$work/s4faults" ./cmd/s4faults

status=0 results=()
IFS=, read -ra list <<<"$seeds"
for seed in "${list[@]}"; do
  echo "== s4faults seed $seed, $duration, faults $faults"
  rc=0
  "$work/s4faults" --bin "$bin" --seed "$seed" --duration "$duration" --faults "$faults" "$@" || rc=$?
  case $rc in
    0) results+=("seed $seed: pass") ;;
    1) results+=("seed $seed: VIOLATIONS"); status=1 ;;
    *) results+=("seed $seed: could not run (exit $rc)"); [ $status = 1 ] || status=2 ;;
  esac
done
echo "== fault suite: ${results[*]/%/;}"
exit $status
