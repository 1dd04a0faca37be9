#!/usr/bin/env bash
# Revocation acknowledgement with the leader stopped (BENCHMARKS.md): a
# three-node cluster from scripts/cluster.sh up; $ROUNDS (5) times: stop the
# leader with SIGSTOP, wait until another node reports itself leader, send
# a revoke of a fresh key to it at once, time the acknowledgement, resume
# the old leader with SIGCONT and wait until every node is ready again.
# Prints, per round, the time from the election being seen to the
# acknowledgement and the headers that say how the barrier was passed.
#
# Usage: scripts/bench-pause-revoke.sh        (ports from S4_BASE_PORT, 9400)
# Stops only the nodes it started (by their PID files), and SIGCONTs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export S4_CLUSTER_DIR=${S4_CLUSTER_DIR:-$(mktemp -d)}
export S4_BASE_PORT=${S4_BASE_PORT:-9400} S4_CLUSTER_BASE_PORT=${S4_CLUSTER_BASE_PORT:-9410}
cleanup() {
  for i in 1 2 3; do
    p=$(cat "$S4_CLUSTER_DIR/n$i.pid" 2>/dev/null || true)
    [ -n "$p" ] && kill -CONT "$p" 2>/dev/null || true
  done
  scripts/cluster.sh down >/dev/null || true
}
trap cleanup EXIT
scripts/cluster.sh up >/dev/null
python3 - "$S4_CLUSTER_DIR" "$S4_BASE_PORT" "${ROUNDS:-5}" <<'PY'
import http.client, json, os, signal, ssl, sys, time

d, base, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(cafile=f"{d}/tls/cert.pem")
ports = [base, base + 1, base + 2]
conns = {}

def req(port, method, path, body=None, token=None, timeout=10):
    c = conns.get(port)
    if c is None:
        c = conns[port] = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=timeout)
    c.timeout = timeout
    if c.sock is not None:
        c.sock.settimeout(timeout)
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    except Exception:
        c.close()
        conns.pop(port, None)
        raise

def role(port):
    try:
        _, _, b = req(port, "GET", "/health/ready", timeout=0.5)
        j = json.loads(b)
        return j["role"], j["status"] == "ready"
    except Exception:
        return None, False

def leader(exclude=()):
    for p in ports:
        if p not in exclude and role(p)[0] == "leader":
            return p
    return None

def pid(port):
    return int(open(f"{d}/n{port - base + 1}.pid").read())

def login(port):
    for _ in range(200):
        try:
            s, _, b = req(port, "POST", "/api/admin/login", {"username": "root", "password": "password12345"})
            if s == 200:
                return json.loads(b)["token"]
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit("login failed")

results = []
for rnd in range(1, rounds + 1):
    old = None
    while old is None:
        old = leader()
        time.sleep(0.05)
    other = next(p for p in ports if p != old)
    tok = login(other)
    s, _, b = req(other, "POST", "/api/admin/users", {"username": f"pr{rnd}_{int(time.time())}", "password": "password-x", "role": "Writer"}, tok)
    uid = json.loads(b)["id"]
    s, _, _ = req(other, "POST", f"/api/admin/users/{uid}/credentials", None, tok)
    assert s == 201, s
    os.kill(pid(old), signal.SIGSTOP)
    stopped = time.monotonic()
    new = None
    while new is None:
        new = leader(exclude=(old,))
        if time.monotonic() - stopped > 30:
            raise SystemExit("no new leader within 30 s")
    elected = time.monotonic()
    t0 = time.monotonic()
    s, hdrs, b = req(new, "DELETE", f"/api/admin/users/{uid}/credentials", None, tok)
    acked = time.monotonic()
    hd = dict(hdrs)
    os.kill(pid(old), signal.SIGCONT)
    results.append(acked - elected)
    print(f"round {rnd}: leader n{old - base + 1} stopped; n{new - base + 1} elected after {elected - stopped:.3f} s; "
          f"revoke answered {s} {acked - t0:.3f} s after it was sent, {acked - elected:.3f} s after the election was seen; "
          f"confirmed-by {hd.get('X-S4-Confirmed-By', '-')}, lease-expired {hd.get('X-S4-Lease-Expired', '-')}", flush=True)
    deadline = time.monotonic() + 60
    while not all(role(p)[1] for p in ports):
        if time.monotonic() > deadline:
            raise SystemExit("the cluster did not become ready again")
        time.sleep(0.1)
results.sort()
print(f"ack after the election: min {results[0]:.3f} s, median {results[len(results) // 2]:.3f} s, max {results[-1]:.3f} s over {len(results)} rounds")
PY
