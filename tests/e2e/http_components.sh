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
app stream "$G/stream.wasm" "timeout: 20s"
app slow "$G/stream.wasm" "timeout: 1s"
apps=("$tmp/hello/app.qyv" "$tmp/trap/app.qyv" "$tmp/loop/app.qyv" "$tmp/stream/app.qyv" "$tmp/slow/app.qyv")
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
app unlinkable "$G/unlinkable.wasm"
"$QYV" serve --listen 127.0.0.1:"$port" "$tmp/unlinkable/app.qyv" >"$tmp/out" 2>&1
grep -q "app.wasm cannot be served: unknown import: wasi:http/types@0.2.0#\[method\]incoming-request.no-such-method (the host has no such function)" "$tmp/out" &&
    ok "imports the host lacks are refused when the app loads" || bad "imports checked at load" "$(head -3 "$tmp/out")"
app command build/tests/components/cmd.component.wasm
"$QYV" serve --listen 127.0.0.1:"$port" "$tmp/command/app.qyv" >"$tmp/out" 2>&1
grep -q "does not export wasi:http/incoming-handler@0.2.x" "$tmp/out" &&
    ok "a command component is not served" || bad "a command component is not served" "$(head -3 "$tmp/out")"

start --workers 2 --max-body 64MiB "${apps[@]}" || exit 1

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
    # (StarlingMonkey sets a 500 response, then fails to finish its body: the head went out, the rest is cut.)
    check "a JavaScript exception gives 500" 500 '' "$url/js/throw"
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

# Streamed responses (tests/components/http/stream.wat).
# rss_kb: the server's and its replicas' resident memory together.
rss_kb() { ps -o rss= -p "$pid" --ppid "$pid" | awk '{s += $1} END {print s}'; }
curl -s -N -o "$tmp/body" -w '%{http_code} %{time_starttransfer} %{time_total}' "$url/stream" >"$tmp/times"
read -r code ttfb total <"$tmp/times"
if [ "$code" = 200 ] && [ "$(cat "$tmp/body")" = "$(printf 'first part\nsecond part')" ] &&
    awk -v f="$ttfb" -v t="$total" 'BEGIN { exit !(f < 0.3 && t >= 0.6) }'; then
    ok "the first part arrives before the guest finishes (first byte ${ttfb}s, all ${total}s)"
else bad "time to first byte" "status $code, first byte ${ttfb}s, all ${total}s, body $(head -c 100 "$tmp/body")"; fi
curl -s -0 -D "$tmp/h" -o "$tmp/body" "$url/stream"
grep -qi '^connection: close' "$tmp/h" && ! grep -qi '^transfer-encoding' "$tmp/h" && [ "$(wc -l <"$tmp/body")" = 2 ] &&
    ok "HTTP/1.0: the streamed body ends with the connection" || bad "HTTP/1.0 stream" "$(cat "$tmp/h")"
before=$(rss_kb)
curl -s -o /dev/null --limit-rate 40M -w '%{http_code} %{size_download}' "$url/stream/big" >"$tmp/big" &
curl_pid=$!
peak=0
while kill -0 "$curl_pid" 2>/dev/null; do
    now=$(rss_kb)
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.1
done
wait "$curl_pid"
grown=$(((peak - before) / 1024))
if [ "$(cat "$tmp/big")" != "200 52428800" ]; then bad "50 MiB download" "$(cat "$tmp/big")"
elif [[ $BUILD == *asan* ]]; then ok "50 MiB streamed to a slow client (memory not checked: ASan keeps what is freed)"
elif [ $grown -lt 24 ]; then ok "50 MiB streamed to a slow client, server and replicas grew ${grown} MiB"
else bad "50 MiB download in bounded memory" "server and replicas grew ${grown} MiB"; fi
curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url/stream/trap" >"$tmp/out"; rc=$?
[ $rc = 18 ] && [ "$(cat "$tmp/out")" = "200 11" ] && ok "a trap after the head cuts the connection (curl: partial)" ||
    bad "trap after the head" "curl exit $rc, $(cat "$tmp/out")"
curl -s -o /dev/null --limit-rate 2M -w '%{size_download}' "$url/slow/big" >"$tmp/out"; rc=$?
[ $rc = 18 ] && [ "$(cat "$tmp/out")" -lt 52428800 ] && ok "a client too slow for the app's timeout is cut off" ||
    bad "slow client past the timeout" "curl exit $rc, $(cat "$tmp/out") bytes"
curl -s -o /dev/null --limit-rate 1M --max-time 0.3 "$url/stream/big"
check "a client gone mid-stream: the next request works" 200 '^second part$' "$url/stream"
# (Cut by the front while it waited for the client, or by the replica's watchdog while the guest ran.)
wait_for "the cut is logged" grep -qE "the client did not take the response within the app's timeout|the app ran past its timeout of 1000 ms" "$tmp/log" &&
    ok "the cut is logged"

# Request bodies as they arrive (stream.wat's /echo writes back each piece it reads).
ms=$(timeout 20 python3 tests/e2e/slow_body.py "$port" /stream/echo echo 2>&1)
[[ $ms =~ ^[0-9]+$ ]] && [ "$ms" -lt 250 ] &&
    ok "a body sent in parts is read part by part (each echoed within ${ms} ms, before the next is sent)" ||
    bad "a body read as it arrives" "$ms"
head -c 52428800 /dev/urandom >"$tmp/50m"
before=$(rss_kb)
curl -s -o "$tmp/50m.back" --limit-rate 40M -w '%{http_code}' --data-binary @"$tmp/50m" "$url/stream/echo" >"$tmp/out" &
curl_pid=$!
peak=0
while kill -0 "$curl_pid" 2>/dev/null; do
    now=$(rss_kb)
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.1
done
wait "$curl_pid"
grown=$(((peak - before) / 1024))
if [ "$(cat "$tmp/out")" != 200 ] || ! cmp -s "$tmp/50m" "$tmp/50m.back"; then bad "50 MiB upload echoed" "status $(cat "$tmp/out")"
elif [[ $BUILD == *asan* ]]; then ok "50 MiB up and back through the guest (memory not checked under ASan)"
elif [ $grown -lt 24 ]; then ok "50 MiB up and back through the guest, server and replicas grew ${grown} MiB"
else bad "50 MiB upload in bounded memory" "server and replicas grew ${grown} MiB"; fi
rm -f "$tmp/50m" "$tmp/50m.back"
secs=$(timeout 20 python3 tests/e2e/slow_body.py "$port" /slow/echo stall 2>&1)
[[ $secs =~ ^[0-9.]+$ ]] && awk -v s="$secs" 'BEGIN { exit !(s < 3) }' &&
    ok "a stalled body ends at the app's timeout (connection closed after ${secs} s)" || bad "a stalled body" "$secs"
timeout 20 python3 tests/e2e/slow_body.py "$port" /stream/echo leave
check "a client gone mid-body: the next request works" 200 '^abc$' --data-binary abc "$url/stream/echo"
check "a body over --max-body is still refused" 413 'larger than the server accepts' \
    -H 'Content-Length: 67108865' --data-binary abc "$url/stream/echo"

curl -s "$url/_qyvol/metrics" >"$tmp/metrics"
grep -qE '^qyvol_http_requests_total\{app="trap",route="/trap",code="500"\} 2$' "$tmp/metrics" &&
    grep -qE '^qyvol_traps_total\{app="trap",kind="unreachable"\} 2$' "$tmp/metrics" &&
    ok "requests and traps in the metrics" || bad "metrics" "$(grep -E 'app="trap"' "$tmp/metrics" | head -5)"
stop

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
