# Shared helpers for S4's scripts: start one node on free loopback ports,
# wait for it, and use the admin API. Source it; it defines functions only.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_node WORKDIR [SERVER FLAGS...]: builds s4 into WORKDIR, starts a
# node with data in WORKDIR/data (and the flags), sets NODE_PID, BASE
# (https://localhost:PORT) and AWS_CA_BUNDLE, and waits until /health/ready
# answers 200.
start_node() {
  local work=$1
  go build -o "$work/s4" ./cmd/s4
  local port cport
  port=$(free_port); cport=$(free_port)
  S4_ROOT_PASSWORD=password12345 "$work/s4" server --data-dir "$work/data" \
    --listen "127.0.0.1:$port" --cluster-listen "127.0.0.1:$cport" "${@:2}" >"$work/out.log" 2>&1 &
  NODE_PID=$!
  BASE="https://localhost:$port"
  local deadline=$((SECONDS + 30))
  until [ "$(curl -sk -o /dev/null -w '%{http_code}' "$BASE/health/ready" 2>/dev/null)" = 200 ]; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$NODE_PID" 2>/dev/null; then
      echo "node did not become ready"; cat "$work/out.log"; return 1
    fi
    sleep 0.2
  done
  export AWS_CA_BUNDLE="$work/data/tls/cert.pem"
}

stop_node() {
  if [ -n "${NODE_PID:-}" ] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true
  fi
}

# admin_token: logs in as root and prints the token.
admin_token() {
  curl -s --cacert "$AWS_CA_BUNDLE" -X POST "$BASE/api/admin/login" \
    -H 'Content-Type: application/json' \
    -d '{"username":"root","password":"password12345"}' | jq -r .token
}

# new_user TOKEN NAME ROLE: creates a user and prints its id.
new_user() {
  curl -s --cacert "$AWS_CA_BUNDLE" -X POST "$BASE/api/admin/users" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$2\",\"password\":\"password-$2\",\"role\":\"$3\"}" | jq -r .id
}

# issue_keys TOKEN USER_ID: issues a key pair and prints "ACCESS SECRET".
issue_keys() {
  curl -s --cacert "$AWS_CA_BUNDLE" -X POST "$BASE/api/admin/users/$2/credentials" \
    -H "Authorization: Bearer $1" | jq -r '.access_key + " " + .secret_key'
}
