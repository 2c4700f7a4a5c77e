#!/usr/bin/env bash
# `qyv serve` end to end with replicas that take the connections and
# answer them themselves (the default; --direct names it, --no-direct
# turns it off). Checks that they do (request ids name a replica
# process), keep-alive, pipelining and bodies, that the server's own
# endpoints and other paths on the same connection still reach the front,
# timeouts, limits, metrics and logs, a replica killed mid-request (only
# its connections lost, restarted), reload, and a graceful stop that lets
# a request in flight finish. Usage (from the repository root):
# tests/e2e/direct.sh [BUILD_DIR]. Ends with "N passed, N failed, 0
# skipped"; every server it starts is stopped, with bounded waits.
. "$(dirname "$0")/lib.sh"

app=$tmp/app
mkdir -p "$app"
cp examples/http-echo/echo.wasm "$app/"
# manifest REPLICAS [EXTRA deploy LINES]
manifest() {
    printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /e\ntimeout: 1s\ndeploy:\n  replicas: %s\n%s' \
        "$1" "${2:-}" >"$app/app.qyv"
}
health() { curl -s "$url/_qyvol/health"; }
replica_pids() {
    health | python3 -c 'import json,sys; print(" ".join(str(r.get("pid","")) for r in list(json.load(sys.stdin)["replicas"].values())[0]))'
}
# Every replica takes connections.
serving() {
    health | python3 -c 'import json,sys; r=list(json.load(sys.stdin)["replicas"].values())[0]; sys.exit(0 if r and all(x.get("takes_connections") for x in r) else 1)'
}
# The pid in a direct request id (PREFIX-PID.THREAD.N, hex).
id_pid() { sed -n 's/^X-Request-Id: [0-9a-f]*-\([0-9a-f]*\)\.[0-9a-f]*\.[0-9a-f]*\r$/\1/ip' "$1" | head -1; }

manifest 2 '  resources: { memory: 32MiB }
'
# --direct, the default, is still accepted.
QYV_SERVE_FLAGS="${QYV_SERVE_FLAGS:-} --direct" start --workers 2 "$app/app.qyv" || exit 1
wait_for "replicas take connections" serving
grep -q '"message":"listening".*"direct":true' "$tmp/log" && ok "listening line says direct" ||
    bad "listening line says direct" "$(grep listening "$tmp/log")"

# Answered by a replica: the request id names one of the replica processes.
curl -s -D "$tmp/h" -o "$tmp/body" "$url/e/hello"
got=$(id_pid "$tmp/h")
pids=" $(replica_pids) "
[ -n "$got" ] && case "$pids" in *" $((16#$got)) "*) true ;; *) false ;; esac &&
    grep -qx 'path: /hello' "$tmp/body" && ok "a replica answers the request itself" ||
    bad "a replica answers the request itself" "id pid '$got', replicas$pids; $(cat "$tmp/h")"
check "request body" 200 '^body: posted data$' --data-binary 'posted data' "$url/e/post"
check "chunked request body" 200 '^body: chunk1chunk2$' -H 'Transfer-Encoding: chunked' --data-binary 'chunk1chunk2' "$url/e/c"
check "HEAD" 200 '^X-Request-Id: ' -I "$url/e/head"
grep -q '^path:' "$tmp/body" && bad "HEAD has no body" "$(cat "$tmp/body")" || ok "HEAD has no body"
check "a malformed request is refused" 400 '' -H 'Bad Header : x' "$url/e/x"

# One connection: keep-alive, pipelined requests answered in order, and
# the server's endpoints and another path in between (handed back to the
# front, which goes on serving that connection).
python3 - "$port" >"$tmp/pipe" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
reqs = [b"GET /e/p1 HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /e/p2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        b"GET /e/p3 HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /_qyvol/health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /e/p4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
s.sendall(b"".join(reqs))
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
text = data.decode("latin-1")
print(text.count("HTTP/1.1 "), [l.split(" ")[1] for l in text.split("\r\n") if l.startswith("HTTP/1.1 ")])
for key in ("path: /p1", "path: /p2", "body: abc", "path: /p3", '"status":"ok"', "no app serves", "path: /p4"):
    print(key in text, text.find(key))
PY
read -r count codes <"$tmp/pipe"
order=$(sed -n '2,$p' "$tmp/pipe" | awk '{print $2}' | tr '\n' ' ')
sorted=$(printf '%s\n' $order | sort -n | tr '\n' ' ')
[ "$count" = 6 ] && ! grep -q False "$tmp/pipe" && [ "$order" = "$sorted" ] &&
    ok "pipelined on one connection, in order, with /_qyvol/ and another path handed to the front" ||
    bad "pipelining on one connection" "$(cat "$tmp/pipe")"
check "metrics on a direct server" 200 '^qyvol_http_requests_total\{app="echo",route="/e",code="200"\} [0-9]+$' "$url/_qyvol/metrics"
answered() { curl -s "$url/_qyvol/metrics" | sed -n 's/^qyvol_http_requests_total{app="echo",route="\/e",code="200"} //p'; }
at_least_6() { test "$(answered)" -ge 6; }
wait_for "the replicas' answers are counted (read every 100 ms)" at_least_6 && ok "the replicas' answers are counted"
grep -q '"message":"request","app":"echo","replica":"[01]","request_id":"[0-9a-f]*-[0-9a-f]*\.[0-9a-f]*\.[0-9a-f]*","method":"POST","path":"/e/p2","status":200' "$tmp/log" &&
    ok "access line from the replica" || bad "access line from the replica" "$(grep '/e/p2' "$tmp/log")"

check "timeout gives 504" 504 'took too long' "$url/e/spin?spin"
check "trap gives 500" 500 'the app failed' "$url/e/trap?trap"
check "over the memory limit: fails in the guest" 500 'the app failed' "$url/e/m?alloc=64"
check "serving after them" 200 '^path: /after$' "$url/e/after"

# A replica killed mid-request: its connections close, the other
# replica's request finishes, the replica comes back.
read -r -a before <<<"$(replica_pids)"
slow=()
for i in 0 1 2 3; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$url/e/slow$i?sleep=800" >"$tmp/slow$i" &
    slow+=($!)
done
sleep 0.3
kill -KILL "${before[0]}"
wait "${slow[@]}"
codes=$(cat "$tmp"/slow? | sort | tr '\n' ' ')
case "$codes" in
*000*200*) ok "replica killed: its requests cut ($codes), the other replica's answered" ;;
*) bad "replica killed mid-request" "codes $codes (a request on each replica expected)" ;;
esac
wait_for "the killed replica is restarted" serving
read -r -a after <<<"$(replica_pids)"
[ "${after[0]}" != "${before[0]}" ] && [ "${after[1]}" = "${before[1]}" ] && ok "only the killed replica has a new process" ||
    bad "only the killed replica has a new process" "before ${before[*]}, after ${after[*]}"
grep -q '"message":"replica died".*"exit":"killed by signal 9' "$tmp/log" && ok "logged: replica died" ||
    bad "logged: replica died" "$(grep -i died "$tmp/log" | tail -2)"
check "serving after the crash" 200 '^path: /after-crash$' "$url/e/after-crash"

# Reload with a changed manifest: the old replicas stop taking
# connections and hand their idle ones on; a connection kept open across
# it is still answered.
python3 - "$port" "$pid" >"$tmp/reload" <<'PY'
import os, signal, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
def get(path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data: data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(rest) < n: rest += s.recv(65536)
    return head.split(b" ")[1].decode()
print(get(b"/e/r1"))
time.sleep(0.1)
with open(sys.argv[3] if len(sys.argv) > 3 else os.devnull, "w"): pass
os.kill(int(sys.argv[2]), signal.SIGHUP)
time.sleep(1.0)
try:
    print(get(b"/e/r2"))
except Exception as e:
    print("closed")
PY
sed -i 's/timeout: 1s/timeout: 2s/' "$app/app.qyv"
first=$(sed -n 1p "$tmp/reload") second=$(sed -n 2p "$tmp/reload")
[ "$first" = 200 ] && [ "$second" = 200 ] && ok "a connection kept open across a reload is still answered" ||
    bad "connection across a reload" "$(cat "$tmp/reload")"
check "serving after the reload" 200 '^path: /after-reload$' "$url/e/after-reload"

# A graceful stop lets the request in flight finish.
wait_for "replicas take connections again" serving
curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/e/last?sleep=700" >"$tmp/last" &
last=$!
sleep 0.3
stop
wait $last
[ "$(cat "$tmp/last")" = 200 ] && ok "a request in flight at SIGTERM is answered" || bad "request in flight at SIGTERM" "$(cat "$tmp/last")"

# The replica's HTTP parsing is as strict as the front's.
start --header-timeout 2s --client-timeout 5s examples/http-echo/app.qyv || exit 1
wait_for "replicas take connections" serving
python3 "$(dirname "$0")/http_strict.py" "$port" only-echo >"$tmp/strict" 2>&1
n_ok=$(grep -c '^ok ' "$tmp/strict")
grep -q '^FAIL' "$tmp/strict" || [ "$n_ok" -lt 30 ] && bad "strict HTTP in the replicas" "$(grep -v '^ok' "$tmp/strict" | head -5)" ||
    ok "strict HTTP in the replicas: all $n_ok checks of http_strict.py"
stop

# Two apps on the port: a connection a replica of one took, carrying a
# request for the other, goes on to the other's replica; every request
# on it is answered by its own app's replica.
start examples/http-echo/app.qyv examples/http-hello/app.qyv || exit 1
all_serving() {
    health | python3 -c 'import json,sys; r=json.load(sys.stdin)["replicas"]; sys.exit(0 if all(x.get("takes_connections") for v in r.values() for x in v) else 1)'
}
wait_for "both apps' replicas take connections" all_serving
pid_of() { health | python3 -c "import json,sys; print(json.load(sys.stdin)['replicas']['$1'][0]['pid'])"; }
echo_pid=$(pid_of echo) hello_pid=$(pid_of hello)
python3 - "$port" >"$tmp/two" <<'PY'
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
for path in (b"/echo/a", b"/hello/b", b"/echo/c", b"/hello/d"):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data: data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(rest) < n: rest += s.recv(65536)
    rid = re.search(rb"X-Request-Id: [0-9a-f]+-([0-9a-f]+)\.", head)
    print(path.decode(), int(rid.group(1), 16) if rid else 0, b"/b" in rest or b"/d" in rest or b"path: /" in rest)
PY
expect="/echo/a $echo_pid True
/hello/b $hello_pid True
/echo/c $echo_pid True
/hello/d $hello_pid True"
[ "$(cat "$tmp/two")" = "$expect" ] && ok "two apps on one connection: each request answered by its app's replica" ||
    bad "two apps on one connection" "got: $(cat "$tmp/two" | tr '\n' ';') expected echo $echo_pid, hello $hello_pid"
stop

# A slow request holds up no other connection of its thread: once it has
# run about 20 ms, the thread's other connections go to a free thread,
# and quick requests on them (sent with it, or later) are answered while
# it still runs.
manifest 1
sed -i 's/timeout: 1s/timeout: 5s/' "$app/app.qyv"
start --workers 2 "$app/app.qyv" || exit 1
wait_for "replicas take connections" serving
python3 - "$port" >"$tmp/hol" <<'PY'
import re, socket, sys, time
port = int(sys.argv[1])
def send(s, path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
def answer(s):
    data = b""
    while b"\r\n\r\n" not in data: data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(rest) < n: rest += s.recv(65536)
    rid = re.search(rb"X-Request-Id: [0-9a-f]+-([0-9a-f]+)\.([0-9a-f]+)\.", head)
    return head.split(b" ")[1].decode(), rid.group(2).decode() if rid else "?"
conns = []
for i in range(6):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    send(s, b"/e/warm")
    conns.append((s, answer(s)[1]))
# The slow request on a connection whose thread holds others.
threads = [t for _, t in conns]
slow_at = next((i for i, t in enumerate(threads) if threads.count(t) > 1 and t != "?"), None)
if slow_at is None:
    print("none", threads); sys.exit()
slow, thread = conns[slow_at]
began = time.monotonic()
send(slow, b"/e/slow?sleep=1500")
# Requests sent at once (waiting in the kernel when the thread's
# connections move) and later ones (on connections already moved).
others = [s for i, (s, t) in enumerate(conns) if i != slow_at and t == thread]
late = []
for when in (0, 0.2):
    time.sleep(when)
    t0 = time.monotonic()
    for s in others: send(s, b"/e/quick")
    for s in others: late.append((answer(s)[0], round(time.monotonic() - t0, 3)))
code, _ = answer(slow)
print("slow", code, round(time.monotonic() - began, 3), "quick", str(late).replace(" ", ""))
PY
read -r _ slow_code slow_took _ quick <"$tmp/hol"
[ "$slow_code" = 200 ] && python3 -c "
import sys; q = $quick
sys.exit(0 if q and $slow_took > 1.4 and all(c == '200' and t < 0.5 for c, t in q) else 1)" 2>/dev/null &&
    ok "quick requests on the other connections of a slow request's thread are answered at once ($quick)" ||
    bad "head-of-line blocking across connections" "$(cat "$tmp/hol")"
stop

# --no-direct: every connection goes through the front. An app whose
# manifest names a balancing algorithm keeps it (requests, not
# connections, are balanced): its replicas take no connections.
no_replica_takes() {
    health | python3 -c 'import json,sys; r=list(json.load(sys.stdin)["replicas"].values())[0]; sys.exit(0 if r and r[0].get("state")=="ready" and not any(x.get("takes_connections") for x in r) else 1)'
}
for how in --no-direct algorithm; do
    manifest 2
    flag=--no-direct
    if [ $how = algorithm ]; then
        printf 'cluster:\n  load_balancer: { algorithm: round_robin }\n' >>"$app/app.qyv"
        flag=
    fi
    start $flag "$app/app.qyv" || exit 1
    wait_for "replicas ready" no_replica_takes
    curl -s -D "$tmp/h" -o "$tmp/body" "$url/e/front"
    [ -z "$(id_pid "$tmp/h")" ] && grep -qx 'path: /front' "$tmp/body" && ok "$how: the front answers, no replica takes connections" ||
        bad "$how: the front answers" "$(cat "$tmp/h")"
    stop
done
grep -q '"message":"listening".*"direct":true' "$tmp/log" && ok "the default is direct (listening line)" ||
    bad "the default is direct" "$(grep listening "$tmp/log")"

# resources.cpu holds: two runaways for a second may use a fifth of a CPU.
manifest 1 '  resources: { cpu: "0.2" }
'
start --workers 2 "$app/app.qyv" || exit 1
wait_for "replicas take connections" serving
curl -s -o /dev/null "$url/e/spin?spin" &
spin=$!
curl -s -o /dev/null "$url/e/spin?spin"
wait $spin
sleep 1.3
cpu=$(curl -s "$url/_qyvol/metrics" | sed -n 's/^qyvol_app_cpu_seconds_total{app="echo"} //p')
python3 -c "import sys; c=float('${cpu:-nan}'); sys.exit(0 if 0.05 < c < 0.8 else 1)" &&
    ok "cpu 0.2 holds two runaways to a fifth of a CPU ($cpu s)" || bad "cpu 0.2" "the replica used '${cpu}' CPU seconds in about 1 s"
stop

finish
