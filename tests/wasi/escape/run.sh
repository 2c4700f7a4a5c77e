#!/usr/bin/env bash
# The WASI sandbox escape suite (README.md in this folder). Run from the
# repository root:   tests/wasi/escape/run.sh [BUILD]   (default: build)
#
# For each of two runs (the host's openat2 resolution, then its portable
# walk with QYVOL_WASI_NO_OPENAT2=1) it lays out a fresh directory tree,
# runs the guest $BUILD/tests/wasi/escape.wasm under $BUILD/qyv with three
# preopens (while $BUILD/tests/wasi/escape-racer swaps a directory of the
# sandbox with a symlink to outside/), passes its output through, then checks
# host-side that nothing outside the writable preopens changed. The last line is
# "N passed, N failed, 0 skipped": both guest runs plus the host checks.
# Exits 1 on any failure.
set -u

BUILD=${1:-build}
QYV=$BUILD/qyv
# ESCAPE_WASM: the same guest as a WASI 0.2 component (make builds
# $BUILD/tests/wasi/escape.component.wasm), to run the suite through it.
WASM=${ESCAPE_WASM:-$BUILD/tests/wasi/escape.wasm}
RACER=$BUILD/tests/wasi/escape-racer
SECRET='qyvol escape canary: nothing may read or change this file'
RO_TEXT='read-only data'
HELLO_TEXT='hello from subdir'

passed=0 failed=0 racer=

TMP=$(mktemp -d "${TMPDIR:-/tmp}/qyvol-escape.XXXXXX") || exit 1
cleanup() {
    [ -z "$racer" ] || kill "$racer" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

check() { # check NAME COMMAND...: one host-side check
    local name=$1
    shift
    if "$@"; then
        echo "ok host $name"
        passed=$((passed + 1))
    else
        echo "FAIL host $name"
        failed=$((failed + 1))
    fi
}

# The tree of one run, in $1:
#   sandbox/  writable preopen /sandbox, with the host's planted symlinks
#   ro/       read-only preopen /ro
#   other/    second writable preopen /other
#   outside/  never granted
setup() {
    local r=$1
    mkdir -p "$r/sandbox/subdir" "$r/ro/emptydir" "$r/other" "$r/outside/deeper" || return 1
    printf '%s\n' "$SECRET" >"$r/outside/secret.txt"
    printf '%s\n' "$SECRET (deeper)" >"$r/outside/deeper/more.txt"
    printf '%s\n' "$RO_TEXT" >"$r/ro/file.txt"
    printf '%s\n' "other preopen" >"$r/other/otherfile.txt"
    printf '%s\n' "$HELLO_TEXT" >"$r/sandbox/subdir/hello.txt"
    # The guest opens "ok\0../../outside/secret.txt": a host cutting the
    # path at the NUL would open this file.
    printf '%s\n' "a path with a NUL byte reached this file" >"$r/sandbox/ok"
    ln -s /etc/passwd "$r/sandbox/abs_link"
    ln -s "$r/outside" "$r/sandbox/abs_dir_link"
    ln -s ../outside/secret.txt "$r/sandbox/rel_link"
    ln -s chain2 "$r/sandbox/chain1"
    ln -s ../outside "$r/sandbox/chain2"
    ln -s /proc/self/root "$r/sandbox/proc_link"
    ln -s loop "$r/sandbox/loop"
    ln -s subdir "$r/sandbox/inner"
    # The racer swaps these two while the guest runs.
    mkdir "$r/sandbox/race" && printf 'inside\n' >"$r/sandbox/race/secret.txt"
    ln -s ../outside "$r/sandbox/race_swap"
}

# Everything about a tree that a guest could change: names, types, modes,
# link counts (hard links), sizes, mtimes, symlink targets, contents.
snapshot() {
    (
        cd "$1" || exit 1
        find . -printf '%p|%y|%m|%n|%s|%T@|%l\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    )
}

# What lies next to the four directories (a guest moving something out of
# its preopen would put it here).
toplevel() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f|%y\n' | LC_ALL=C sort; }

# unchanged BEFORE NOW: equal, or show how they differ.
unchanged() {
    [ "$1" = "$2" ] && return 0
    diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | head -20 | sed 's/^/# /'
    return 1
}

moved_landed() {
    local r=$1
    [ -f "$r/other/moved.txt" ] && [ ! -e "$r/sandbox/tomove.txt" ] &&
        [ "$(cat "$r/other/moved.txt")" = "moved across preopens" ]
}

# guest_finished OUT STATUS: the guest printed its summary and its exit
# status agrees with it (0 iff nothing failed).
guest_finished() {
    local line f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -1)
    [ -n "$line" ] || { echo "# the guest printed no summary (exit status $2)"; return 1; }
    read -r _ _ f _ _ _ <<<"$line"
    if [ "$f" -eq 0 ] && [ "$2" -ne 0 ]; then
        echo "# the guest reported no failure but exited with status $2"
        return 1
    fi
    if [ "$f" -ne 0 ] && [ "$2" -ne 1 ] && [ "$2" -ne 2 ]; then
        echo "# the guest reported failures but exited with status $2"
        return 1
    fi
    return 0
}

run_once() {
    local label=$1 r=$2 out=$2.out status line p f
    shift 2
    echo "=== escape suite: $label"
    if ! setup "$r"; then
        echo "FAIL host $label: could not set up $r"
        failed=$((failed + 1))
        return
    fi
    local outside_before ro_before top_before
    outside_before=$(snapshot "$r/outside")
    ro_before=$(snapshot "$r/ro")
    top_before=$(toplevel "$r")

    "$RACER" "$r/sandbox" race race_swap 60 &
    racer=$!
    env "$@" timeout 30 "$QYV" run --dir "$r/sandbox::/sandbox" --dir "$r/ro::/ro:ro" \
        --dir "$r/other::/other" "$WASM" >"$out" 2>&1
    status=$?
    kill "$racer" 2>/dev/null
    wait "$racer" 2>/dev/null
    racer=
    cat "$out"
    case $status in
        124) echo "# the guest timed out (30 s)" ;;
        125) echo "# qyv could not start the guest (status 125)" ;;
        134) echo "# the guest trapped (status 134)" ;;
    esac

    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -1)
    if [ -n "$line" ]; then
        read -r p _ f _ _ _ <<<"$line"
        passed=$((passed + p)) failed=$((failed + f))
    fi
    check "$label: the guest ran to its end" guest_finished "$out" "$status"
    check "$label: outside/ unchanged" unchanged "$outside_before" "$(snapshot "$r/outside")"
    check "$label: ro/ unchanged" unchanged "$ro_before" "$(snapshot "$r/ro")"
    check "$label: nothing created next to the preopens" unchanged "$top_before" "$(toplevel "$r")"
    check "$label: rename across preopens landed in other/" moved_landed "$r"
}

if [ ! -x "$QYV" ] || [ ! -f "$WASM" ] || [ ! -x "$RACER" ]; then
    echo "missing $QYV, $WASM or $RACER: run make first"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi

run_once "openat2" "$TMP/run1"
run_once "portable walk (QYVOL_WASI_NO_OPENAT2=1)" "$TMP/run2" QYVOL_WASI_NO_OPENAT2=1

echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
