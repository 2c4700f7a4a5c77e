#!/usr/bin/env bash
# `qyv serve` against hostile clients: request smuggling and other framing
# tricks (http_strict.py), slow clients, descriptor exhaustion, a
# connection cap, clients that give up, reload storms, and who may use the
# control endpoints. Usage: tests/e2e/http_hardening.sh [BUILD_DIR]. Ends
# with "N passed, N failed, N skipped"; every server started is stopped.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
skipped=0
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }

apps=(examples/http-hello/app.qyv examples/http-echo/app.qyv)

# ---------------------------------------------------------------- framing
start --header-timeout 2s --client-timeout 5s "${apps[@]}" || exit 1
python3 "$here/http_strict.py" "$port" >"$tmp/strict" 2>&1
cat "$tmp/strict"
passed=$((passed + $(grep -c '^ok ' "$tmp/strict")))
failed=$((failed + $(grep -c '^FAIL ' "$tmp/strict")))
grep -q '^ok ' "$tmp/strict" || bad "http_strict.py ran" "$(tail -5 "$tmp/strict")"

# Slowloris: a head that trickles in, a byte every 0.3 s (never idle for
# --client-timeout), is cut off at --header-timeout.
if python3 - "$port" <<'PY'
import select, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t = time.time()
head = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
data, took = b"", None
try:
    for b in head:
        s.send(bytes([b]))
        if select.select([s], [], [], 0.3)[0]:  # an answer, or the close
            took = time.time() - t
            data = s.recv(1024)
            break
except (BrokenPipeError, ConnectionResetError):
    took = time.time() - t
ok = took is not None and 1.5 < took < 3.5 and (data == b"" or data.startswith(b"HTTP/1.1 408 "))
print("took %s s, got %r" % (took and round(took, 1), data[:40]))
sys.exit(0 if ok else 1)
PY
then ok "a trickling head is dropped at --header-timeout"; else bad "slowloris" "not dropped at --header-timeout (2s)"; fi

# The logs of a follower that disconnects are not leaked (LeakSanitizer
# in the ASan run) and the server keeps serving.
token=$(cat "${XDG_RUNTIME_DIR:-/tmp/qyvol-$(id -u)}"/qyvol/serve-"$port".token 2>/dev/null ||
        cat /tmp/qyvol-"$(id -u)"/serve-"$port".token 2>/dev/null)
[ ${#token} -eq 64 ] && ok "control token written for the port" || bad "control token" "no token file found"
for _ in 1 2 3; do
    curl -s -o /dev/null --max-time 0.5 -H "Authorization: Bearer $token" "$url/_qyvol/logs?follow=1"
done
check "logs with the token" 200 '"listening"' -H "Authorization: Bearer $token" "$url/_qyvol/logs?tail=100000"
check "logs without the token" 401 'control token' "$url/_qyvol/logs"
check "logs with a wrong token" 401 'control token' -H "Authorization: Bearer ${token%?}x" "$url/_qyvol/logs"
check "logs for a rebinding Host" 403 'localhost' -H "Host: evil.example:$port" -H "Authorization: Bearer $token" "$url/_qyvol/logs"
check "reload without the token" 401 'control token' -X POST "$url/_qyvol/reload"
check "logs tail=-5" 400 'whole number' -H "Authorization: Bearer $token" "$url/_qyvol/logs?tail=-5"
check "logs tail=abc" 400 'whole number' -H "Authorization: Bearer $token" "$url/_qyvol/logs?tail=abc"
check "health in detail for this machine" 200 '"replicas":' "$url/_qyvol/health"
check "a request to log" 200 '' "$url/hello"
"$QYV" logs --listen 127.0.0.1:"$port" -n 5 >"$tmp/qlogs" 2>&1 && grep -q '"request"' "$tmp/qlogs" &&
    ok "qyv logs reads the server's token" || bad "qyv logs" "$(head -3 "$tmp/qlogs")"
stop

# Health from another machine is terse, and the control endpoints refuse
# it even with the token: listen on every address, ask through this
# machine's own non-loopback address.
ext=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.' | grep -v '^127\.' | head -1)
if [ -n "$ext" ]; then
    "$QYV" serve --listen 0.0.0.0:"$port" "${apps[@]}" >"$tmp/log" 2>&1 &
    pid=$!
    wait_for "server up on 0.0.0.0" curl -s -o /dev/null "$url/_qyvol/health"
    token=$(cat /tmp/qyvol-"$(id -u)"/serve-"$port".token "${XDG_RUNTIME_DIR:-/nonexistent}"/qyvol/serve-"$port".token 2>/dev/null | head -1)
    check "health for a remote client is terse" 200 '^\{"status":"ok"\}$' "http://$ext:$port/_qyvol/health"
    check "logs refused to a remote client with the token" 403 'this machine' -H "Authorization: Bearer $token" "http://$ext:$port/_qyvol/logs"
    stop
else
    skip "remote health" "this machine has no non-loopback IPv4 address"
fi

# ---------------------------------------------------------------- capacity
# A connection cap: the fifth client waits in the backlog until one of the
# four goes.
start --max-connections 4 "${apps[@]}" || exit 1
if python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
time.sleep(0.3)
fifth = socket.create_connection(("127.0.0.1", port), timeout=0.8)
fifth.sendall(b"GET /hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
try:
    early = fifth.recv(100)
except socket.timeout:
    early = b""
held.pop().close()
fifth.settimeout(5)
late = fifth.recv(100)
print("early %r, late %r" % (early[:20], late[:20]))
sys.exit(0 if early == b"" and late.startswith(b"HTTP/1.1 200") else 1)
PY
then ok "--max-connections: the next client waits for a free slot"; else bad "--max-connections" "not held or not served"; fi
stop

# Out of descriptors: the front must not spin on accept, and must serve
# again once descriptors are free.
(ulimit -n 48 && exec "$QYV" serve --listen 127.0.0.1:"$port" --workers 1 "${apps[@]}") >"$tmp/log" 2>&1 &
pid=$!
wait_for "server up with 48 descriptors" curl -s -o /dev/null "$url/_qyvol/health"
if python3 - "$port" "$pid" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0
held = []
for _ in range(80):
    try: held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError: break
time.sleep(0.2)
before = cpu(); time.sleep(2); spent = cpu() - before
for s in held: s.close()
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
ans = s.recv(100)
print("cpu %.2f s in 2 s with %d connections; then %r" % (spent, len(held), ans[:20]))
sys.exit(0 if spent < 0.4 and ans.startswith(b"HTTP/1.1 200") else 1)
PY
then ok "out of descriptors: no busy accept loop, serving again after"; else bad "EMFILE" "spun or did not recover"; fi
stop

# ---------------------------------------------------------------- clients that give up
# 40 slow requests whose clients leave at once must not hold up the next
# one: those still queued are dropped (499), not run.
printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /echo\ntimeout: 5s\n' >"$tmp/echo.qyv"
cp examples/http-echo/echo.wasm "$tmp/"
start --workers 1 "$tmp/echo.qyv" || exit 1
python3 - "$port" <<'PY'
import socket, sys
for i in range(40):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /echo?sleep=300 HTTP/1.1\r\nHost: x\r\n\r\n")
    s.close()
PY
t0=$(date +%s%N)
check "a request after 40 abandoned slow ones" 200 '^path: /after$' "$url/echo/after"
took=$((($(date +%s%N) - t0) / 1000000))
[ "$took" -lt 6000 ] && ok "abandoned requests were not run ($took ms)" || bad "abandoned requests" "took $took ms"
n499=$(grep -c '"status":499' "$tmp/log")
[ "$n499" -ge 20 ] && ok "abandoned requests logged as 499 ($n499)" || bad "499 logged" "$n499 of 40"
stop

# ---------------------------------------------------------------- reload storm
# 20 SIGHUPs in a second under load: every request answered 200.
start "${apps[@]}" || exit 1
python3 - "$port" >"$tmp/load" <<'PY' &
import http.client, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
codes = {}
end = time.time() + 3
while time.time() < end:
    try:
        conn.request("GET", "/echo/x"); r = conn.getresponse(); r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
    except Exception as e:
        codes[type(e).__name__] = codes.get(type(e).__name__, 0) + 1
        conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
print(codes)
PY
load=$!
sleep 0.5
for _ in $(seq 20); do kill -HUP "$pid"; sleep 0.05; done
wait $load
codes=$(cat "$tmp/load")
case "$codes" in
"{200: "*"}") ok "20 SIGHUPs under load: every request answered 200 ($codes)" ;;
*) bad "reload storm" "answers: $codes" ;;
esac
sleep 0.5
reloads=$(grep -c '"reloaded"' "$tmp/log")
[ "$reloads" -ge 1 ] && [ "$reloads" -le 20 ] && ok "reloads coalesced ($reloads loads for 20 signals)" ||
    bad "reloads coalesced" "$reloads loads"
check "serving after the storm" 200 '^path: /y$' "$url/echo/y"
if grep -q 'cannot make the group\|Device or resource busy' "$tmp/log"; then
    bad "reload storm: no cgroup collisions" "$(grep -m2 'cannot make the group\|busy' "$tmp/log")"
else
    ok "reload storm: no cgroup collisions between draining and new pools"
fi
stop

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
