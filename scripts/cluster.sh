#!/usr/bin/env bash
# Runs a three-node S4 cluster on this machine.
#
#   scripts/cluster.sh up         build s4, start n1..n3 (idempotent), wait until ready
#   scripts/cluster.sh down       stop the nodes this script started (by PID file)
#   scripts/cluster.sh status     each node's role, leader, applied index, readiness
#   scripts/cluster.sh stop N     stop node N (1..3), keeping its data
#   scripts/cluster.sh start N    start node N again on its data
#
# Settings: S4_CLUSTER_DIR (./.s4-cluster), S4_BASE_PORT (9000: HTTPS 9000-9002),
# S4_CLUSTER_BASE_PORT (7000: cluster ports 7000-7002), S4_ROOT_PASSWORD
# (password12345). All nodes share one cluster key and one self-signed
# certificate, so AWS_CA_BUNDLE=<dir>/tls/cert.pem trusts every node.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${S4_CLUSTER_DIR:-./.s4-cluster}
BASE=${S4_BASE_PORT:-9000}
CBASE=${S4_CLUSTER_BASE_PORT:-7000}
PASSWORD=${S4_ROOT_PASSWORD:-password12345}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
BIN=$DIR/s4

peers() {
  local out="" i
  for i in 1 2 3; do out+="n$i=127.0.0.1:$((CBASE + i - 1)),"; done
  echo "${out%,}"
}

pid_of() { cat "$DIR/n$1.pid" 2>/dev/null || true; }

running() {
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start_node() {
  local i=$1
  if running "$i"; then return 0; fi
  mkdir -p "$DIR/n$i"
  S4_ROOT_PASSWORD=$PASSWORD "$BIN" server \
    --data-dir "$DIR/n$i" --node-id "n$i" --peers "$(peers)" \
    --listen "127.0.0.1:$((BASE + i - 1))" \
    --cluster-listen "127.0.0.1:$((CBASE + i - 1))" --advertise "127.0.0.1:$((CBASE + i - 1))" \
    --cluster-key-file "$DIR/cluster.key" \
    --tls-cert "$DIR/tls/cert.pem" --tls-key "$DIR/tls/key.pem" \
    >>"$DIR/n$i.log" 2>&1 &
  echo $! >"$DIR/n$i.pid"
}

stop_node() {
  local i=$1 pid
  pid=$(pid_of "$i")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then kill -9 "$pid"; break; fi
      sleep 0.1
    done
  fi
  rm -f "$DIR/n$i.pid"
}

ready_json() {
  curl -s --max-time 2 --cacert "$DIR/tls/cert.pem" "https://localhost:$((BASE + $1 - 1))/health/ready" || true
}

wait_ready() {
  local deadline=$((SECONDS + 60)) i all
  while :; do
    all=1
    for i in "$@"; do
      [ "$(ready_json "$i" | jq -r '.status // empty' 2>/dev/null)" = ready ] || all=0
    done
    [ $all = 1 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "nodes not ready after 60 s; logs in $DIR/n*.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

cmd_up() {
  go build -o "$BIN" ./cmd/s4
  [ -f "$DIR/cluster.key" ] || "$BIN" keygen -o "$DIR/cluster.key"
  mkdir -p "$DIR/tls" && chmod 700 "$DIR/tls"
  [ -f "$DIR/tls/cert.pem" ] || "$BIN" cert -cert "$DIR/tls/cert.pem" -key "$DIR/tls/key.pem"
  for i in 1 2 3; do start_node "$i"; done
  wait_ready 1 2 3
  # The leader creates root right after the election: wait until login works.
  local deadline=$((SECONDS + 30))
  until curl -s --cacert "$DIR/tls/cert.pem" -o /dev/null -w '%{http_code}' -X POST \
      "https://localhost:$BASE/api/admin/login" -d "{\"username\":\"root\",\"password\":\"$PASSWORD\"}" | grep -q 200; do
    if [ $SECONDS -ge $deadline ]; then echo "root login does not work" >&2; return 1; fi
    sleep 0.2
  done
  cat <<TXT
S4 cluster is up (data in $DIR).
  S3 and admin API: https://localhost:$BASE  https://localhost:$((BASE + 1))  https://localhost:$((BASE + 2))
  root login:       curl --cacert $DIR/tls/cert.pem -X POST https://localhost:$BASE/api/admin/login \\
                      -d '{"username":"root","password":"$PASSWORD"}'
  trust the certificate: export AWS_CA_BUNDLE=$DIR/tls/cert.pem   (then --no-verify-ssl is not needed)
TXT
}

cmd_down() { for i in 1 2 3; do stop_node "$i"; done; echo "stopped"; }

cmd_status() {
  local i j
  for i in 1 2 3; do
    if ! running "$i"; then echo "n$i: stopped"; continue; fi
    j=$(ready_json "$i")
    if [ -z "$j" ]; then echo "n$i: running (pid $(pid_of "$i")), not answering"; continue; fi
    echo "n$i: $(jq -r '"\(.role), leader \(.leader), applied index \(.applied_index), \(.status)"' <<<"$j") (https://localhost:$((BASE + i - 1)))"
  done
}

node_arg() {
  case "${1:-}" in 1|2|3) echo "$1" ;; *) echo "usage: $0 stop|start N (N = 1, 2 or 3)" >&2; exit 2 ;; esac
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop) i=$(node_arg "${2:-}"); stop_node "$i"; echo "n$i stopped" ;;
  start) i=$(node_arg "${2:-}"); [ -x "$BIN" ] || go build -o "$BIN" ./cmd/s4; start_node "$i"; wait_ready "$i"; echo "n$i ready" ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
