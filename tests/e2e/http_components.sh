#!/usr/bin/env bash
# wasi:http components under `qyv serve`: the hand-written handlers
# (tests/components/http/*.wat) and the JavaScript one of
# examples/http-component (componentize-js; its checks are reported as
# skipped when it was not built), with an upstream server on loopback for
# outbound requests. Usage (from the repository root):
# tests/e2e/http_components.sh [BUILD_DIR]. Ends with "N passed, N failed,
# N skipped". Every server it starts is stopped, with bounded waits.
. "$(dirname "$0")/lib.sh"
G=build/tests/components/http
JS=examples/http-component/app.component.wasm
skipped=0
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }

# The upstream the JavaScript handler fetches from, and a port nothing listens on.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up_port=$(free_port) closed_port=$(free_port)
mkdir -p "$tmp/up"
echo "upstream body" >"$tmp/up/x.txt"
python3 -m http.server "$up_port" --bind 127.0.0.1 --directory "$tmp/up" >/dev/null 2>&1 &
up_pid=$!
trap 'kill "$up_pid" 2>/dev/null; cleanup' EXIT

# app NAME ENTRYPOINT [EXTRA YAML...]: an app folder $tmp/NAME served at /NAME.
app() {
    local name=$1 wasm=$2
    shift 2
    mkdir -p "$tmp/$name"
    cp "$wasm" "$tmp/$name/app.wasm"
    printf 'name: %s\nentrypoint: app.wasm\ntype: http\nroute: /%s\n' "$name" "$name" >"$tmp/$name/app.qyv"
    for line in "$@"; do printf '%s\n' "$line" >>"$tmp/$name/app.qyv"; done
}
app hello "$G/hello.wasm" "runtime: wasip2"
app trap "$G/trap.wasm"
app loop "$G/loop.wasm" "timeout: 300ms"
apps=("$tmp/hello/app.qyv" "$tmp/trap/app.qyv" "$tmp/loop/app.qyv")
have_js=0
if [ -f "$JS" ]; then
    have_js=1
    app js "$JS" "runtime: wasip2" "timeout: 20s" "permissions:" "  net:" "    allowed_hosts: [127.0.0.1]" \
        "    allowed_ports: [$up_port, $closed_port]"
    apps+=("$tmp/js/app.qyv")
fi

"$QYV" validate examples/http-component/app.qyv >"$tmp/out" 2>&1 && ok "the example's manifest is valid" ||
    bad "the example's manifest is valid" "$(head -3 "$tmp/out")"

# Refused when loading: the kind the manifest says against the entrypoint's.
app wrongkind "$G/hello.wasm" "runtime: wasip1"
"$QYV" serve --listen 127.0.0.1:"$port" "$tmp/wrongkind/app.qyv" >"$tmp/out" 2>&1
grep -qE "app.qyv:5:10: 'runtime' is wasip1 \(a core module\), but .*app.wasm is a WebAssembly component" "$tmp/out" &&
    ok "runtime: wasip1 refuses a component, naming FILE:LINE:COLUMN" || bad "runtime: wasip1" "$(head -3 "$tmp/out")"
app command build/tests/components/cmd.component.wasm
"$QYV" serve --listen 127.0.0.1:"$port" "$tmp/command/app.qyv" >"$tmp/out" 2>&1
grep -q "does not export wasi:http/incoming-handler@0.2.x" "$tmp/out" &&
    ok "a command component is not served" || bad "a command component is not served" "$(head -3 "$tmp/out")"

start --workers 2 "${apps[@]}" || exit 1

check "hand-written handler" 200 '^Hello from a hand-written wasi:http component$' "$url/hello"
check "a trap gives 500" 500 'the app failed' "$url/trap"
check "the next request works" 200 '^Hello from a hand-written' "$url/hello"
check "a trap again (a fresh instance)" 500 'the app failed' "$url/trap"
grep -q '"message":"the app trapped: unreachable"' "$tmp/log" && ok "the trap is logged" || bad "the trap is logged" "not in the log"
t0=$(date +%s%N)
check "timeout gives 504" 504 'took too long' "$url/loop"
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -lt 5000 ] && ok "the timeout interrupts the handler (${ms} ms)" || bad "timeout" "${ms} ms"
check "served after the timeout" 200 '^Hello' "$url/hello"

if [ $have_js -eq 1 ]; then
    check "JavaScript handler" 200 '^Hello from JavaScript in a component, GET /js/x$' "$url/js/x"
    head -c 300000 /dev/urandom >"$tmp/big"
    code=$(curl -s -D "$tmp/h" -o "$tmp/echoed" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/x-test' \
        --data-binary @"$tmp/big" "$url/js/echo?status=201")
    if [ "$code" = 201 ] && cmp -s "$tmp/big" "$tmp/echoed"; then ok "POST: 300 KB streamed in and out, status 201"
    else bad "POST echo" "status $code, $(wc -c <"$tmp/echoed") bytes back"; fi
    grep -qi '^content-type: application/x-test' "$tmp/h" && grep -qi '^x-echo-length: 300000' "$tmp/h" &&
        ok "response headers set by the guest" || bad "response headers" "$(cat "$tmp/h")"
    check "status code from the guest" 404 '^not here$' "$url/js/echo?status=404" --data-binary 'not here'
    check "request headers reach the guest" 200 '^x-custom: forty two$' -H 'X-Custom: forty two' "$url/js/headers?a=1"
    grep -q '^GET /js/headers?a=1$' "$tmp/body" && ok "method, path and query" || bad "method, path and query" "$(head -2 "$tmp/body")"
    curl -s -D "$tmp/h" -o /dev/null "$url/js/headers"
    grep -qiE '^x-multi: one, two' "$tmp/h" && ok "a repeated response header" || bad "a repeated response header" "$(cat "$tmp/h")"
    check "a JavaScript exception gives 500" 500 'the app failed' "$url/js/throw"
    check "served after the exception" 200 '^Hello from JavaScript' "$url/js/"
    check "outbound to an allowed host and port" 200 '^upstream 200: upstream body$' \
        "$url/js/fetch?url=http://127.0.0.1:$up_port/x.txt"
    check "outbound to a host not allowed" 502 '^fetch failed' "$url/js/fetch?url=http://localhost:$up_port/x.txt"
    wait_for "the refused host is logged" grep -q "outbound request to localhost:$up_port refused: the host is not in permissions.net.allowed_hosts" "$tmp/log" &&
        ok "the refused host is logged"
    check "outbound to a port not allowed" 502 '^fetch failed' "$url/js/fetch?url=http://127.0.0.1:9/x.txt"
    wait_for "the refused port is logged" grep -q "outbound request to 127.0.0.1:9 refused: the port is not in permissions.net.allowed_ports" "$tmp/log" &&
        ok "the refused port is logged"
    check "outbound to an allowed port with nothing there" 502 '^fetch failed' "$url/js/fetch?url=http://127.0.0.1:$closed_port/x"
else
    for c in "JavaScript handler" "POST streamed" "headers both ways" "status codes" "exception gives 500" \
        "outbound allowed" "outbound refused"; do
        skip "$c" "examples/http-component was not built (componentize-js is missing; scripts/deps.sh installs it)"
    done
fi

curl -s "$url/_qyvol/metrics" >"$tmp/metrics"
grep -qE '^qyvol_http_requests_total\{app="trap",route="/trap",code="500"\} 2$' "$tmp/metrics" &&
    grep -qE '^qyvol_traps_total\{app="trap",kind="unreachable"\} 2$' "$tmp/metrics" &&
    ok "requests and traps in the metrics" || bad "metrics" "$(grep -E 'app="trap"' "$tmp/metrics" | head -5)"
stop

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
