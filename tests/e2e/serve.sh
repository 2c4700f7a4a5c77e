#!/usr/bin/env bash
# `qyv serve` end to end: starts the real server on a loopback port with the
# http examples, talks to it with curl, and stops it. Usage (from the
# repository root): tests/e2e/serve.sh [BUILD_DIR]. Ends with
# "N passed, N failed, 0 skipped". Every server it starts is stopped, with
# bounded waits.
. "$(dirname "$0")/lib.sh"

start examples/http-hello/app.qyv examples/http-echo/app.qyv examples/http-rust/app.qyv || exit 1

check "hello" 200 "^Hello from Qyvol! You asked for '/world'.$" "$url/hello/world"
check "rust app" 200 '"method":"POST","path":"/x","body_bytes":5' -d 'hello' "$url/rust/x"
check "route prefix is a whole segment" 404 "no app serves" "$url/helloworld"
check "unknown path" 404 "no app serves" "$url/nope"
check "method and path" 200 '^method: PUT$' -X PUT "$url/echo/a%20b/c"
check "PATH_INFO is decoded" 200 '^path: /a b/c$' -X PUT "$url/echo/a%20b/c"
check "query string" 200 '^query: x=1&y=2$' "$url/echo?x=1&y=2"
check "matched route" 200 '^route: /echo/...$' "$url/echo"
check "headers as HTTP_*" 200 '^header: HTTP_X_CUSTOM=forty two$' -H 'X-Custom: forty two' "$url/echo"
check "no HTTP_AUTHORIZATION" 200 '^body:$' -H 'Authorization: Bearer secret' "$url/echo"
if grep -q AUTHORIZATION "$tmp/body"; then bad "Authorization hidden" "the app saw it"; else ok "Authorization hidden"; fi
check "body on stdin" 200 '^body: posted data$' --data-binary 'posted data' "$url/echo"
check "chunked request body" 200 '^body: chunk1chunk2$' -H 'Transfer-Encoding: chunked' --data-binary 'chunk1chunk2' "$url/echo"
check "Status header" 404 '^method: GET$' "$url/echo?status=404"
curl -s -D "$tmp/headers" -o /dev/null "$url/echo?type=text/html"
grep -qi '^Content-Type: text/html' "$tmp/headers" && ok "Content-Type header" || bad "Content-Type header" "$(cat "$tmp/headers")"
grep -qi '^X-Request-Id: ' "$tmp/headers" && ok "request id header" || bad "request id header" "missing"
check "trap gives 500" 500 'the app failed' "$url/echo?trap"
check "server survives a trap" 200 '^Hello' "$url/hello"

head -c 12000000 /dev/zero >"$tmp/big"
check "body over --max-body gives 413" 413 '' --data-binary @"$tmp/big" "$url/echo"

big_header=$(head -c 70000 /dev/zero | tr '\0' a)
check "headers over 64 KiB give 431" 431 'headers are too large' -H "X-Big: $big_header" "$url/echo"

# A runaway request times out (the manifest says 2s) while others go on.
curl -s -o "$tmp/spin" -w '%{http_code}' --max-time 20 "$url/echo?spin" >"$tmp/spin_code" &
spin=$!
sleep 0.3
start_ns=$(date +%s%N)
check "served during a runaway request" 200 '^Hello' "$url/hello"
took=$((($(date +%s%N) - start_ns) / 1000000))
[ "$took" -lt 1000 ] && ok "not blocked by the runaway ($took ms)" || bad "not blocked by the runaway" "took $took ms"
wait $spin
[ "$(cat "$tmp/spin_code")" = 504 ] && ok "runaway gets 504" || bad "runaway gets 504" "got $(cat "$tmp/spin_code")"

check "health" 200 '"status":"ok"' "$url/_qyvol/health"
check "metrics" 200 '^qyvol_http_requests_total\{app="echo",route="/echo",code="504"\} 1$' "$url/_qyvol/metrics"
if grep -q '^# TYPE qyvol_http_request_duration_seconds histogram$' "$tmp/body" &&
    grep -q '^qyvol_traps_total{app="echo",kind="timeout"} 1$' "$tmp/body" &&
    grep -q '^qyvol_traps_total{app="echo",kind="unreachable"} 1$' "$tmp/body"; then
    ok "metrics: histogram and traps by kind"
else
    bad "metrics: histogram and traps by kind" "$(head -c 600 "$tmp/body")"
fi
# Every metric line has a HELP and a TYPE for its family.
if python3 - "$tmp/body" <<'PY'
import re, sys
helped, typed = set(), set()
for line in open(sys.argv[1]):
    if line.startswith("# HELP "): helped.add(line.split()[2])
    elif line.startswith("# TYPE "): typed.add(line.split()[2])
    elif line.strip():
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if family not in helped or family not in typed:
            sys.exit(f"{name}: no HELP/TYPE")
PY
then ok "metrics: HELP and TYPE for every family"; else bad "metrics: HELP and TYPE for every family" "see above"; fi
# Prometheus' own checker (scripts/deps.sh puts it in /opt/qyvol-tools), lints included.
promtool=$(command -v promtool || echo /opt/qyvol-tools/promtool)
if [ -x "$promtool" ]; then
    if "$promtool" check metrics <"$tmp/body" >"$tmp/promtool" 2>&1; then ok "promtool check metrics"
    else bad "promtool check metrics" "$(head -c 600 "$tmp/promtool")"; fi
else
    bad "promtool check metrics" "promtool is missing (scripts/deps.sh extracts it from the prometheus package)"
fi

# Logs are JSON lines with an access line per request and the app's stderr.
if python3 - "$tmp/log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
access = [l for l in lines if l.get("message") == "request"]
assert access and all({"ts", "level", "app", "request_id", "method", "path", "status", "bytes", "duration_ms"} <= set(l) for l in access), "access lines"
assert any(l.get("stderr", "").startswith("echoed ") for l in lines), "stderr lines"
PY
then ok "logs are JSON lines"; else bad "logs are JSON lines" "$(tail -3 "$tmp/log")"; fi

# qyv logs reads the lines the server kept, by app and level, and follows.
"$QYV" logs --listen 127.0.0.1:"$port" -n 1000 echo >"$tmp/logs_echo"
if python3 - "$tmp/logs_echo" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and all(l.get("app") == "echo" for l in lines), "only echo's lines"
assert any(l.get("message") == "request" and l.get("status") == 504 for l in lines), "the 504 is there"
PY
then ok "qyv logs APP"; else bad "qyv logs APP" "$(head -c 300 "$tmp/logs_echo")"; fi
"$QYV" logs --listen 127.0.0.1:"$port" --level warn -n 1000 >"$tmp/logs_warn"
if [ -s "$tmp/logs_warn" ] && ! grep -q '"level":"info"' "$tmp/logs_warn" && grep -q 'the app trapped' "$tmp/logs_warn"; then
    ok "qyv logs --level warn"
else
    bad "qyv logs --level warn" "$(head -c 300 "$tmp/logs_warn")"
fi
timeout 20 "$QYV" logs --listen 127.0.0.1:"$port" --follow -n 0 hello >"$tmp/logs_follow" 2>&1 &
follower=$!
sleep 0.3

# Graceful shutdown: a request in flight when SIGTERM arrives completes.
curl -s -o /dev/null "$url/hello/followed"
curl -s -o "$tmp/slow" -w '%{http_code}' --max-time 20 "$url/echo?sleep=700" >"$tmp/slow_code" &
slow=$!
sleep 0.3
stop
wait $slow
[ "$(cat "$tmp/slow_code")" = 200 ] && ok "request in flight finishes on SIGTERM" || bad "request in flight finishes on SIGTERM" "got $(cat "$tmp/slow_code")"
wait $follower
rc=$?
[ $rc -eq 0 ] && grep -q '"path":"/hello/followed"' "$tmp/logs_follow" && ! grep -q '"app":"echo"' "$tmp/logs_follow" &&
    ok "qyv logs --follow, ended by the server's stop" || bad "qyv logs --follow" "status $rc: $(head -c 300 "$tmp/logs_follow")"

# Reload: a changed manifest is picked up by `qyv serve --reload` and by
# SIGHUP; a broken one is refused with its FILE:LINE and the old apps stay;
# a request in flight during a reload finishes.
app=$tmp/reload-app
mkdir -p "$app"
cp examples/http-echo/echo.wasm "$app/"
manifest() { printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: %s\ntimeout: 5s\n' "$1" >"$app/app.qyv"; }
manifest /a
start "$app/app.qyv" || exit 1
check "before reload" 200 '^method: GET$' "$url/a"
curl -s -o "$tmp/inflight" -w '%{http_code}' --max-time 20 "$url/a?sleep=800" >"$tmp/inflight_code" &
inflight=$!
sleep 0.3
manifest /b
out=$("$QYV" serve --reload --listen 127.0.0.1:"$port" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ "$out" = "reloaded: 1 apps" ] && ok "qyv serve --reload" || bad "qyv serve --reload" "status $rc: $out"
check "new route after reload" 200 '^route: /b/...$' "$url/b"
check "old route gone after reload" 404 'no app serves' "$url/a"
wait $inflight
[ "$(cat "$tmp/inflight_code")" = 200 ] && ok "request in flight survives a reload" || bad "request in flight survives a reload" "got $(cat "$tmp/inflight_code")"
printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /c\ntimout: 5s\n' >"$app/app.qyv"
out=$("$QYV" serve --reload --listen 127.0.0.1:"$port" 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "app.qyv:5:1: .*did you mean 'timeout'" && ok "broken manifest refused on reload" ||
    bad "broken manifest refused on reload" "status $rc: $out"
check "old apps kept after a failed reload" 200 '^route: /b/...$' "$url/b"
manifest /d
kill -HUP "$pid"
sleep 0.3
check "SIGHUP reloads" 200 '^route: /d/...$' "$url/d"
stop

# HTTP/1.1 connection handling: keep-alive, pipelined requests answered in
# order, and a client that stops mid-request dropped after --client-timeout.
printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /k\n' >"$app/app.qyv"
"$QYV" serve --listen 127.0.0.1:"$port" --client-timeout 1s "$app/app.qyv" >"$tmp/log" 2>&1 &
pid=$!
wait_for "server up" curl -s -o /dev/null "$url/_qyvol/health"
curl -sv -o /dev/null "$url/k/one" -o /dev/null "$url/k/two" 2>"$tmp/curl"
grep -q 'Re-using existing connection' "$tmp/curl" && ok "keep-alive: one connection, two requests" ||
    bad "keep-alive" "$(grep -i connect "$tmp/curl" | head -3)"
if python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /k/first HTTP/1.1\r\nHost: x\r\n\r\nGET /k/second HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
while data.count(b"HTTP/1.1 200") < 2 or not data.rstrip().endswith(b"body:"):
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
first, second = data.find(b"path: /first"), data.find(b"path: /second")
sys.exit(0 if 0 <= first < second else 1)
PY
then ok "pipelined requests answered in order"; else bad "pipelined requests" "answers missing or out of order"; fi
if python3 - "$port" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /k/slow HTTP/1.1\r\nHost: x\r\n")   # and then nothing
t = time.time()
data = b""
while True:  # the server answers 408 or not, and closes
    chunk = s.recv(1024)
    if not chunk: break
    data += chunk
ok = data == b"" or data.startswith(b"HTTP/1.1 408 ")
sys.exit(0 if ok and 0.5 < time.time() - t < 5 else 1)
PY
then ok "a stalled client is dropped after --client-timeout"; else bad "stalled client" "not dropped in 0.5-5 s"; fi
stop

# Memory: resources.memory caps each instance; a bomb past it traps (500)
# while a request within it passes, and the server is unharmed.
printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /m\ndeploy:\n  resources: { memory: 16MiB }\n' >"$app/app.qyv"
start "$app/app.qyv" || exit 1
check "within resources.memory: 200" 200 '^path: /small$' "$url/m/small?alloc=4"
check "memory bomb past resources.memory: 500" 500 'the app failed' "$url/m/bomb?alloc=64"
grep -q '"stderr":"could not allocate 64 MiB"' "$tmp/log" && ok "the bomb's allocation failed in the guest" ||
    bad "the bomb's allocation failed in the guest" "$(grep -m2 bomb "$tmp/log")"
check "serving after the bomb" 200 '^path: /after$' "$url/m/after"
stop

# Health checks: an app failing its check (echo answers /fail with 503) is
# taken out after `retries` failures (503 with Retry-After), shown in
# /_qyvol/health and the metrics, and back once a check passes.
hc_manifest() {
    printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /e\ndeploy:\n  health_check: { path: %s, interval: 100ms, timeout: 100ms, retries: 2 }\n' "$1" >"$app/app.qyv"
}
hc_manifest /fail
start "$app/app.qyv" || exit 1
for _ in $(seq 50); do
    curl -s "$url/_qyvol/health" | grep -q '"echo":"unhealthy"' && break
    sleep 0.1
done
check "failing health check: 503" 503 'failing its health check' "$url/e"
curl -s -D "$tmp/h" -o /dev/null "$url/e"
grep -qi '^Retry-After: 1' "$tmp/h" && ok "Retry-After on an unhealthy app" || bad "Retry-After on an unhealthy app" "$(cat "$tmp/h")"
check "health endpoint names the unhealthy app" 200 '"status":"degraded".*"echo":"unhealthy"' "$url/_qyvol/health"
check "qyvol_app_healthy is 0" 200 '^qyvol_app_healthy\{app="echo"\} 0$' "$url/_qyvol/metrics"
hc_manifest /ok
kill -HUP "$pid"
for _ in $(seq 50); do
    curl -s "$url/_qyvol/health" | grep -q '"echo":"healthy"' && break
    sleep 0.1
done
check "healthy again once a check passes" 200 '^path: $' "$url/e"
grep -q '"message":"healthy again"' "$tmp/log" && ok "logged: healthy again" || bad "logged: healthy again" "$(tail -3 "$tmp/log")"
stop

# A manifest like the guide's: no `type`, but a health check, so an http
# app on the default route; its exclude hides nothing, which is a warning
# logged as a warn line when the app is loaded, and again when a reload
# loads it anew (an unchanged app is not reloaded).
mkdir -p "$app/data"
printf 'name: echo\nentrypoint: echo.wasm\ndeploy:\n  health_check: { path: /ok, interval: 100ms, timeout: 100ms }\npermissions:\n  fs:\n    read: ["/app/data"]\n    exclude: ["/app/secrets"]\n' >"$app/app.qyv"
start "$app/app.qyv" || exit 1
wait_for "health check passes" sh -c "curl -s '$url/_qyvol/health' | grep -q '\"echo\":\"healthy\"'"
check "no type, a health check: served as http on /<name>" 200 '^path: /x$' "$url/echo/x"
warned() { [ "$(grep -c '"level":"warn".*app.qyv:8:15: warning: .permissions.fs.exclude\[0\]. is ./app/secrets.' "$tmp/log")" -eq "$1" ]; }
warned 1 && ok "manifest warning logged as a warn line" || bad "manifest warning logged as a warn line" "$(grep -m3 warn "$tmp/log")"
printf 'timeout: 5s\n' >>"$app/app.qyv"
kill -HUP "$pid"
wait_for "reloaded" grep -q '"message":"reloaded"' "$tmp/log"
warned 2 && ok "manifest warning logged again when a reload loads the app anew" || bad "manifest warning logged again at reload" "$(grep -c warning "$tmp/log") lines"
stop

# Bad configurations are refused before listening.
"$QYV" serve --listen 127.0.0.1:"$port" examples/hello/app.qyv >"$tmp/out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "not an http app" "$tmp/out" && ok "cli app refused" || bad "cli app refused" "status $rc: $(cat "$tmp/out")"
"$QYV" serve --listen 127.0.0.1:"$port" examples/http-echo/app.qyv examples/http-echo/app.qyv >"$tmp/out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "both want the route '/echo'" "$tmp/out" && ok "duplicate route refused" || bad "duplicate route refused" "status $rc: $(cat "$tmp/out")"
"$QYV" serve --listen nonsense examples/http-echo/app.qyv >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "takes ADDRESS:PORT" "$tmp/out" && ok "bad --listen refused" || bad "bad --listen refused" "status $rc: $(cat "$tmp/out")"

finish
