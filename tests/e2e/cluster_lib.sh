# Shared by the cluster's end-to-end tests (cluster.sh, autoscale.sh,
# ha.sh, disk_full.sh): a free loopback port, a command's status and output
# checked, bounded polling, the echo app "web" and its status. The caller
# defines ok, bad, $tmp (and $QYV for the app's status).
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
# echo_app DIR: the echo example as the app "web" on /web, in DIR.
echo_app() {
    mkdir -p "$1"
    cp examples/http-echo/echo.wasm "$1/"
    printf 'name: web\nentrypoint: echo.wasm\ntype: http\nroute: /web\ntimeout: 5s\n' >"$1/app.qyv"
}
# status_field EXPR: EXPR (Python, on d) of `qyv cluster status web --output json`.
status_field() { "$QYV" cluster status web --output json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ready_is() { [ "$(status_field 'd["replicas"]["ready"]')" = "$1" ]; }
