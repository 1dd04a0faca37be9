#!/usr/bin/env bash
# End-to-end test of a three-node cluster with the aws cli: a cluster from
# scripts/cluster.sh up; alice uploads through node 1 and reads through
# nodes 2 and 3; her regenerated and revoked keys fail on every node right
# after the admin call returns. Stops only the nodes it started.
set -euo pipefail
cd "$(dirname "$0")/.."

export S4_CLUSTER_DIR=$(mktemp -d)
base=$((20000 + RANDOM % 20000))
export S4_BASE_PORT=$base S4_CLUSTER_BASE_PORT=$((base + 10))
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$S4_CLUSTER_DIR"' EXIT
scripts/cluster.sh up >/dev/null
scripts/cluster.sh status

export AWS_CA_BUNDLE=$S4_CLUSTER_DIR/tls/cert.pem AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
url() { echo "https://localhost:$((base + $1 - 1))"; }
fail() { echo "FAIL: $*"; tail -5 "$S4_CLUSTER_DIR"/n*.log; exit 1; }
api() { curl -s --cacert "$AWS_CA_BUNDLE" "$@"; }

TOKEN=$(api -X POST "$(url 2)/api/admin/login" -d '{"username":"root","password":"password12345"}' | jq -r .token)
ALICE=$(api -X POST "$(url 3)/api/admin/users" -H "Authorization: Bearer $TOKEN" \
  -d '{"username":"alice","password":"alice123","role":"Writer"}' | jq -r .id)
issue() { api -X POST "$(url "$1")/api/admin/users/$ALICE/credentials" -H "Authorization: Bearer $TOKEN" | jq -r '.access_key + " " + .secret_key'; }
read -r AK SK <<<"$(issue 1)"
s3as() { local n=$1; shift; AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK aws --endpoint-url "$(url "$n")" "$@"; }

head -c $((6 << 20)) /dev/urandom >"$S4_CLUSTER_DIR/obj.bin"
s3as 1 s3 mb s3://shared >/dev/null
s3as 1 s3 cp "$S4_CLUSTER_DIR/obj.bin" s3://shared/obj.bin --only-show-errors
for n in 2 3; do
  s3as "$n" s3 ls s3://shared | grep -q obj.bin || fail "node $n does not list the object"
  s3as "$n" s3 cp s3://shared/obj.bin "$S4_CLUSTER_DIR/obj.$n" --only-show-errors
  cmp "$S4_CLUSTER_DIR/obj.bin" "$S4_CLUSTER_DIR/obj.$n" || fail "node $n returned other bytes"
done

# Regenerate through node 2: the old key fails on every node at once, the new one works.
OLD_AK=$AK OLD_SK=$SK
read -r AK SK <<<"$(issue 2)"
for n in 1 2 3; do
  out=$(AWS_ACCESS_KEY_ID=$OLD_AK AWS_SECRET_ACCESS_KEY=$OLD_SK aws --endpoint-url "$(url "$n")" s3 ls s3://shared 2>&1) && fail "old key still works on node $n"
  grep -q InvalidAccessKeyId <<<"$out" || fail "old key on node $n: $out"
  s3as "$n" s3 ls s3://shared >/dev/null || fail "new key does not work on node $n"
done

# Revoke through node 3: the key fails everywhere right after the answer.
code=$(api -o /dev/null -w '%{http_code}' -X DELETE "$(url 3)/api/admin/users/$ALICE/credentials" -H "Authorization: Bearer $TOKEN")
[ "$code" = 204 ] || fail "revoke returned $code"
for n in 1 2 3; do
  out=$(s3as "$n" s3 ls s3://shared 2>&1) && fail "revoked key still works on node $n"
  grep -q InvalidAccessKeyId <<<"$out" || fail "revoked key on node $n: $out"
done
echo "cluster-e2e: OK"
