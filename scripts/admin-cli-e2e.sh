#!/usr/bin/env bash
# End-to-end test of s4 admin: the seed's flow (login, create a user, issue
# a key, use it with the aws cli, regenerate, revoke, deactivate) on one node
# (JSON logs and the access log on) and against a follower of a three-node
# cluster; --json parsed with jq; a wrong password and an unknown user exit
# non-zero with the API's message; a scrape token works until revoked; no
# secret, password or token in any log. Stops only the nodes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
base=$((20000 + RANDOM % 20000))
export S4_CLUSTER_DIR=$work/cluster S4_BASE_PORT=$base S4_CLUSTER_BASE_PORT=$((base + 10))
trap 'stop_node; scripts/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
fail() { echo "FAIL: $*"; exit 1; }
secrets=(password12345 alice-password-1)

start_node "$work" --log-format json --access-log "$work/access.log"
s4() { "$work/s4" admin "$@"; }

# expect_fail MESSAGE CMD...: CMD exits non-zero, MESSAGE on its stderr.
expect_fail() {
  local msg=$1 out; shift
  if out=$("$@" 2>&1 >/dev/null); then fail "$* succeeded"; fi
  grep -qF "$msg" <<<"$out" || fail "$*: $out"
}

# flow ENDPOINT CA: the seed's flow through s4 admin against that node.
flow() {
  local ep=$1 ca=$2 ak sk old_ak old_sk
  expect_fail "invalid username or password (HTTP 401)" s4 login --endpoint "$ep" --ca-cert "$ca" --password-stdin <<<"wrong-password"
  s4 login --endpoint "$ep" --ca-cert "$ca" --password-stdin <<<"password12345" >/dev/null
  secrets+=("$(jq -r '.sessions[].token' "$XDG_CONFIG_HOME/s4/sessions.json")")
  s4 user create alice --role Writer --password-stdin --json <<<"alice-password-1" | jq -e '.username == "alice" and .is_active' >/dev/null
  issue() { read -r ak sk <<<"$(s4 credentials issue alice --json 2>/dev/null | jq -r '.access_key + " " + .secret_key')"; secrets+=("$sk"); }
  as() { AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_CA_BUNDLE=$ca aws --endpoint-url "$ep" "${@:3}"; }
  refused() { local out; if out=$(as "$1" "$2" s3 ls 2>&1); then fail "key $1 still works"; fi; grep -q "$3" <<<"$out" || fail "key $1: $out"; }
  issue
  as "$ak" "$sk" s3 mb s3://cli-e2e >/dev/null
  echo hello | as "$ak" "$sk" s3 cp - s3://cli-e2e/hello.txt --only-show-errors
  as "$ak" "$sk" s3 ls s3://cli-e2e | grep -q hello.txt || fail "ls does not show hello.txt"
  old_ak=$ak old_sk=$sk
  issue # regenerate
  refused "$old_ak" "$old_sk" InvalidAccessKeyId
  as "$ak" "$sk" s3 ls s3://cli-e2e >/dev/null || fail "the regenerated key does not work"
  s4 credentials revoke alice --json | jq -e --arg ak "$ak" '.revoked == $ak and (.confirmed_by | length) >= 1' >/dev/null
  refused "$ak" "$sk" InvalidAccessKeyId
  issue
  s4 user update alice --active=false --json | jq -e '.is_active == false' >/dev/null
  refused "$ak" "$sk" AccessDenied
  expect_fail "user not found (HTTP 404)" s4 user get nobody
  s4 user list --json | jq -e 'map(.username) == ["root", "alice"]' >/dev/null
  s4 cluster status --json | jq -e '.leader != "" and (.nodes | length) >= 1' >/dev/null
}

flow "$BASE" "$AWS_CA_BUNDLE"
tok=$(s4 metrics token create --name e2e --json 2>/dev/null | jq -r .token)
secrets+=("$tok")
# (The body first, then grep: "curl | grep -q" fails under pipefail when
# grep stops reading before curl has written the whole scrape: SIGPIPE.)
metrics=$(curl -sf --cacert "$AWS_CA_BUNDLE" -H "Authorization: Bearer $tok" "$BASE/metrics") || fail "scrape: HTTP error"
grep -q '^s4_raft_state{state="leader"} 1' <<<"$metrics" || fail "scrape: no s4_raft_state leader line"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$AWS_CA_BUNDLE" "$BASE/metrics")" = 401 ] || fail "a scrape without a token"
s4 metrics token revoke "$(s4 metrics token list --json | jq -r '.[0].id')" >/dev/null 2>&1
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$AWS_CA_BUNDLE" -H "Authorization: Bearer $tok" "$BASE/metrics")" = 401 ] || fail "a revoked token"
s4 logout >/dev/null
expect_fail "not logged in" s4 user list
stop_node
jq -e -s 'length > 10 and all(.[]; .node != null and .msg != null)' "$work/out.log" >/dev/null || fail "the log is not JSON lines naming the node"
jq -e -s 'length >= 7 and all(.[]; .node != null and .operation != null and .status != null)' "$work/access.log" >/dev/null || { cat "$work/access.log"; fail "the access log"; }

# A follower of a three-node cluster.
scripts/cluster.sh up >/dev/null
follower=
for i in 1 2 3; do
  ep="https://localhost:$((base + i - 1))"
  [ "$(curl -s --cacert "$S4_CLUSTER_DIR/tls/cert.pem" "$ep/health/ready" | jq -r .role)" = follower ] && follower=$ep && break
done
[ -n "$follower" ] || fail "no follower"
flow "$follower" "$S4_CLUSTER_DIR/tls/cert.pem"
s4 cluster status --json | jq -e '(.nodes | length) == 3 and ([.nodes[] | select(.ready)] | length) == 3' >/dev/null || fail "cluster status"

for s in "${secrets[@]}"; do
  if grep -rqF -- "$s" "$work/out.log" "$work/access.log" "$S4_CLUSTER_DIR"/n*.log; then fail "a secret, password or token is in a log"; fi
done
echo "admin-cli-e2e: OK"
