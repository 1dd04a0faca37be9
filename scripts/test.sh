#!/usr/bin/env bash
# Runs every check S4's CI runs: formatting, vet, the race-enabled test suite,
# short fuzz runs of every parser, and the end-to-end tests of the binary
# (admin API with curl and with s4 admin, S3 API with the aws cli).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== go test -race"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -race -count=1 -timeout 20m ./... 2>&1 | tee "$log"
packages=$(grep -c '^ok ' "$log" || true)

echo "== fuzz (short runs; corpora under */testdata/fuzz)"
FUZZTIME=${FUZZTIME:-10s}
fuzzed=0
# fuzz PKG TARGET: one run for FUZZTIME. Go 1.26's fuzzing coordinator can
# fail a run with a bare "context deadline exceeded" when -fuzztime ends
# while a worker is busy (golang/go#75804, fixed in Go 1.27): no input
# failed, none is written. Such a run is run once more; a run that found a
# failing input ("Failing input written to ...") fails at once, and so
# does a second run that fails for any reason.
fuzz() {
  local out rc=0
  out=$(mktemp)
  go test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" "$1" 2>&1 | tee "$out" || rc=$?
  if [ $rc -ne 0 ] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
    echo "-- $1 $2: the fuzzing coordinator's end-of-fuzztime race (golang/go#75804), no failing input: running it again"
    rc=0
    go test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" "$1" || rc=$?
  fi
  rm -f "$out"
  return $rc
}
# Every Fuzz* target in the tree, each run for FUZZTIME.
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "-- $pkg $target"
    fuzz "$pkg" "$target"
    fuzzed=$((fuzzed + 1))
  done
done

echo "== smoke test of the s4 binary (admin flow with curl)"
scripts/smoke-admin.sh

echo "== aws cli end-to-end test of the S3 API"
scripts/s3-cli-e2e.sh

echo "== s4 admin end-to-end test: the seed's flow through the CLI, one node and a cluster's follower"
scripts/admin-cli-e2e.sh

echo "== aws cli end-to-end test of a three-node cluster (scripts/cluster.sh)"
scripts/cluster-e2e.sh
scripts/cluster-kill.sh

echo "== fault suite of real processes: one seed, one minute, all faults (scripts/faults.sh)"
scripts/faults.sh -s "${FAULTS_SEED:-1}" -d "${FAULTS_DURATION:-60s}" -f all

# Every step above stops the script on failure, so reaching here means all passed.
echo "$packages test packages, $fuzzed fuzz targets and 6 end-to-end scripts passed"
echo "summary: $((packages + fuzzed + 6)) passed, 0 failed"
