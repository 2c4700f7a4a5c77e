#!/usr/bin/env bash
# A cluster whose master and nodes really sit at different addresses: each
# in its own network namespace, joined by veth pairs to a bridge in a
# fifth namespace (10.77.0.0/24; nothing in this machine's own network is
# touched), all of it over TLS 1.3 as by default (the master's certificate
# names its addresses, nodes get theirs when they join). Nodes join with
# --master; an app with a NodePort is reached on every node's own address;
# a node's ingress forwards to replicas on other nodes over mutual TLS; a
# node cut off from the master only (a partition) keeps serving, is marked
# down, its replica is placed elsewhere, and once healed the nodes run no
# more replicas than wanted; a node cut off the network stops getting
# traffic.
# Usage: tests/e2e/cluster_netns.sh [BUILD_DIR]. Needs root and `ip netns`:
# without them it reports its checks as skipped. Ends with "N passed, N
# failed, N skipped".
set -u
BUILD=${1:-build}
QYV=$(cd "$(dirname "$BUILD/qyv")" && pwd)/qyv
passed=0 failed=0 skipped=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
source "$(dirname "$0")/netns_lib.sh"
if ! netns_usable qvt; then
    echo "SKIP network namespaces: needs root and ip netns"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
declare -A addr=([m]=10.77.0.1 [1]=10.77.0.11 [2]=10.77.0.12 [3]=10.77.0.13)
netns_up qvt m 1 2 3 || exit 1
until_true 5 in_ns 1 ping -c1 -W1 "${addr[2]}" && ok "nodes reach each other over the bridge" ||
    bad "network" "node 1 cannot ping node 2"

export XDG_CONFIG_HOME=$tmp/config
# TLS, as by default: the master listens on all its addresses (its
# certificate names each), the nodes join with the cluster token and CA.
"$QYV" cluster init >/dev/null 2>&1 || bad "init" "failed"
token_file=$XDG_CONFIG_HOME/qyvol/token
token=$(cat "$token_file")
master=${addr[m]}:7000
# `ip netns exec` runs the command in its own place: $! is the server.
ip netns exec "qvt-m-$tag" "$QYV" master --listen 0.0.0.0:7000 --data "$tmp/master" >"$tmp/master.log" 2>&1 &
pids+=($!)
"$QYV" cluster set-master "$master" >/dev/null
until_true 10 in_ns m curl -sf --cacert "$XDG_CONFIG_HOME/qyvol/ca.crt" -H "Authorization: Bearer $token" "https://$master/v1/health" ||
    bad "master starts" "$(tail -3 "$tmp/master.log")"
declare -A npid
for n in 1 2 3; do
    ip netns exec "qvt-$n-$tag" "$QYV" node --listen "${addr[$n]}:7001" --ingress "${addr[$n]}:8080" --master "$master" \
        --name "node-$n" --data "$tmp/node$n" --token-file "$token_file" --capacity memory=512MiB,cpu=1 \
        >"$tmp/node$n.log" 2>&1 &
    npid[$n]=$!
    pids+=($!)
done
cli() { in_ns m "$QYV" "$@"; }
three_ready() { [ "$(cli cluster list-nodes | grep -c ' ready ')" -eq 3 ]; }
until_true 15 three_ready && ok "three nodes in their own namespaces joined with --master" ||
    bad "nodes join" "$(cli cluster list-nodes 2>&1)"
cli cluster list-nodes | grep -q "node-2 *10\.77\.0\.12:7001" && ok "nodes listed at their own addresses" ||
    bad "node addresses" "$(cli cluster list-nodes 2>&1)"

app=$tmp/app
mkdir -p "$app"
cp examples/http-echo/echo.wasm "$app/"
printf 'name: web\nentrypoint: echo.wasm\ntype: http\nroute: /web\n' >"$app/app.qyv"
cli cluster deploy "$app/app.qyv" --replicas 3 --port 9000 >"$tmp/deploy" 2>&1 || bad "deploy" "$(cat "$tmp/deploy")"
on_every_port() { for n in 1 2 3; do in_ns m curl -sf "http://${addr[$n]}:9000/x" | grep -q '^path: /x$' || return 1; done; }
until_true 15 on_every_port && ok "NodePort 9000 answers on every node's address" ||
    bad "NodePort" "$(for n in 1 2 3; do in_ns m curl -s "http://${addr[$n]}:9000/x" | head -2; done)"
# One replica per node: node 1's ingress reaches the others' replicas
# (in batches of 30, until each has answered: node 1 learns the routes to
# a replica that just became ready with its next heartbeat).
cross_to_all() {
    for _ in $(seq 30); do in_ns m curl -s -o /dev/null "http://${addr[1]}:8080/web/cross"; done
    served=$(for n in 1 2 3; do grep -c '"path":"/web/cross"' "$tmp/node$n.log"; done | tr '\n' ' ')
    ! [[ " $served" =~ \ 0\  ]]
}
until_true 10 cross_to_all && ok "one node's ingress balances over replicas on all three ($served)" ||
    bad "forwarded across namespaces" "requests per node: $served"

# ---------------------------------------------------------------- a partition
# Node 3 cut off from the master only (blackhole routes both ways; the
# nodes and clients still reach it): it keeps serving what it runs, the
# master marks it down and places its replica elsewhere, and once healed
# it is reconciled: the nodes run no more replicas than wanted.
runs_on() { # runs_on N: the replicas of web node N runs, as it says itself (asked from node 1's side)
    in_ns 1 curl -s --max-time 3 --cacert "$XDG_CONFIG_HOME/qyvol/ca.crt" --cert "$XDG_CONFIG_HOME/qyvol/master.pem" \
        "https://${addr[$1]}:7001/v1/node" | python3 -c 'import json,sys; print(json.load(sys.stdin)["apps"].get("web",{}).get("replicas",0))' 2>/dev/null ||
        echo "?"
}
total_runs() { echo $(($(runs_on 1) + $(runs_on 2) + $(runs_on 3))); }
partition() { # partition add|del
    ip -n "qvt-3-$tag" route "$1" blackhole "${addr[m]}/32" && ip -n "qvt-m-$tag" route "$1" blackhole "${addr[3]}/32"
}
partition add || bad "partition" "cannot add the blackhole routes"
t0=$(date +%s%N)
in_ns m curl -s --max-time 2 -o /dev/null "http://${addr[3]}:9000/x" && bad "partition" "the master still reaches node 3" ||
    ok "partition: node 3 and the master cannot reach each other"
down() { cli cluster list-nodes | grep -q 'node-3 .* down'; }
until_true 10 down && ok "partition: node 3 marked down" || bad "node 3 down" "$(cli cluster list-nodes 2>&1)"
placed_elsewhere() {
    cli cluster status web --output json | python3 -c '
import json, sys
d = json.load(sys.stdin); p = d["placement"]
sys.exit(0 if "node-3" not in p and d["replicas"]["ready"] == 3 and sum(v["wanted"] for v in p.values()) == 3 else 1)'
}
until_true 10 placed_elsewhere && echo "REPORT partition-replaced-ms $(ms_since "$t0")" &&
    ok "partition: its replica placed elsewhere, 3 ready on node-1 and node-2" ||
    bad "placed elsewhere" "$(cli cluster status web 2>&1)"
fails=0
for _ in $(seq 20); do
    code=$(in_ns 1 curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${addr[3]}:9000/partitioned")
    [ "$code" = 200 ] || fails=$((fails + 1))
done
[ $fails -eq 0 ] && grep -q '"path":"/web/partitioned"' "$tmp/node3.log" && [ "$(runs_on 3)" = 1 ] &&
    ok "partition: node 3, cut off from the master, keeps serving with its own replica (20 of 20)" ||
    bad "node 3 serves" "$fails of 20 failed; node 3 runs $(runs_on 3)"
partition del || bad "heal" "cannot remove the blackhole routes"
t0=$(date +%s%N)
healed() { cli cluster list-nodes | grep -q 'node-3 .* ready' && [ "$(total_runs)" = 3 ] && [ "$(runs_on 3)" != "?" ]; }
if until_true 15 healed; then
    echo "REPORT partition-healed-ms $(ms_since "$t0")"
    sleep 2 # and it stays so
    [ "$(total_runs)" = 3 ] && ok "healed: node 3 ready again, the nodes run 3 replicas as wanted ($(runs_on 1)+$(runs_on 2)+$(runs_on 3))" ||
        bad "healed stays" "$(runs_on 1)+$(runs_on 2)+$(runs_on 3)"
else
    bad "healed" "$(cli cluster list-nodes 2>&1); runs $(runs_on 1)+$(runs_on 2)+$(runs_on 3)"
fi
ready3() { [ "$(cli cluster status web --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["replicas"]["ready"])')" = 3 ]; }
until_true 10 ready3 && ok "healed: 3 of 3 ready" || bad "ready after heal" "$(cli cluster status web 2>&1)"
# Every node runs one again before the next check: node 1's balancing.
spread() { [ "$(runs_on 1)" -ge 1 ] && [ "$(runs_on 2)" -ge 1 ]; }
until_true 10 spread || true

# Cut node 3 off: traffic through node 1 keeps being answered.
ip -n "qvt-3-$tag" link set "qvtb3$tag" down
fails=0
for _ in $(seq 60); do
    code=$(in_ns m curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${addr[1]}:8080/web/after")
    [ "$code" = 200 ] || fails=$((fails + 1))
    sleep 0.05
done
[ $fails -eq 0 ] && ok "node 3 cut off: every request through node 1 answered" || bad "cut off" "$fails of 60 failed"
until_true 10 down && ok "node 3 marked down" || bad "node 3 down" "$(cli cluster list-nodes 2>&1)"

netns_stop
[ $stuck -eq 0 ] && [ "$left" -eq 0 ] && ok "master and nodes stop on SIGTERM, nothing left in the namespaces" ||
    bad "stop" "$stuck did not stop, $left processes left"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/*.log &&
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/*.log | head -40)"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
