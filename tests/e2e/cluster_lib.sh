# Shared by the cluster's end-to-end tests (cluster.sh, autoscale.sh): a
# free loopback port, a command's status and output checked, and bounded
# polling. The caller defines ok, bad and $tmp.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
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
