#!/usr/bin/env bash
# WASI 0.2 command components through `qyv run`, as a user runs them.
# Usage (from the repository root): tests/e2e/components.sh [BUILD_DIR]
# The guests (C and Rust programs wrapped by jco, mk/component-tests.mk)
# come from build/ whatever BUILD_DIR is: they do not depend on the host's
# build. Each program runs as a core module and as a component, and both
# must print the same and exit alike. Ends with "N passed, N failed, 0 skipped".
set -u
BUILD=${1:-build}
QYV=$BUILD/qyv
G=build/tests/components
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# run OUT DATA_DIR FILE [OPTIONS...] [-- ARGS...]: qyv run OPTIONS FILE
# ARGS (with /data when DATA_DIR is given), stdin from $tmp/stdin; output
# and "status N" into OUT.
run() {
    local out=$1 data=$2 file=$3
    shift 3
    local opts=() dir=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    [ -n "$data" ] && mkdir -p "$data" && dir=(--dir "$data::/data")
    timeout 60 "$QYV" run "${dir[@]}" "${opts[@]}" "$file" "$@" <"$tmp/stdin" >"$out" 2>&1
    echo "status $?" >>"$out"
}

# same NAME MODULE COMPONENT [OPTIONS...] [-- ARGS...]: module and
# component print the same and exit alike.
same() {
    local name=$1 module=$2 component=$3
    shift 3
    rm -rf "$tmp/d1" "$tmp/d2"
    run "$tmp/module.out" "$tmp/d1" "$module" "$@"
    run "$tmp/component.out" "$tmp/d2" "$component" "$@"
    if ! grep -q '^status 0$' "$tmp/module.out"; then
        bad "$name" "the module itself failed: $(tail -3 "$tmp/module.out")"
    elif diff -u "$tmp/module.out" "$tmp/component.out" >"$tmp/diff"; then
        ok "$name"
    else
        bad "$name" "component and module differ:"
        sed 's/^/    /' "$tmp/diff" | head -20
    fi
}

# expect NAME STATUS REGEX CMD...: CMD's status and a line of its output
# (REGEX empty: the status only).
expect() {
    local name=$1 want=$2 pattern=$3 rc
    shift 3
    timeout 60 "$@" <"$tmp/stdin" >"$tmp/out" 2>&1
    rc=$?
    if [ $rc -ne "$want" ]; then
        bad "$name" "exit status $rc, expected $want: $(head -5 "$tmp/out")"
    elif [ -n "$pattern" ] && ! grep -qE -e "$pattern" "$tmp/out"; then
        bad "$name" "no line matches /$pattern/: $(head -5 "$tmp/out")"
    else
        ok "$name"
    fi
}

for f in cmd.wasm cmd.component.wasm hello-rust.wasm hello-rust.component.wasm; do
    [ -f "$G/$f" ] || { bad "guests" "$G/$f is missing: run make"; echo "$passed passed, $failed failed, 0 skipped"; exit 1; }
done
printf 'a line of input\n' >"$tmp/stdin"

same "C: args, env, stdin, stderr, files, clocks, random" "$G/cmd.wasm" "$G/cmd.component.wasm" \
    --env GREETING=hola -- one "two words" ''
same "Rust: std::env, io and fs" "$G/hello-rust.wasm" "$G/hello-rust.component.wasm" --env GREETING=hi -- x
# The same with the portable path walk instead of openat2.
QYVOL_WASI_NO_OPENAT2=1 same "C, portable path walk" "$G/cmd.wasm" "$G/cmd.component.wasm"
grep -q '^escape: refused$' "$tmp/component.out" && ok "'..' out of /data refused" || bad "'..' refused" "$(cat "$tmp/component.out")"

# Exit statuses. The adapter jco bundles ends a component with
# wasi:cli/exit#exit(err) for any non-zero proc_exit: status 1 (as under
# `jco run` and wasmtime).
expect "exit status 0" 0 '^random differs: yes$' "$QYV" run "$G/cmd.component.wasm"
expect "non-zero exit status" 1 '^random differs: yes$' "$QYV" run --env EXIT=7 "$G/cmd.component.wasm"
expect "Rust process::exit(3)" 1 'args \["fail"\]' "$QYV" run "$G/hello-rust.component.wasm" fail
# Traps, timeouts, fuel and memory limits, as for modules.
expect "a trap is reported with its backtrace" 134 '^  at main \(func [0-9]+\)$' "$QYV" run "$G/cmd.component.wasm" trap
expect "timeout" 124 'timed out after 300 ms' "$QYV" run --timeout 300ms "$G/cmd.component.wasm" spin
expect "fuel" 134 'trap: out of fuel' "$QYV" run --fuel 20000 "$G/cmd.component.wasm" spin
expect "memory limit" 1 '^allocated [0-7] MiB before running out$' "$QYV" run --memory 8MiB "$G/cmd.component.wasm" grow
# Without /data granted the guest sees no folder at all.
expect "no grant, no files" 0 '^GREETING=\(unset\)$' "$QYV" run "$G/cmd.component.wasm"
# A read-only grant refuses writes.
mkdir -p "$tmp/ro"
expect "read-only grant" 0 '^mkdir: ' "$QYV" run --dir "$tmp/ro::/data:ro" "$G/cmd.component.wasm"

# A component written for WASI 0.2 itself (no adapter), importing 0.2.0,
# 0.2.1, 0.2.3 and 0.2.12 interfaces: bound by semver. `jco run` agrees.
expect "a WASI 0.2 component without adapter" 0 '^hello from a hand-written component$' \
    "$QYV" run build/testcomp/hello-p2.wasm
expect "wasi:cli/run returning err" 1 '' "$QYV" run build/testcomp/hello-p2.wasm fail

expect "an HTTP handler is not a command" 134 'is a wasi:http handler, not a command' \
    "$QYV" run build/testcomp/http-shaped.wasm

# The example app, from its manifest (entrypoint: app.component.wasm).
expect "examples/hello-component" 0 '^Hola from a Qyvol component!$' "$QYV" run examples/hello-component/app.qyv
expect "examples/hello-component: read-only data" 0 '^write: refused \(read-only grant\)$' "$QYV" run examples/hello-component/app.qyv
expect "examples/hello-component: args" 0 '^args: hello-component --polite more$' "$QYV" run examples/hello-component/app.qyv -- more

# qyv validate-wasm and what cannot run.
expect "validate-wasm accepts a component" 0 'cmd.component.wasm: ok \(component\)$' "$QYV" validate-wasm "$G/cmd.component.wasm"
expect "validate-wasm names an unsupported construct" 1 'error at offset 0x[0-9a-f]+: canonical option async is not supported' \
    "$QYV" validate-wasm build/testcomp/async.wasm
expect "an import the host lacks" 125 'unknown import: test:abi/host@1.0.0' "$QYV" run build/testcomp/abi.wasm
head -c 100 "$G/cmd.component.wasm" >"$tmp/truncated.wasm"
expect "a truncated component" 125 'not a valid WebAssembly component: .*\(at byte [0-9]+\)' "$QYV" run "$tmp/truncated.wasm"

echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
