#!/usr/bin/env bash
# The example apps, run through `qyv run` as a user would. Usage (from the
# repository root): tests/e2e/examples.sh [BUILD_DIR]. Ends with
# "N passed, N failed, 0 skipped".
set -u
BUILD=${1:-build}
QYV=$BUILD/qyv
passed=0 failed=0
out=$(mktemp)
log=examples/files/logs/app.log
had_log=0
[ -e "$log" ] && had_log=1 && cp "$log" "$out.log"
cleanup() {
    rm -f "$out"
    if [ $had_log -eq 1 ]; then mv "$out.log" "$log"; else rm -f "$log"; fi
}
trap cleanup EXIT

# expect NAME STATUS REGEX... -- CMD...: CMD's stdout must match every REGEX
# (grep -E, each somewhere) and it must exit with STATUS.
expect() {
    local name=$1 want=$2 rc
    shift 2
    local patterns=()
    while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
    shift
    timeout 20 "$@" >"$out" 2>&1
    rc=$?
    local why=""
    [ $rc -eq "$want" ] || why="exit status $rc, expected $want"
    for p in "${patterns[@]}"; do
        grep -qE -e "$p" "$out" || why="${why:+$why; }no line matches /$p/"
    done
    if [ -z "$why" ]; then
        echo "ok $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: $why"
        sed 's/^/    /' "$out" | head -20
        failed=$((failed + 1))
    fi
}

expect "hello" 0 '^Hello from Qyvol!$' '^args: hello --verbose$' -- "$QYV" run examples/hello/app.qyv
expect "hello with extra args" 0 '^args: hello --verbose extra1 extra2$' -- \
    "$QYV" run examples/hello/app.qyv -- extra1 extra2
expect "hello with --env overriding the manifest" 0 '^Howdy from Qyvol!$' -- \
    "$QYV" run --env GREETING=Howdy examples/hello/app.qyv
expect "hello-rust" 0 '^Hi from Qyvol, in Rust!$' '^args: hello-rust a b$' -- \
    "$QYV" run examples/hello-rust/app.qyv -- a b

lines_before=$(cat "$log" 2>/dev/null | wc -l)
sums_before=$(sha256sum examples/files/config/* examples/files/secrets/*)
expect "files: the sandbox held" 0 '^config: port = 8080$' '^/app/config holds: app.conf$' \
    '^refused: read /app/config/secret.conf \(excluded\): No such file' \
    '^refused: write /app/config/app.conf \(read-only\): Read-only file system' \
    '^refused: read /app/logs/app.log \(write-only\): Permission denied' \
    '^refused: open /etc/passwd' '^the sandbox held$' -- "$QYV" run examples/files/app.qyv
lines_after=$(cat "$log" 2>/dev/null | wc -l)
if [ "$lines_after" -eq $((lines_before + 1)) ]; then
    echo "ok files: one line appended to the log"; passed=$((passed + 1))
else
    echo "FAIL files: the log went from $lines_before to $lines_after lines"; failed=$((failed + 1))
fi
if [ "$(sha256sum examples/files/config/* examples/files/secrets/*)" = "$sums_before" ]; then
    echo "ok files: config and secrets unchanged"; passed=$((passed + 1))
else
    echo "FAIL files: config or secrets changed"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed, 0 skipped"
[ $failed -eq 0 ]
