#!/usr/bin/env bash
# `qyv node` end to end, against a fake master (tests/e2e/fake_master.py)
# that answers heartbeats from a plan file and serves a bundle made here
# with tar: the node API and its token, an app started from its
# assignment (with overrides), scaled with no request failing, exposed on
# a NodePort, served while the master is away, forwarded to a second
# node, retried past a dead one, never forwarded twice, removed; SIGTERM
# stops each node cleanly. Usage (from the repository root):
# tests/e2e/node.sh [BUILD_DIR]. Ends with "N passed, N failed, 0
# skipped"; every process it starts is stopped, with bounded waits.
. "$(dirname "$0")/lib.sh"

procs=()
cleanup() {
    for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname "$0")/cluster_lib.sh"
# Nodes start (and restart) long after their ports are drawn: below the
# ephemeral range, where the nodes' own outgoing connections cannot take them.
free_port() { steady_port; }
mp=$(free_port) pa=$(free_port) ia=$(free_port) pb=$(free_port) ib=$(free_port) np=$(free_port) dead=$(free_port)
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$token" >"$tmp/token"
auth=(-H "Authorization: Bearer $token")

# The bundle: a manifest and its module, as `tar` makes it.
mkdir -p "$tmp/app" "$tmp/m"
cp examples/http-echo/echo.wasm "$tmp/app/"
printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /e\ntimeout: 5s\n' >"$tmp/app/app.qyv"
tar --format=ustar -cf "$tmp/bundle.tar" -C "$tmp/app" app.qyv echo.wasm
digest=$(sha256sum "$tmp/bundle.tar" | cut -d' ' -f1)
cp "$tmp/bundle.tar" "$tmp/m/$digest.tar"
# And a broken one: a misspelt key in its manifest.
mkdir -p "$tmp/broken"
cp examples/http-echo/echo.wasm "$tmp/broken/"
printf 'name: broken\nentrypoint: echo.wasm\ntype: http\nroute: /b\ntimout: 5s\n' >"$tmp/broken/app.qyv"
tar --format=ustar -cf "$tmp/broken.tar" -C "$tmp/broken" app.qyv echo.wasm
broken=$(sha256sum "$tmp/broken.tar" | cut -d' ' -f1)
cp "$tmp/broken.tar" "$tmp/m/$broken.tar"

# plan A_REPLICAS B_REPLICAS [NODEPORT] [DEAD_ENDPOINT]: what the master
# assigns node-a and node-b, and the route every node gets; with BROKEN=1
# node-a is also assigned the broken app; with STALE=1 the route still
# names node-b when it runs nothing (as a route a heartbeat old).
plan() {
    BROKEN=${BROKEN:-} STALE=${STALE:-} python3 - "$digest" "$ia" "$ib" "$dead" "$broken" "$@" >"$tmp/m/plan.json.tmp" <<'PY'
import json, os, sys
digest, ia, ib, dead, broken, a, b = sys.argv[1:8]
del sys.argv[1]
a, b = int(a), int(b)
port = int(sys.argv[7]) if len(sys.argv) > 7 else 0
# A scale keeps the revision (as the master does): only replicas change.
def assign(n):
    return [{"app": "echo", "revision": 1, "digest": digest, "manifest": "app.qyv",
             "overrides": {"env": ["HTTP_X_FROM_OVERRIDE=yes"]}, "replicas": n}] if n else []
eps = []
if len(sys.argv) > 8: eps.append({"node": "node-c", "ingress": "127.0.0.1:" + dead, "replicas": 1, "weight": 1})
if a: eps.append({"node": "node-a", "ingress": "127.0.0.1:" + ia, "replicas": a, "weight": 1})
if b or os.environ.get("STALE"): eps.append({"node": "node-b", "ingress": "127.0.0.1:" + ib, "replicas": b or 1, "weight": 1})
routes = [{"app": "echo", "route": "/e", "port": port, "algorithm": "round_robin", "endpoints": eps}] if eps else []
extra = [{"app": "broken", "revision": 1, "digest": broken, "manifest": "app.qyv", "overrides": {},
          "replicas": 1}] if os.environ.get("BROKEN") else []
print(json.dumps({"node-a": {"assignments": assign(a) + extra, "routes": routes},
                  "node-b": {"assignments": assign(b), "routes": routes}}))
PY
    mv "$tmp/m/plan.json.tmp" "$tmp/m/plan.json"
}
# reported NODE EXPR: the node's last heartbeat satisfies the python EXPR on `s`.
reported() {
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$tmp/m/seen-$1.json" "$2" 2>/dev/null
}
start_master() {
    python3 tests/e2e/fake_master.py "$mp" "$token" "$tmp/m" 2>"$tmp/master.err" &
    master=$!
    disown "$master" # its death by a signal is no news
    procs+=("$master")
}
# start_node NAME API INGRESS: logs to $tmp/NAME.log, pid in node_pid.
start_node() {
    "$QYV" node --plain-http --name "$1" --listen 127.0.0.1:"$2" --ingress 127.0.0.1:"$3" --data "$tmp/$1" \
        --master 127.0.0.1:"$mp" --token-file "$tmp/token" --workers 2 >"$tmp/$1.log" 2>&1 &
    node_pid=$!
    procs+=("$node_pid")
    wait_for "$1 answers" curl -sf -o /dev/null "${auth[@]}" "http://127.0.0.1:$2/v1/node"
}
# stop_node PID NAME: SIGTERM, exit 0 within 10 s, no sanitizer report.
stop_node() {
    kill -TERM "$1"
    for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$1" 2>/dev/null; then bad "$2 stops on SIGTERM" "still running after 10 s"; kill -KILL "$1"; fi
    wait "$1"
    local rc=$?
    [ $rc -eq 0 ] && ok "$2 exits 0 on SIGTERM" || bad "$2 exits 0 on SIGTERM" "status $rc; $(tail -3 "$tmp/$2.log")"
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/$2.log"; then
        bad "$2: no sanitizer report" "$(grep -m1 -A40 -E 'Sanitizer|runtime error' "$tmp/$2.log")"
    fi
}
served_by_a() { curl -s --max-time 10 "http://127.0.0.1:$ia$1"; }

plan 0 0
start_master
start_node node-a "$pa" "$ia" || exit 1
a=$node_pid

# --- the node API and its token
check "GET /v1/node without a token: 401" 401 '"error":' "http://127.0.0.1:$pa/v1/node"
check "GET /v1/node with a wrong token: 401" 401 '"error":' -H "Authorization: Bearer x$token" "http://127.0.0.1:$pa/v1/node"
check "GET /v1/node" 200 '"name":"node-a".*"master":"127.0.0.1:'"$mp"'"' "${auth[@]}" "http://127.0.0.1:$pa/v1/node"
check "capacity detected" 200 '"capacity":\{"memory":[1-9][0-9]*,"cpu":[1-9][0-9]*000\}' "${auth[@]}" "http://127.0.0.1:$pa/v1/node"
check "POST /v1/node/join without a token: 401" 401 '' -d '{"master":"127.0.0.1:1"}' "http://127.0.0.1:$pa/v1/node/join"
check "unknown node endpoint: 404" 404 '"error":' "${auth[@]}" "http://127.0.0.1:$pa/v1/nope"
wait_for "node-a registers" test -s "$tmp/m/registered-node-a.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["ingress"]=="127.0.0.1:'"$ia"'" and r["capacity"]["cpu"]>0 else 1)' \
    "$tmp/m/registered-node-a.json" && ok "registration names its ingress and capacity" || bad "registration" "$(cat "$tmp/m/registered-node-a.json")"

# --- an assignment starts the app (bundle fetched, checked, unpacked)
plan 1 0
wait_for "node-a serves its assignment" curl -sf -o /dev/null "http://127.0.0.1:$ia/e/x"
check "the app answers on the ingress" 200 '^path: /x$' "http://127.0.0.1:$ia/e/x"
grep -q '^header: HTTP_X_FROM_OVERRIDE=yes$' "$tmp/body" && ok "overrides.env reaches the app" || bad "overrides.env" "$(cat "$tmp/body")"
[ -f "$tmp/node-a/bundles/$digest/app.qyv" ] && ok "bundle cached in DATA/bundles/HEX" || bad "bundle cached" "$(ls -R "$tmp/node-a")"
wait_for "heartbeat reports the app" reported node-a 's["apps"]["echo"]["replicas"]==1 and s["apps"]["echo"]["ready"]==1 and s["apps"]["echo"]["revision"]==1'

# --- scaling resizes the pool in place with no request failing
# 100 requests of 50 ms, 4 at a time: the change lands in the middle.
seq 100 | xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "http://127.0.0.1:$ia/e/s{}?sleep=50" >"$tmp/codes" &
load=$!
sleep 0.3
plan 3 0
wait $load
wait_for "heartbeat reports 3 replicas" reported node-a 's["apps"]["echo"]["replicas"]==3 and s["apps"]["echo"]["ready"]==3'
codes=$(sort "$tmp/codes" | uniq -c | tr -s ' ' | tr '\n' ' ')
[ "$(grep -vc '^200$' "$tmp/codes")" = 0 ] && ok "scaled 1 -> 3 under load: every request 200 ($codes)" || bad "scale under load" "$codes"
grep -q '"message":"app scaled".*"from":1,"to":3' "$tmp/node-a.log" && ok "logged: app scaled from 1 to 3 (not replaced)" ||
    bad "logged: app scaled" "$(tail -3 "$tmp/node-a.log")"
check "GET /v1/metrics" 200 '^qyvol_replicas_ready\{app="echo"\} 3$' "${auth[@]}" "http://127.0.0.1:$pa/v1/metrics"
check "the master thread's lines are kept too" 200 '"message":"registered with the master"' "${auth[@]}" "http://127.0.0.1:$pa/v1/logs?tail=1000"
check "GET /v1/logs?app=echo" 200 '"message":"request"' "${auth[@]}" "http://127.0.0.1:$pa/v1/logs?app=echo&tail=5"

# --- a NodePort
plan 3 0 "$np"
wait_for "node port open" curl -sf -o /dev/null "http://127.0.0.1:$np/"
check "the NodePort serves the app at its root" 200 '^path: /hello$' "http://127.0.0.1:$np/hello"

# --- a broken app is left out, once, and the others run on
BROKEN=1 plan 3 0 "$np"
wait_for "the broken app is refused" grep -q '"message":"cannot run an assigned app; left out' "$tmp/node-a.log"
sleep 1
n=$(grep -c 'cannot run an assigned app' "$tmp/node-a.log")
grep -q "left out until its assignment changes.*app.qyv:5:1: .*did you mean 'timeout'" "$tmp/node-a.log" && [ "$n" = 1 ] &&
    ok "a broken app: its FILE:LINE:COLUMN logged once, not loaded again" || bad "a broken app" "$n lines: $(grep -m1 'assigned app' "$tmp/node-a.log")"
check "the other apps run on" 200 '^path: /still$' "http://127.0.0.1:$ia/e/still"
plan 3 0 "$np"

# --- the master goes away: the node keeps serving
kill -KILL "$master"
sleep 1
check "serving while the master is away" 200 '^path: /alone$' "http://127.0.0.1:$ia/e/alone"
grep -q 'the master cannot be reached' "$tmp/node-a.log" && ok "logged: master unreachable" || bad "logged: master unreachable" "$(tail -3 "$tmp/node-a.log")"
start_master
wait_for "back with the master" grep -q 'the master answers' "$tmp/node-a.log"

# --- a second node; node-a forwards to it
start_node node-b "$pb" "$ib" || exit 1
b=$node_pid
plan 0 1
wait_for "node-a stops the app" reported node-a 's["apps"]=={}'
wait_for "node-b runs the app" reported node-b 's["apps"].get("echo",{}).get("ready")==1'
port_closed() { ! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$np/"; }
wait_for "the NodePort closes with its route" port_closed && ok "the NodePort closes with its route"
check "node-a forwards to node-b" 200 '^header: HTTP_X_QYVOL_FORWARDED=node-a$' "http://127.0.0.1:$ia/e/fwd"
grep -q '"path":"/e/fwd"' "$tmp/node-b.log" && ok "node-b ran the forwarded request" || bad "node-b ran it" "$(grep fwd "$tmp/node-b.log")"
check "a forwarded request is never forwarded again (421: not here)" 421 'does not run the app' -H 'X-Qyvol-Forwarded: node-x' "http://127.0.0.1:$ia/e/loop"
check "POST forwarded with its body" 200 '^body: posted$' -d posted "http://127.0.0.1:$ia/e/post"

# --- node-b restarts: node-a's kept connections to it broke, which is no
# reason to count node-b down
stop_node "$b" node-b
mv "$tmp/node-b.log" "$tmp/node-b.first.log"
start_node node-b "$pb" "$ib" || exit 1
b=$node_pid
wait_for "node-b runs the app again" curl -sf -o /dev/null "http://127.0.0.1:$ib/e/back"
check "forwarded to the restarted node-b" 200 '^header: HTTP_X_QYVOL_FORWARDED=node-a$' "http://127.0.0.1:$ia/e/again"
grep -q '"message":"a node could not be reached".*"node":"node-b"' "$tmp/node-a.log" &&
    bad "node-b not counted down" "$(grep -m1 'could not be reached' "$tmp/node-a.log")" || ok "node-b not counted down"

# --- a dead endpoint first in the list: idempotent requests are retried
plan 0 1 0 dead
wait_for "routes with a dead node" curl -s -o /dev/null "http://127.0.0.1:$ia/e/warm"
sleep 0.5
for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$ia/e/r$i"; done >"$tmp/codes"
[ "$(grep -vc '^200$' "$tmp/codes")" = 0 ] && ok "GETs past a dead node all 200 (retried, then avoided)" ||
    bad "retries past a dead node" "$(sort "$tmp/codes" | uniq -c | tr '\n' ' ')"
grep -q '"message":"a node could not be reached".*"node":"node-c"' "$tmp/node-a.log" && ok "logged: node-c unreachable" ||
    bad "logged: node-c unreachable" "$(grep -c reached "$tmp/node-a.log")"

# --- both nodes serve: round robin across them from node-a's ingress
plan 1 1
wait_for "both run the app" reported node-a 's["apps"].get("echo",{}).get("ready")==1'
for i in 1 2 3 4; do served_by_a "/e/rr$i"; done >"$tmp/rr"
local_n=$(grep -c '^path: /rr' "$tmp/rr")
fwd_n=$(grep -c 'HTTP_X_QYVOL_FORWARDED=node-a' "$tmp/rr")
[ "$local_n" = 4 ] && [ "$fwd_n" = 2 ] && ok "round robin over node-a and node-b: 2 local, 2 forwarded" ||
    bad "round robin across nodes" "$local_n answers, $fwd_n forwarded"

# --- a route a heartbeat old names node-b, which runs nothing: node-b
# answers 421 and node-a runs the request itself, a POST too
STALE=1 plan 1 0
wait_for "node-b stops the app" reported node-b 's["apps"]=={}'
sleep 0.5
for i in 1 2 3 4; do curl -s -o /dev/null -w '%{http_code}\n' -d posted "http://127.0.0.1:$ia/e/stale$i"; done >"$tmp/codes"
[ "$(grep -vc '^200$' "$tmp/codes")" = 0 ] && ok "stale route: node-b's 421 sends the POSTs back here, all 200" ||
    bad "stale route" "$(sort "$tmp/codes" | uniq -c | tr '\n' ' ')"
grep -q '"path":"/e/stale' "$tmp/node-b.log" && bad "node-b ran nothing" "$(grep stale "$tmp/node-b.log" | head -2)" ||
    ok "node-b ran none of them"

# --- removal
plan 0 0
wait_for "node-a removes the app" reported node-a 's["apps"]=={}'
wait_for "node-b removes the app" reported node-b 's["apps"]=={}'
check "removed: 404" 404 'no app serves' "http://127.0.0.1:$ia/e/gone"

stop_node "$a" node-a
stop_node "$b" node-b
finish
