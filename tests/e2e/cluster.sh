#!/usr/bin/env bash
# Cluster mode end to end, the guide's flow on real processes: a master and
# three nodes on loopback, driven by the `qyv cluster` commands as a user
# would (init, set-master, add-node, list-nodes, health, deploy with flags,
# scale, status, logs, metrics, remove), then a node killed under load, a
# master restart under load, refused tokens and refused deploys.
# Usage: tests/e2e/cluster.sh [BUILD_DIR]. Ends with "N passed, N failed,
# N skipped"; every process it starts is stopped.
set -u
BUILD=${1:-build}
QYV=$(cd "$(dirname "$BUILD/qyv")" && pwd)/qyv
REPO=$(pwd)
passed=0 failed=0 skipped=0
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
source "$(dirname "$0")/cluster_lib.sh"
# stop_pid PID NAME: SIGTERM, at most 10 s, then status 0 expected.
stop_pid() {
    local p=$1 name=$2
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then bad "$name stops on SIGTERM" "still running after 10 s"; kill -KILL "$p"; fi
    wait "$p" 2>/dev/null
    local rc=$?
    [ $rc -eq 0 ] && ok "$name stops on SIGTERM" || bad "$name stops on SIGTERM" "status $rc"
}

export XDG_CONFIG_HOME=$tmp/config
mport=$(free_port)
master=127.0.0.1:$mport

# ---------------------------------------------------------------- init
expect "cluster init" 0 "qyv master" "$QYV" cluster init --plain-http
token_file=$XDG_CONFIG_HOME/qyvol/token
[ "$(stat -c %a "$token_file" 2>/dev/null)" = 600 ] && ok "token stored 0600" || bad "token stored 0600" "$(ls -l "$token_file" 2>&1)"
[ "$(tr -d '\n' <"$token_file" | wc -c)" -ge 64 ] && ok "token has 256 bits" || bad "token length" "$(wc -c <"$token_file")"
expect "init again refuses to overwrite" 1 "exists|--force" "$QYV" cluster init --plain-http
token=$(cat "$token_file")

mingress=$(free_port)
"$QYV" master --plain-http --listen "$master" --ingress 127.0.0.1:"$mingress" --data "$tmp/master" >"$tmp/master.log" 2>&1 &
mpid=$!
pids+=("$mpid")
until_true 10 curl -sf -H "Authorization: Bearer $token" "http://$master/v1/health" ||
    bad "master starts" "$(tail -5 "$tmp/master.log")"
expect "set-master" 0 "" "$QYV" cluster set-master "$master"

declare -a nport iport npid
for i in 1 2 3; do
    nport[$i]=$(free_port)
    iport[$i]=$(free_port)
    "$QYV" node --plain-http --listen 127.0.0.1:"${nport[$i]}" --ingress 127.0.0.1:"${iport[$i]}" --data "$tmp/node$i" \
        --name "node-$i" --token-file "$token_file" --capacity memory=1GiB,cpu=2 >"$tmp/node$i.log" 2>&1 &
    npid[$i]=$!
    pids+=("${npid[$i]}")
done
for i in 1 2 3; do
    until_true 10 curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:${nport[$i]}/v1/node" ||
        bad "node-$i starts" "$(tail -5 "$tmp/node$i.log")"
    expect "add-node node-$i" 0 "node-$i" "$QYV" cluster add-node 127.0.0.1:"${nport[$i]}"
done
nodes_ready() { [ "$("$QYV" cluster list-nodes 2>/dev/null | grep -c ' ready ')" -eq "$1" ]; }
until_true 10 nodes_ready 3 && ok "three nodes ready" || bad "three nodes ready" "$("$QYV" cluster list-nodes 2>&1)"
expect "list-nodes shows capacity" 0 "node-1 +127\.0\.0\.1:${nport[1]} +ready" "$QYV" cluster list-nodes
expect "list-nodes --output json" 0 '"status": ?"ready"' "$QYV" cluster list-nodes --output json
expect "cluster health" 0 "" "$QYV" cluster health

# ---------------------------------------------------------------- deploy
app=$tmp/app
mkdir -p "$app"
cp examples/http-echo/echo.wasm "$app/"
printf 'name: web\nentrypoint: echo.wasm\ntype: http\nroute: /web\ntimeout: 5s\n' >"$app/app.qyv"
t0=$(date +%s%N)
expect "deploy with flags" 0 "node-1" "$QYV" cluster deploy "$app/app.qyv" --replicas 10 --memory 32MB --cpu 0.1 --env MODE=cluster
serving_everywhere() {
    for i in 1 2 3; do curl -sf "http://127.0.0.1:${iport[$i]}/web/x" | grep -q '^path: /x$' || return 1; done
}
ready_count() { "$QYV" cluster status web --output json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["replicas"]["ready"])'; }
all_ready() { [ "$(ready_count)" = "$1" ]; }
if until_true 20 all_ready 10 && until_true 10 serving_everywhere; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    ok "10 replicas on 3 nodes serving, $ms ms after deploy"
    echo "REPORT deploy-to-serving-ms $ms"
else
    bad "deploy serves" "$("$QYV" cluster status web 2>&1 | head -20)"
fi
curl -s "http://127.0.0.1:${iport[1]}/web/x" | grep -q '^header: ' || true
body=$(curl -s "http://127.0.0.1:${iport[2]}/web/env")
expect "status lists the app" 0 "web" "$QYV" cluster status
served_by_master() { curl -sf "http://127.0.0.1:$mingress/web/m" | grep -q '^path: /m$'; }
until_true 5 served_by_master && ok "the master's ingress serves the app" || bad "master ingress" "$(curl -s "http://127.0.0.1:$mingress/web/m")"
# Requests through one ingress reach replicas on every node (cluster-wide balancing).
for _ in $(seq 30); do curl -s -o /dev/null "http://127.0.0.1:$mingress/web/spread"; done
spread=$(for i in 1 2 3; do grep -c '"path":"/web/spread"' "$tmp/node$i.log"; done | tr '\n' ' ')
if [[ " $spread" =~ \ 0\  ]]; then bad "balanced over every node" "requests per node: $spread"
else ok "balanced over every node ($spread)"; fi
# `qyv deploy FILE SERVER` (the guide's single-command form), with a NodePort.
hp=$(free_port)
expect "qyv deploy FILE SERVER with --port" 0 "" "$QYV" deploy examples/http-hello/app.qyv "http://$master" --port "$hp" --replicas 2
nodeport() { for i in 1 2 3; do curl -sf "http://127.0.0.1:$hp/world" | grep -q "asked for '/world'" || return 1; done; }
# (On one loopback address one node binds the port; cluster_netns.sh
# checks every node's own address.)
until_true 10 nodeport && ok "--port: the app answers on its NodePort" || bad "NodePort" "$(curl -s "http://127.0.0.1:$hp/world")"
expect "remove the second app" 0 "" "$QYV" cluster remove hello
# --nodes: the guide's "desplegar en nodos específicos".
expect "deploy --nodes" 0 "" "$QYV" cluster deploy examples/http-hello/app.qyv --replicas 4 --nodes node-1,node-2
only_12() { "$QYV" cluster status hello --output json | python3 -c 'import json,sys; p=json.load(sys.stdin)["placement"]; sys.exit(0 if sorted(p) == ["node-1","node-2"] and sum(v["ready"] for v in p.values()) == 4 else 1)'; }
until_true 10 only_12 && ok "--nodes node-1,node-2: replicas only there" || bad "--nodes" "$("$QYV" cluster status hello 2>&1)"
expect "deploy --nodes naming no node" 1 "not a node" "$QYV" cluster deploy examples/http-hello/app.qyv --nodes node-9
expect "remove hello" 0 "" "$QYV" cluster remove hello
# A wasi:http component (the hand-written handler), served by the nodes through the same runtime.
capp=$tmp/component-app
mkdir -p "$capp"
cp build/tests/components/http/hello.wasm "$capp/app.component.wasm"
printf 'name: whttp\nentrypoint: app.component.wasm\nruntime: wasip2\ntype: http\nroute: /whttp\n' >"$capp/app.qyv"
expect "deploy a wasi:http component" 0 "" "$QYV" cluster deploy "$capp/app.qyv" --replicas 3
component_served() {
    for i in 1 2 3; do curl -sf "http://127.0.0.1:${iport[$i]}/whttp/x" | grep -q '^Hello from a hand-written wasi:http' || return 1; done
}
until_true 10 component_served && ok "every node's ingress serves the component" || bad "component served" "$(curl -s "http://127.0.0.1:${iport[1]}/whttp/x")"
expect "remove the component app" 0 "" "$QYV" cluster remove whttp
# logs --follow: lines from the nodes as they come.
"$QYV" cluster logs web --follow >"$tmp/follow" 2>&1 &
fpid=$!
sleep 0.5
for _ in 1 2 3 4 5 6; do curl -s -o /dev/null "http://127.0.0.1:${iport[1]}/web/followed"; done
followed() { grep -q '"path":"/web/followed"' "$tmp/follow"; }
until_true 5 followed && ok "cluster logs --follow streams new lines" || bad "logs --follow" "$(head -c 300 "$tmp/follow")"
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
placement=$("$QYV" cluster status web --output json | python3 -c 'import json,sys; p=json.load(sys.stdin)["placement"]; print(" ".join(str(c) for c in sorted(p[k]["wanted"] for k in p)))')
[ "$placement" = "3 3 4" ] && ok "replicas spread 4/3/3" || bad "spread" "$placement"

expect "scale down" 0 "" "$QYV" cluster scale web --replicas 3
until_true 10 all_ready 3 && ok "scaled to 3" || bad "scaled to 3" "ready: $(ready_count)"
expect "scale by manifest file" 0 "" "$QYV" cluster scale "$app/app.qyv" --replicas 10
until_true 20 all_ready 10 && ok "scaled back to 10 (app named by its manifest)" || bad "scale by manifest" "ready: $(ready_count)"

for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:${iport[1]}/web/log-me"; done
expect "cluster logs, merged with node names" 0 '"node":"node-[123]"' "$QYV" cluster logs web
expect "cluster logs --node" 0 '"node":"node-2"' "$QYV" cluster logs web --node node-2
expect "cluster metrics" 0 "web" "$QYV" cluster metrics
expect "cluster metrics --app --node" 0 "node-1" "$QYV" cluster metrics --app web --node node-1
curl -s -H "Authorization: Bearer $token" "http://$master/v1/metrics" >"$tmp/metrics"
grep -q '^qyvol_cluster_node_up{node="node-1"} 1$' "$tmp/metrics" && grep -q 'qyvol_http_requests_total{node="node-1"' "$tmp/metrics" &&
    ok "master metrics: nodes up and node-labelled request counts" || bad "master metrics" "$(head -c 500 "$tmp/metrics")"
if command -v promtool >/dev/null || [ -x /opt/qyvol-tools/promtool ]; then
    pt=$(command -v promtool || echo /opt/qyvol-tools/promtool)
    "$pt" check metrics <"$tmp/metrics" >"$tmp/promtool" 2>&1 && ok "master metrics pass promtool" || bad "promtool" "$(head -5 "$tmp/promtool")"
fi

# ---------------------------------------------------------------- refusals
bad_app=$tmp/bad
mkdir -p "$bad_app"
cp examples/http-echo/echo.wasm "$bad_app/"
printf 'name: broken\nentrypoint: echo.wasm\ntype: http\ndeploy:\n  replicas: lots\n' >"$bad_app/app.qyv"
expect "broken manifest refused with file:line" 1 "app.qyv:5:[0-9]+:" "$QYV" cluster deploy "$bad_app/app.qyv"
printf 'not wasm' >"$bad_app/junk.wasm"
printf 'name: junk\nentrypoint: junk.wasm\ntype: http\n' >"$bad_app/junk.qyv"
expect "broken module refused" 1 "not a valid WebAssembly module" "$QYV" cluster deploy "$bad_app/junk.qyv"
expect "too big for any node refused with the reason" 1 "memory" "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 5GiB
expect "the same deploy again changes nothing" 0 "" "$QYV" cluster deploy "$app/app.qyv" --replicas 10 --memory 32MB --cpu 0.1 --env MODE=cluster
for ep in "GET /v1/health" "GET /v1/nodes" "POST /v1/nodes" "GET /v1/apps" "POST /v1/apps" "GET /v1/apps/web" \
    "POST /v1/apps/web/scale" "DELETE /v1/apps/web" "GET /v1/apps/web/logs" "GET /v1/metrics" "POST /v1/bundles" \
    "POST /v1/nodes/register" "POST /v1/nodes/node-1/heartbeat" "DELETE /v1/nodes/node-1"; do
    set -- $ep
    c1=$(curl -s -o /dev/null -w '%{http_code}' -X "$1" -d '{}' "http://$master$2")
    c2=$(curl -s -o /dev/null -w '%{http_code}' -X "$1" -d '{}' -H "Authorization: Bearer wrong$token" "http://$master$2")
    [ "$c1$c2" = 401401 ] || bad "token required on $ep" "got $c1 without and $c2 with a wrong token"
done
ok "every endpoint refuses a missing or wrong token (401)"
all_ready 10 && ok "refused calls changed nothing" || bad "refused calls changed nothing" "ready $(ready_count)"

# ---------------------------------------------------------------- a node dies under load
load() { # load SECONDS PORTS...: GETs round the given ingresses; prints "ok failed"
    python3 - "$@" <<'PY'
import http.client, sys, time
secs, ports = float(sys.argv[1]), sys.argv[2:]
okc = fail = 0
end = time.time() + secs
i = 0
while time.time() < end:
    p = ports[i % len(ports)]; i += 1
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(p), timeout=5)
        c.request("GET", "/web/load"); r = c.getresponse(); r.read()
        if r.status == 200: okc += 1
        else: fail += 1
    except Exception:
        fail += 1
    time.sleep(0.01)
print(okc, fail)
PY
}
load 6 "${iport[1]}" "${iport[2]}" >"$tmp/load1" &
lpid=$!
sleep 1
kill -KILL "${npid[3]}"
t0=$(date +%s%N)
moved() { [ "$(ready_count)" = 10 ] && ! "$QYV" cluster status web --output json | grep -q '"node-3"'; }
if until_true 15 moved; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    ok "node-3 killed: its replicas serve again elsewhere in $ms ms"
    echo "REPORT node-failover-ms $ms"
else
    bad "failover" "$("$QYV" cluster status web 2>&1 | head)"
fi
wait $lpid
read -r okc failc <"$tmp/load1"
[ "$failc" -eq 0 ] && ok "no failed request on the surviving nodes' ingress ($okc served)" ||
    bad "requests during a node's death" "$failc failed, $okc served"
expect "list-nodes shows node-3 down" 0 "node-3 .* down" "$QYV" cluster list-nodes
expect "health fails while a node is down" 1 "node-3" "$QYV" cluster health

# ---------------------------------------------------------------- the master restarts under load
load 5 "${iport[1]}" "${iport[2]}" >"$tmp/load2" &
lpid=$!
sleep 0.5
stop_pid "$mpid" "master"
"$QYV" master --plain-http --listen "$master" --ingress 127.0.0.1:"$mingress" --data "$tmp/master" >"$tmp/master2.log" 2>&1 &
mpid=$!
pids+=("$mpid")
until_true 10 curl -sf -H "Authorization: Bearer $token" "http://$master/v1/health" || bad "master restarts" "$(tail -5 "$tmp/master2.log")"
wait $lpid
read -r okc failc <"$tmp/load2"
[ "$failc" -eq 0 ] && ok "master restart: no failed request ($okc served)" || bad "master restart" "$failc failed"
expect "master restart: the app is still known" 0 '"wanted": ?10' "$QYV" cluster status web --output json
until_true 10 all_ready 10 && ok "master restart: all 10 replicas ready" || bad "after restart" "ready $(ready_count)"

# ---------------------------------------------------------------- remove
expect "remove" 0 "" "$QYV" cluster remove web
gone() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${iport[1]}/web/x")" = 404 ]; }
until_true 10 gone && ok "removed app no longer served" || bad "remove" "still served"
expect "status after remove" 1 "no app" "$QYV" cluster status web

for i in 1 2; do stop_pid "${npid[$i]}" "node-$i"; done
stop_pid "$mpid" "master"
# `qyv cluster up`: the one-command local cluster, with its own config.
(
    export XDG_CONFIG_HOME=$tmp/up-config
    "$QYV" cluster up --nodes 2 --dir "$tmp/up" >"$tmp/up.out" 2>&1 &
    upid=$!
    two_ready() { [ "$("$QYV" cluster list-nodes 2>/dev/null | grep -c ' ready ')" -eq 2 ]; }
    until_true 20 two_ready && ok "cluster up --nodes 2: a master and two nodes ready" ||
        bad "cluster up" "$(head -c 600 "$tmp/up.out")"
    expect "deploy on the cluster up made" 0 "" "$QYV" cluster deploy examples/http-hello/app.qyv --replicas 2
    iport_up=$(grep -m1 -oE 'node-1 .*apps on 127\.0\.0\.1:[0-9]+' "$tmp/up.out" | grep -oE '[0-9]+$')
    up_serves() { curl -sf "http://127.0.0.1:$iport_up/hello/up" | grep -q "asked for '/up'"; }
    until_true 10 up_serves && ok "the app serves on a node of cluster up" || bad "cluster up serves" "ingress $iport_up"
    kill -INT "$upid"
    for _ in $(seq 100); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
    left=$(pgrep -f "$tmp/up" | wc -l)
    ! kill -0 "$upid" 2>/dev/null && [ "$left" -eq 0 ] && ok "Ctrl-C stops the whole local cluster" ||
        { bad "cluster up stops" "$left processes left"; kill -KILL "$upid" 2>/dev/null; pkill -KILL -f "$tmp/up"; }
    echo "$passed $failed" >"$tmp/up.counts"
)
read -r passed failed <"$tmp/up.counts"

grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/*.log &&
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/*.log | head -40)"

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
