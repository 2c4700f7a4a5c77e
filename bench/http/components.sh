#!/usr/bin/env bash
# Per-request cost of a wasi:http component against the WAGI module doing
# the same, and requests/s of the JavaScript handler, under one `qyv serve`.
#
#   wagi   examples/http-hello (C, WAGI): a fresh instance per request,
#          CGI variables in, a short text out
#   whttp  tests/components/http/hello.wat (a wasi:http handler by hand):
#          a fresh component instance per request, a short text out
#   js     examples/http-component (JavaScript, componentize-js: a 14 MB
#          component with a JavaScript engine), GET /js/
#
# wrk drives each over keep-alive connections for DURATION seconds, in
# ROUNDS rounds alternating wagi and whttp (this shared machine's speed
# drifts: compare runs close in time), first with one connection (the
# latency of one request after another: its cost) and then with
# CONNECTIONS; the JavaScript handler last. Prints requests/s and
# latencies of each run, the per-round ratios and their medians.
#
# Usage: bench/http/components.sh [BUILD_DIR]   (env: DURATION=3 ROUNDS=3 CONNECTIONS=8 WORKERS=ncpu)
set -u
BUILD=${1:-build}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-8}
WORKERS=${WORKERS:-$(nproc)}
JS=examples/http-component/app.component.wasm
for f in "$BUILD/qyv" examples/http-hello/hello.wasm build/tests/components/http/hello.wasm; do
    [ -e "$f" ] || { echo "bench/http/components: $f is missing (make)"; exit 2; }
done
command -v wrk >/dev/null || { echo "bench/http/components: wrk is missing (scripts/deps.sh installs it)"; exit 2; }
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && sleep 0.3 && kill -KILL "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/whttp" "$tmp/js"
cp build/tests/components/http/hello.wasm "$tmp/whttp/app.wasm"
printf 'name: whttp\nentrypoint: app.wasm\ntype: http\nroute: /whttp\n' >"$tmp/whttp/app.qyv"
apps=(examples/http-hello/app.qyv "$tmp/whttp/app.qyv")
if [ -f "$JS" ]; then
    cp "$JS" "$tmp/js/app.wasm"
    printf 'name: js\nentrypoint: app.wasm\ntype: http\nroute: /js\n' >"$tmp/js/app.qyv"
    apps+=("$tmp/js/app.qyv")
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BUILD/qyv" serve --listen 127.0.0.1:"$port" --workers "$WORKERS" --log-level warn "${apps[@]}" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/_qyvol/health" && break; sleep 0.05; done
url=http://127.0.0.1:$port

# run NAME PATH CONNECTIONS: requests/s (stdout) and a line for the reader (stderr).
run() {
    local out
    out=$(wrk -t"$([ "$3" -gt 1 ] && echo 2 || echo 1)" -c"$3" -d"${DURATION}s" --latency "$url$2" 2>&1)
    local rps p50 p99
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '  %-6s %2s conn: %9s req/s  p50 %8s  p99 %8s\n' "$1" "$3" "$rps" "$p50" "$p99" >&2
    echo "$rps"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

for conns in 1 "$CONNECTIONS"; do
    echo "wagi (examples/http-hello) against whttp (hello.wat), $conns connection(s), $ROUNDS rounds of ${DURATION}s:"
    ratios=()
    for r in $(seq "$ROUNDS"); do
        a=$(run wagi /hello/x "$conns")
        b=$(run whttp /whttp/x "$conns")
        ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')")
    done
    echo "  whttp / wagi requests/s per round: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | median)"
done
if [ -f "$JS" ]; then
    echo "JavaScript handler (examples/http-component), GET /js/:"
    run js /js/ 1 >/dev/null
    run js /js/ "$CONNECTIONS" >/dev/null
else
    echo "JavaScript handler: skipped (examples/http-component was not built: componentize-js is missing)"
fi
grep -q '"level":"error"' "$tmp/log" && { echo "errors in the server's log:"; grep '"level":"error"' "$tmp/log" | head -5; }
exit 0
