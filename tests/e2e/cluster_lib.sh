# Shared by the cluster's end-to-end tests (cluster.sh, autoscale.sh,
# ha.sh, disk_full.sh): a free loopback port, a command's status and output
# checked, bounded polling, the echo app "web" and its status. The caller
# defines ok, bad, $tmp (and $QYV for the app's status).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# steady_port: a free port below the ephemeral range (32768 and up), where
# no outgoing connection can take it between now and its use (a server
# started later, a process restarted on it); each given once per run
# ($tmp/ports), so two processes never draw the same one.
steady_port() {
    python3 - "$tmp/ports" <<'PY'
import os, random, socket, sys
used = set(open(sys.argv[1]).read().split()) if os.path.exists(sys.argv[1]) else set()
while True:
    p = random.randrange(20000, 32000)
    if str(p) in used: continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    open(sys.argv[1], "a").write("%d\n" % p)
    print(p)
    break
PY
}
# expect NAME STATUS REGEX CMD...: exit status and output.
expect() {
    local name=$1 want=$2 pattern=$3 rc
    shift 3
    "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -ne "$want" ]; then bad "$name" "status $rc, expected $want: $(head -c 600 "$tmp/out")"
    elif ! grep -qE -e "$pattern" "$tmp/out"; then bad "$name" "output does not match /$pattern/: $(head -c 600 "$tmp/out")"
    else ok "$name"; fi
}
# until_true SECONDS CMD...: poll every 0.1 s.
until_true() {
    local deadline=$(($(date +%s%N) + $1 * 1000000000))
    shift
    while [ "$(date +%s%N)" -lt $deadline ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
# echo_app DIR: the echo example as the app "web" on /web, in DIR.
echo_app() {
    mkdir -p "$1"
    cp examples/http-echo/echo.wasm "$1/"
    printf 'name: web\nentrypoint: echo.wasm\ntype: http\nroute: /web\ntimeout: 5s\n' >"$1/app.qyv"
}
# status_field EXPR: EXPR (Python, on d) of `qyv cluster status web --output json`.
status_field() { "$QYV" cluster status web --output json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ready_is() { [ "$(status_field 'd["replicas"]["ready"]')" = "$1" ]; }

# counts APP: its READY column in `qyv cluster status`, wanted/running/ready
# (no python in polls: its start alone can take a second on a busy machine).
counts() { "$QYV" cluster status "$1" 2>/dev/null | awk -v app="$1" '$1 == app { print $5; exit }'; }

# start_cluster NODES MASTER_FLAGS...: `cluster init` in $tmp/config, a
# master with the flags and NODES nodes (node-1, ...; 2 CPUs and 1 GiB
# each) on free loopback ports, all ready. Sets master, token, nport[i],
# iport[i] (API and ingress ports), npid[i]; every pid goes in pids.
# NODE_FLAGS: more options for every node.
start_cluster() {
    local count=$1 i
    shift
    export XDG_CONFIG_HOME=$tmp/config
    "$QYV" cluster init --plain-http >/dev/null 2>&1 || bad "cluster init" "failed"
    token=$(cat "$XDG_CONFIG_HOME/qyvol/token")
    master=127.0.0.1:$(free_port)
    "$QYV" master --plain-http --listen "$master" --data "$tmp/master" "$@" >"$tmp/master.log" 2>&1 &
    pids+=($!)
    until_true 10 curl -sf -H "Authorization: Bearer $token" "http://$master/v1/health" ||
        bad "master starts" "$(tail -5 "$tmp/master.log")"
    "$QYV" cluster set-master "$master" >/dev/null
    declare -g -a nport iport npid
    for i in $(seq "$count"); do
        nport[$i]=$(free_port) iport[$i]=$(free_port)
        "$QYV" node --plain-http --listen 127.0.0.1:"${nport[$i]}" --ingress 127.0.0.1:"${iport[$i]}" --data "$tmp/node$i" \
            --name "node-$i" --master "$master" --token-file "$XDG_CONFIG_HOME/qyvol/token" \
            --capacity memory=1GiB,cpu=2 ${NODE_FLAGS:-} >"$tmp/node$i.log" 2>&1 &
        npid[$i]=$!
        pids+=($!)
    done
    nodes_ready() { [ "$("$QYV" cluster list-nodes 2>/dev/null | grep -c ' ready ')" -eq "$count" ]; }
    until_true 15 nodes_ready && ok "$count nodes ready" ||
        bad "$count nodes ready" "$("$QYV" cluster list-nodes 2>&1; tail -3 "$tmp/node1.log")"
}

# stop_all: SIGTERM to every process in the caller's array pids, SIGKILL
# to those still running 10 s later.
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 100); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    pids=()
}
