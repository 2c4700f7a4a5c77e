# Shared by the end-to-end tests of `qyv serve`: counting, a free loopback
# port, starting and stopping the server (bounded waits, always stopped on
# exit) and checking a response. Source it after setting nothing; it reads
# the build folder from $1.
set -u
BUILD=${1:-build}
QYV=$BUILD/qyv
passed=0 failed=0
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# A free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# start [--workers N] FILE...: the server on $port, logging to $tmp/log.
# QYV_SERVE_FLAGS: more options for every server (e.g. --direct, to run a
# suite with replicas taking connections themselves).
start() {
    local workers=4
    if [ "$1" = --workers ]; then workers=$2; shift 2; fi
    # shellcheck disable=SC2086
    "$QYV" serve --listen 127.0.0.1:"$port" --workers "$workers" ${QYV_SERVE_FLAGS:-} "$@" >"$tmp/log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "$url/_qyvol/health" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    bad "server starts" "not answering; log: $(tail -5 "$tmp/log")"
    return 1
}

# stop: SIGTERM, then wait at most 10 s for exit status 0.
stop() {
    kill -TERM "$pid"
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        bad "graceful stop" "still running 10 s after SIGTERM"
        kill -KILL "$pid"
    fi
    wait "$pid"
    local rc=$?
    pid=
    [ $rc -eq 0 ] && ok "exits 0 on SIGTERM" || bad "exits 0 on SIGTERM" "status $rc"
    # The sanitizers report on stderr, the server's or a replica's.
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/log"; then
        bad "no sanitizer report" "$(grep -m1 -A40 -E 'Sanitizer|runtime error' "$tmp/log")"
    fi
}

# check NAME EXPECTED_CODE REGEX CURL_ARGS...: status code and body.
check() {
    local name=$1 want=$2 pattern=$3 code
    shift 3
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 20 "$@")
    if [ "$code" != "$want" ]; then
        bad "$name" "status $code, expected $want; body: $(head -c 300 "$tmp/body")"
    elif ! grep -qE -e "$pattern" "$tmp/body"; then
        bad "$name" "body does not match /$pattern/: $(head -c 300 "$tmp/body")"
    else
        ok "$name"
    fi
}

# wait_for WHAT CMD...: run CMD every 0.1 s until it succeeds (10 s at most).
wait_for() {
    local what=$1
    shift
    for _ in $(seq 100); do
        "$@" && return 0
        sleep 0.1
    done
    bad "$what" "still not true after 10 s"
    return 1
}

# The end line every runner prints.
finish() {
    echo "$passed passed, $failed failed, 0 skipped"
    [ $failed -eq 0 ]
}
