#!/usr/bin/env bash
# Runs every check S4's CI runs: formatting, vet, the race-enabled test suite,
# short fuzz runs of every parser, and the end-to-end smoke test of the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz (short runs; corpora under */testdata/fuzz)"
FUZZTIME=${FUZZTIME:-10s}
# Every Fuzz* target in the tree, each run for FUZZTIME.
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "-- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done

echo "== smoke test of the s4 binary (admin flow with curl)"
scripts/smoke-admin.sh

echo "== aws cli end-to-end test of the S3 API"
scripts/s3-cli-e2e.sh
