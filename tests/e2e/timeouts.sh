#!/usr/bin/env bash
# Deadlines that host calls cannot escape (issue 10, item 1). A guest that
# loops around WASI calls (clock, writes, reads, sleeps, polls, random
# bytes, yields), waits in one (a pipe or FIFO nobody writes, an hour's
# sleep) or fills memory by the megabyte must stop at its timeout:
# `qyv run --timeout` exits 124 within a bound far below the watchdog's
# last-resort kill, and under `qyv serve` each such request gets 504 while
# requests beside it on the same replica are answered (no 502, no
# restart). Usage (from the repository root): tests/e2e/timeouts.sh
# [BUILD_DIR]. Ends with "N passed, N failed, 0 skipped"; every server it
# starts is stopped, with bounded waits.
. "$(dirname "$0")/lib.sh"

guest=$BUILD/tests/timeouts/hostloop.wasm
modes="clock stderr stdout sleep nap read poll random fill copy yield"
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# FIFOs held open for reading and writing by this script: a guest reading
# one waits for ever; one whose stdout is a FIFO nobody reads blocks once
# it is full.
mkfifo "$tmp/in" "$tmp/out" "$tmp/data-fifo"
mkdir -p "$tmp/data"
mv "$tmp/data-fifo" "$tmp/data/fifo"
exec 3<>"$tmp/in" 4<>"$tmp/out" 5<>"$tmp/data/fifo"

# expect_timeout NAME MAX_MS ARGS...: qyv run --timeout 300ms, stdin the
# FIFO nobody writes, stdout $RUN_STDOUT or /dev/null, exits 124 in under
# MAX_MS, without the watchdog's "stuck in a host call" kill (which would
# come after 2.3 s).
expect_timeout() {
    local name=$1 max=$2 start rc took
    shift 2
    start=$(date +%s%N)
    "$QYV" run --timeout 300ms "$@" 2>"$tmp/err" <"$tmp/in" >"${RUN_STDOUT:-/dev/null}"
    rc=$?
    took=$(ms_since "$start")
    if [ $rc -ne 124 ]; then
        bad "qyv run: $name" "exit status $rc, expected 124: $(tail -c 300 "$tmp/err")"
    elif grep -q 'stuck in a host call' "$tmp/err"; then
        bad "qyv run: $name" "stopped only by the watchdog's kill ($took ms)"
    elif [ "$took" -ge "$max" ]; then
        bad "qyv run: $name" "took $took ms"
    else
        ok "qyv run: $name stops at its timeout ($took ms)"
    fi
}
for m in $modes; do
    expect_timeout "$m" 1200 "$guest" -- "$m"
done
# The same guest as a WASI 0.2 component (jco's adapter): its sleeps,
# polls, pipe reads and random bytes go through wasi:io, wasi:clocks and
# wasi:random, which must hear the deadline as preview 1 does.
# (Components are made by jco in the main build only: a sanitizer build
# runs the same file.)
cguest=$BUILD/tests/timeouts/hostloop.component.wasm
[ -f "$cguest" ] || cguest=build/tests/timeouts/hostloop.component.wasm
for m in $modes; do
    expect_timeout "$m, as a component" 1200 "$cguest" -- "$m"
done
RUN_STDOUT=$tmp/out expect_timeout "stdout to a pipe nobody reads" 1200 "$guest" -- stdout
expect_timeout "a FIFO nobody writes" 1200 --dir "$tmp/data::/data" "$guest" -- fifo /data/fifo
exec 3>&- 4>&- 5>&-

# Under qyv serve: one replica with 4 workers; the modes two at a time,
# with quick requests beside them on the same replica. (More runaways at
# once than workers would queue behind each other on the replica's
# channels, which is the front's business, not the deadline's.)
app=$tmp/app
mkdir -p "$app"
cp "$guest" "$app/"
printf 'name: loop\nentrypoint: hostloop.wasm\ntype: http\nroute: /loop\ntimeout: 500ms\ndeploy:\n  replicas: 1\n' >"$app/app.qyv"
start --workers 4 "$app/app.qyv" || exit 1
check "quick request" 200 '^ok$' "$url/loop?ok"
runaway() {
    local s code
    s=$(date +%s%N)
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/loop?$1")
    echo "$code $(ms_since "$s")" >"$tmp/serve-$1"
}
neighbours_ok=0 neighbours_bad=
set -- $modes
while [ $# -gt 0 ]; do
    pair=("$1" "${2:-}")
    shift $(($# >= 2 ? 2 : 1))
    runaway "${pair[0]}" & first=$!
    second=
    if [ -n "${pair[1]}" ]; then runaway "${pair[1]}" & second=$!; fi
    for _ in 1 2 3 4 5; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/loop?ok")
        if [ "$code" = 200 ]; then neighbours_ok=$((neighbours_ok + 1)); else neighbours_bad="$neighbours_bad $code"; fi
        sleep 0.05
    done
    wait $first $second
done
for m in $modes; do
    read -r code took <"$tmp/serve-$m"
    # The front kills a replica whose request runs 2 s past its timeout.
    if [ "$code" = 504 ] && [ "$took" -lt 1500 ]; then ok "qyv serve: $m gets 504 ($took ms)"
    else bad "qyv serve: $m gets 504" "status $code after $took ms"; fi
done
[ -z "$neighbours_bad" ] && ok "qyv serve: $neighbours_ok quick requests beside them all answered 200" ||
    bad "qyv serve: quick requests beside the runaways" "got$neighbours_bad"
if curl -s "$url/_qyvol/health" | grep -q '"restarts":0'; then ok "qyv serve: the replica was never killed"
else bad "qyv serve: the replica was never killed" "$(curl -s "$url/_qyvol/health")"; fi
if grep -q 'had to be killed' "$tmp/log"; then bad "qyv serve: no replica killed" "$(grep -m3 -o '.*had to be killed' "$tmp/log")"
else ok "qyv serve: no replica killed"; fi
check "still serving" 200 '^ok$' "$url/loop?ok"
stop

echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
