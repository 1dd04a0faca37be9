#!/usr/bin/env bash
# kill -9 of the leader of a three-node cluster (scripts/cluster.sh up):
# objects and users written through every node before are all readable
# through both survivors once they elected a new leader, admin and S3 writes
# work through both survivors, and the killed node, started again, serves
# everything (also what was written while it was dead) and refuses a key
# revoked while it was dead. Stops only the nodes it started (PID files in
# its own S4_CLUSTER_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

export S4_CLUSTER_DIR=$(mktemp -d)
# Ports below the ephemeral range: while a node is dead, connections to its
# port (the survivors dial it all the time) must not be able to take it as
# their local port, or the node cannot bind it again.
lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
span=$((lo - 20000 - 20))
[ "$span" -ge 1000 ] || span=12000
base=$((20000 + RANDOM % span))
export S4_BASE_PORT=$base S4_CLUSTER_BASE_PORT=$((base + 10))
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$S4_CLUSTER_DIR"' EXIT
DIR=$S4_CLUSTER_DIR
scripts/cluster.sh up >/dev/null

export AWS_CA_BUNDLE=$DIR/tls/cert.pem AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
url() { echo "https://localhost:$((base + $1 - 1))"; }
# fail prints to stderr: it may run inside $(...), whose status set -e sees.
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$DIR"/n*.log; do echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; done
  exit 1
}
pass() { echo "PASS: $*"; }
api() { curl -s --max-time 20 --cacert "$AWS_CA_BUNDLE" "$@"; }
now_ms() { date +%s%3N; }
ready_json() { curl -s --max-time 2 --cacert "$AWS_CA_BUNDLE" "$(url "$1")/health/ready" || true; }
role_of() { ready_json "$1" | jq -r '.role // empty' 2>/dev/null || true; }
status_of() { ready_json "$1" | jq -r '.status // empty' 2>/dev/null || true; }

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "$what: not within $secs s"
    sleep 0.05
  done
}

TOKEN=$(api -X POST "$(url 1)/api/admin/login" -d '{"username":"root","password":"password12345"}' | jq -r .token)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || fail "root login"
# new_user NODE NAME ROLE: creates a user through NODE and prints its id.
new_user() {
  local id
  id=$(api -X POST "$(url "$1")/api/admin/users" -H "Authorization: Bearer $TOKEN" \
    -d "{\"username\":\"$2\",\"password\":\"password-$2\",\"role\":\"$3\"}" | jq -r .id)
  [ -n "$id" ] && [ "$id" != null ] || fail "create user $2 through node $1"
  echo "$id"
}
# issue NODE USER_ID: issues a key pair through NODE, prints "ACCESS SECRET".
issue() {
  local keys
  keys=$(api -X POST "$(url "$1")/api/admin/users/$2/credentials" -H "Authorization: Bearer $TOKEN" | jq -r '.access_key + " " + .secret_key')
  [ "${#keys}" -gt 20 ] || fail "issue a key for $2 through node $1"
  echo "$keys"
}
user_code() { api -o /dev/null -w '%{http_code}' "$(url "$1")/api/admin/users/$2" -H "Authorization: Bearer $TOKEN"; }

ALICE=$(new_user 2 alice Writer)
BOB=$(new_user 3 bob Reader)
keys=$(issue 1 "$ALICE") && read -r AK SK <<<"$keys"
keys=$(issue 2 "$BOB") && read -r BAK BSK <<<"$keys"
as_alice() { local n=$1; shift; AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK aws --endpoint-url "$(url "$n")" "$@"; }
as_bob() { local n=$1; shift; AWS_ACCESS_KEY_ID=$BAK AWS_SECRET_ACCESS_KEY=$BSK aws --endpoint-url "$(url "$n")" "$@"; }

# Objects and users through every node, each acknowledged.
mkdir -p "$DIR/src"
as_alice 1 s3 mb s3://kill >/dev/null || fail "mb"
objects=()
for k in 1 2 3 4 5 6 7 8 9; do
  n=$(((k - 1) % 3 + 1))
  head -c $((k * 37 * 1024 + k)) /dev/urandom >"$DIR/src/before-$k"
  as_alice "$n" s3 cp "$DIR/src/before-$k" "s3://kill/before-$k" --only-show-errors || fail "PUT before-$k through node $n"
  objects+=("before-$k")
done
users=("$ALICE" "$BOB")
for n in 1 2 3; do users+=("$(new_user "$n" "before_$n" Reader)"); done
as_bob 3 s3 ls s3://kill >/dev/null || fail "bob's key does not work"
pass "${#objects[@]} objects and ${#users[@]} users written through all three nodes"

# The leader, and kill -9 of its process (the PID cluster.sh recorded).
leader=""
for n in 1 2 3; do [ "$(role_of "$n")" = leader ] && leader=$n; done
[ -n "$leader" ] || fail "no node reports itself leader"
pid=$(cat "$DIR/n$leader.pid")
kill -0 "$pid" || fail "n$leader (pid $pid) is not running"
survivors=()
for n in 1 2 3; do [ "$n" = "$leader" ] || survivors+=("$n"); done
t0=$(now_ms)
kill -9 "$pid"
# Gone, or a zombie nobody reaps (no init in a container).
gone() { ! kill -0 "$pid" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; }
wait_for 10 "n$leader (pid $pid) gone after kill -9" gone
echo "killed the leader n$leader (pid $pid) with SIGKILL"

new_leader() {
  local n
  for n in "${survivors[@]}"; do
    if [ "$(role_of "$n")" = leader ]; then echo "$n"; return 0; fi
  done
  return 1
}
wait_for 30 "a new leader among n${survivors[0]} and n${survivors[1]}" new_leader >/dev/null
t1=$(now_ms)
nl=$(new_leader)
pass "new leader n$nl $((t1 - t0)) ms after kill -9 of n$leader"
both_ready() { [ "$(status_of "${survivors[0]}")" = ready ] && [ "$(status_of "${survivors[1]}")" = ready ]; }
wait_for 30 "both survivors ready" both_ready
pass "both survivors ready $(($(now_ms) - t0)) ms after the kill"

# objects_ok NODE NAMES...: every object reads back identical through NODE.
objects_ok() {
  local n=$1 k; shift
  rm -rf "$DIR/got-$n" && mkdir -p "$DIR/got-$n"
  as_alice "$n" s3 sync s3://kill "$DIR/got-$n" --only-show-errors >"$DIR/sync-$n.err" 2>&1 || return 1
  for k in "$@"; do
    cmp -s "$DIR/src/$k" "$DIR/got-$n/$k" || { echo "node $n: object $k missing or different" >"$DIR/sync-$n.err"; return 1; }
  done
}
users_ok() {
  local n=$1 id; shift
  for id in "$@"; do [ "$(user_code "$n" "$id")" = 200 ] || return 1; done
}
# Every node shows what any node acknowledged before the request (a
# follower asks the leader for a read index first): no waiting.
check_objects() {
  local n=$1
  objects_ok "$@" || fail "node $n: $(cat "$DIR/sync-$n.err")"
}
check_users() {
  local n=$1
  users_ok "$@" || fail "node $n does not know every user acknowledged"
}
for n in "${survivors[@]}"; do
  check_objects "$n" "${objects[@]}"
  check_users "$n" "${users[@]}"
done
pass "all ${#objects[@]} acknowledged objects and ${#users[@]} users readable through n${survivors[0]} and n${survivors[1]}"

# Writes through both survivors while n$leader is dead.
for n in "${survivors[@]}"; do
  users+=("$(new_user "$n" "during_$n" Writer)")
  head -c $((100 * 1024 + n)) /dev/urandom >"$DIR/src/during-$n"
  as_alice "$n" s3 cp "$DIR/src/during-$n" "s3://kill/during-$n" --only-show-errors || fail "PUT during-$n through node $n"
  objects+=("during-$n")
done
for n in "${survivors[@]}"; do
  check_objects "$n" "${objects[@]}"
  check_users "$n" "${users[@]}"
done
pass "admin and S3 writes through both survivors, each read back through both"

# Revoke bob's key while n$leader is dead.
t2=$(now_ms)
code=$(api -o /dev/null -w '%{http_code}' -X DELETE "$(url "${survivors[0]}")/api/admin/users/$BOB/credentials" -H "Authorization: Bearer $TOKEN")
[ "$code" = 204 ] || fail "revoke with n$leader dead: $code"
pass "revoke with n$leader dead acknowledged in $(($(now_ms) - t2)) ms"
for n in "${survivors[@]}"; do
  out=$(as_bob "$n" s3 ls s3://kill 2>&1) && fail "revoked key still works on node $n"
  grep -q InvalidAccessKeyId <<<"$out" || fail "revoked key on node $n: $out"
done

# Start the killed node again on its data: it serves everything and knows
# the revoke.
t3=$(now_ms)
scripts/cluster.sh start "$leader" >/dev/null || fail "start n$leader again"
pass "n$leader ready $(($(now_ms) - t3)) ms after it was started again"
out=$(as_bob "$leader" s3 ls s3://kill 2>&1) && fail "the key revoked while n$leader was dead works on it"
grep -q InvalidAccessKeyId <<<"$out" || fail "revoked key on the restarted n$leader: $out"
check_objects "$leader" "${objects[@]}"
check_users "$leader" "${users[@]}"
pass "the restarted n$leader serves all ${#objects[@]} objects and ${#users[@]} users and refuses the key revoked while it was dead"
users+=("$(new_user "$leader" after_restart Reader)")
echo restarted >"$DIR/src/after"
as_alice "$leader" s3 cp "$DIR/src/after" s3://kill/after --only-show-errors || fail "PUT through the restarted n$leader"
objects+=(after)
for n in 1 2 3; do check_objects "$n" after; check_users "$n" "${users[@]}"; done
pass "writes through the restarted n$leader reach every node"
echo "cluster-kill: OK"
