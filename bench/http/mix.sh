#!/usr/bin/env bash
# `qyv serve` under slow handlers: where requests that wait behind slow
# ones show. examples/http-echo (its ?sleep=MS sleeps in the guest), one
# replica, WORKERS threads; for each build, in ROUNDS rounds alternating
# the builds' order:
#   mix:  SLOW connections asking for requests that sleep 100 ms, and
#         28 more asking for quick ones at the same time (wrk twice);
#   slow: 32 connections whose requests all sleep 30 ms.
# Prints requests/s and p50/p99 of the quick and the slow requests.
#
# Usage: bench/http/mix.sh BUILD_DIR [SECOND_BUILD_DIR]
#        (env: DURATION=5 ROUNDS=3 WORKERS=4 SLOW=2; QYV_FLAGS, QYV2_FLAGS:
#         more options for each build's `qyv serve`, e.g. --no-direct)
set -u
BUILDS=("$1" ${2:+"$2"})
FLAGS=("${QYV_FLAGS:-}" "${QYV2_FLAGS:-}")
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-4}
SLOW=${SLOW:-2}
command -v wrk >/dev/null || { echo "bench/http: wrk is missing (scripts/deps.sh installs it)"; exit 2; }
tmp=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# summary FILE: requests/s p50 p99 (and errors) of a wrk --latency run.
summary() {
    awk '/^Requests\/sec:/ {r=$2} $1 == "50%" {p50=$2} $1 == "99%" {p99=$2}
         /Socket errors|Non-2xx/ {e=e " [" $0 "]"} END {printf "%10s req/s  p50 %9s  p99 %9s%s", r, p50, p99, e}' "$1"
}
# measure KIND BUILD_INDEX
measure() {
    local port url b=$2
    port=$(free_port)
    url=http://127.0.0.1:$port/echo
    # shellcheck disable=SC2086
    "${BUILDS[$b]}/qyv" serve --listen 127.0.0.1:"$port" --workers "$WORKERS" --log-level warn ${FLAGS[$b]} \
        examples/http-echo/app.qyv >>"$tmp/qyv.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -s -o /dev/null "$url/up" && break; sleep 0.05; done
    if [ "$1" = mix ]; then
        wrk -t1 -c"$SLOW" -d"${DURATION}s" --latency "$url/slow?sleep=100" >"$tmp/slow" 2>&1 &
        local w=$!
        wrk -t2 -c28 -d"${DURATION}s" --latency "$url/quick" >"$tmp/quick" 2>&1
        wait $w
        printf '  %-28s quick %s | slow %s\n' "${BUILDS[$b]} ${FLAGS[$b]}" "$(summary "$tmp/quick")" "$(summary "$tmp/slow")"
    else
        wrk -t2 -c32 -d"${DURATION}s" --latency "$url/slow?sleep=30" >"$tmp/slow" 2>&1
        printf '  %-28s all slow %s\n' "${BUILDS[$b]} ${FLAGS[$b]}" "$(summary "$tmp/slow")"
    fi
    kill -TERM "$server"
    wait "$server" 2>/dev/null
    server=
}

echo "examples/http-echo, 1 replica, $WORKERS workers, $(nproc) CPUs; mix: $SLOW connections of 100 ms requests and 28 of quick ones; slow: 32 connections of 30 ms requests; ${DURATION}s each, $ROUNDS rounds"
for kind in mix slow; do
    echo "$kind"
    for round in $(seq "$ROUNDS"); do
        if [ ${#BUILDS[@]} = 1 ]; then
            measure $kind 0
        elif [ $((round % 2)) = 1 ]; then
            measure $kind 0
            measure $kind 1
        else
            measure $kind 1
            measure $kind 0
        fi
    done
done
