#!/usr/bin/env bash
# Builds s4, starts one node on free loopback ports with a fresh data dir, and
# runs the admin flow of S4's credentials page with curl and jq, exactly as a
# user would. Stops only the node it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib.sh

work=$(mktemp -d)
trap 'stop_node; rm -rf "$work"' EXIT
start_node "$work"
base=$BASE

fail() { echo "FAIL: $*"; cat "$work/out.log"; exit 1; }

# The flow of the credentials page, verbatim but for the port.
TOKEN=$(curl -s -k -X POST $base/api/admin/login \
  -H 'Content-Type: application/json' \
  -d '{"username":"root","password":"password12345"}' | jq -r '.token')
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || fail "login"

USER_ID=$(curl -s -k -X POST $base/api/admin/users \
  -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"alice123","role":"Writer"}' | jq -r '.id')
[ -n "$USER_ID" ] && [ "$USER_ID" != null ] || fail "create user"

CRED=$(curl -s -k -X POST $base/api/admin/users/$USER_ID/credentials \
  -H "Authorization: Bearer $TOKEN")
AK=$(echo "$CRED" | jq -r .access_key)
SK=$(echo "$CRED" | jq -r .secret_key)
[[ "$AK" =~ ^S4AK[A-Za-z0-9]{20}$ ]] || fail "access key format: $AK"
[[ "$SK" =~ ^[A-Za-z0-9]{40}$ ]] || fail "secret key format"

shown=$(curl -s -k $base/api/admin/users/$USER_ID -H "Authorization: Bearer $TOKEN" | jq -r .access_key)
[ "$shown" = "$AK" ] || fail "user does not show its access key"

code=$(curl -s -k -o /dev/null -w '%{http_code}' -X DELETE $base/api/admin/users/$USER_ID/credentials \
  -H "Authorization: Bearer $TOKEN")
[ "$code" = 204 ] || fail "revoke returned $code"
shown=$(curl -s -k $base/api/admin/users/$USER_ID -H "Authorization: Bearer $TOKEN" | jq -r '.access_key // "none"')
[ "$shown" = none ] || fail "revoked key still shown"

code=$(curl -s -k -o /dev/null -w '%{http_code}' $base/api/admin/users -H "Authorization: Bearer not-a-token")
[ "$code" = 401 ] || fail "bad token gave $code"

if grep -q "$SK" "$work/out.log"; then fail "the secret key appears in the server log"; fi
if grep -rqF "$SK" "$work/data"; then fail "the secret key appears in plaintext under the data dir"; fi
echo "smoke-admin: OK"
