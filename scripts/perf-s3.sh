#!/usr/bin/env bash
# CPU profile of one node under S3 load (BENCHMARKS.md, "Where the time
# goes"): builds HEAD, starts one node, runs s4load SCENARIO:SIZE at c=16
# for 16 s and records the server with perf for 10 s of it into OUT
# (default ./perf.data), then prints the top leaf symbols. Stops only the
# node it started.
# Usage: scripts/perf-s3.sh s3-put:1MiB [OUT]
ROOT=$(cd "$(dirname "$0")/.." && pwd)
set -euo pipefail
cd "$ROOT"
. scripts/lib.sh
R=$1 OUT=${2:-perf.data}
sc=${R%%:*} sz=${R#*:}
W=$(mktemp -d)
go build -o "$W/s4" ./cmd/s4
go build -o "$W/s4load" ./cmd/s4load
port=$(free_port); cport=$(free_port)
S4_ROOT_PASSWORD=password12345 "$W/s4" server --data-dir "$W/d" --listen 127.0.0.1:$port --cluster-listen 127.0.0.1:$cport >"$W/log" 2>&1 &
P=$!
trap 'kill $P 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
B=https://localhost:$port
until [ "$(curl -sk -o /dev/null -w '%{http_code}' "$B/health/ready")" = 200 ]; do sleep 0.2; done
export BASE=$B AWS_CA_BUNDLE=$W/d/tls/cert.pem
t=$(admin_token); read -r A S <<<"$(issue_keys "$t" "$(new_user "$t" bench Writer)")"
"$W/s4load" -endpoint "$B" -cacert "$W/d/tls/cert.pem" -c 16 -duration 16s -pid $P -scenario "$sc" -size "$sz" -access-key "$A" -secret-key "$S" >"$W/load.txt" 2>&1 &
L=$!
sleep 3
perf record -F 999 -g -p $P -o "$OUT" -- sleep 10 >/dev/null 2>&1
wait $L
grep -E "^throughput|^server CPU" "$W/load.txt"
perf report -i "$OUT" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -20
