#!/usr/bin/env bash
# The guide's cluster section on real processes, on loopback: a master and
# three nodes, then init, set-master, add-node, list-nodes, health, deploy
# with flags, status, a request through the ingress, scale, logs, metrics,
# remove — and refusals (a wrong token, a broken manifest, replicas that do
# not fit). Every process is stopped on exit, within bounded time.
# Needs `qyv master` and `qyv node` (issue 11). Usage:
# tests/e2e/cluster.sh [BUILD]; ends with "N passed, N failed, N skipped".
. "$(dirname "$0")/lib.sh"

export XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
unset QYVOL_MASTER QYVOL_TOKEN_FILE
pids=()
stop_all() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 100); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.05
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    pids=()
}
trap 'stop_all; cleanup' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

expect() {
    local name=$1 want=$2 pattern=$3 rc
    shift 3
    "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -ne "$want" ]; then bad "$name" "status $rc, not $want: $(head -5 "$tmp/out")"
    elif ! grep -qE -e "$pattern" "$tmp/out"; then bad "$name" "output does not match /$pattern/: $(head -5 "$tmp/out")"
    else ok "$name"; fi
}

# wait_for NAME SECONDS CMD...: until CMD succeeds.
wait_for() {
    local name=$1 seconds=$2
    shift 2
    for _ in $(seq $((seconds * 20))); do
        "$@" >/dev/null 2>&1 && { ok "$name"; return 0; }
        sleep 0.05
    done
    bad "$name" "not within $seconds s"
    return 1
}

expect "cluster init" 0 "cluster token:" "$QYV" cluster init
token_file=$XDG_CONFIG_HOME/qyvol/token

master_port=$(free_port) ingress_port=$(free_port)
"$QYV" master --listen 127.0.0.1:"$master_port" --ingress 127.0.0.1:"$ingress_port" --data "$tmp/master" \
    --token-file "$token_file" >"$tmp/master.log" 2>&1 &
pids+=($!)
node_ports=()
for n in a b c; do
    p=$(free_port) i=$(free_port)
    "$QYV" node --listen 127.0.0.1:"$p" --ingress 127.0.0.1:"$i" --data "$tmp/node-$n" --name "node-$n" \
        --token-file "$token_file" --capacity memory=1GiB,cpu=2 >"$tmp/node-$n.log" 2>&1 &
    pids+=($!)
    node_ports+=("$p")
done

expect "set-master" 0 "^master: 127.0.0.1:$master_port" "$QYV" cluster set-master "127.0.0.1:$master_port"
wait_for "master answers" 10 curl -sf -H "Authorization: Bearer $(cat "$token_file")" "http://127.0.0.1:$master_port/v1/health"
for k in 0 1 2; do
    expect "add-node ${node_ports[$k]}" 0 "^node node-[abc] at 127.0.0.1:${node_ports[$k]}" \
        "$QYV" cluster add-node "127.0.0.1:${node_ports[$k]}"
done
wait_for "three nodes ready" 10 bash -c "'$QYV' cluster list-nodes | grep -c ' ready ' | grep -qx 3"
expect "list-nodes" 0 "^node-a +127.0.0.1:${node_ports[0]} +ready" "$QYV" cluster list-nodes
expect "health" 0 "healthy: 3 of 3 nodes ready" "$QYV" cluster health

app=examples/http-hello/app.qyv
expect "deploy with flags" 0 "^deployed hello revision [0-9]+: 6 replicas on node-a 2, node-b 2, node-c 2" \
    "$QYV" cluster deploy "$app" --replicas 6 --memory 64MiB --cpu 0.1 --env GREETING=hola
wait_for "six replicas ready" 10 bash -c "'$QYV' cluster status hello --output json | grep -q '\"ready\": 6'"
expect "served through the ingress" 0 "." curl -sf "http://127.0.0.1:$ingress_port/hello"
expect "scale" 0 "^scaled hello revision [0-9]+: 3 replicas" "$QYV" cluster scale "$app" --replicas 3
expect "logs" 0 '"node"' "$QYV" cluster logs "$app"
expect "metrics" 0 "qyvol_cluster_node_up +node-a" "$QYV" cluster metrics
expect "metrics --app" 0 "hello" "$QYV" cluster metrics --app "$app"

# Refusals.
printf 'wrong-token-wrong-token-wrong-token\n' >"$tmp/wrong"
expect "wrong token" 1 "refused the token" "$QYV" cluster list-nodes --token-file "$tmp/wrong"
expect "too big to place" 1 "pending: .*memory" "$QYV" cluster deploy "$app" --replicas 100 --memory 512MiB

expect "remove" 0 "^removed hello" "$QYV" cluster remove hello
expect "status after remove" 0 "no apps yet" "$QYV" cluster status

stop_all
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
