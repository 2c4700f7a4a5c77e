#!/usr/bin/env bash
# The whole test suite (README: `scripts/deps.sh && make check`):
# warnings-as-errors builds with gcc and clang, unit tests, the WebAssembly
# spec tests, the same tests under AddressSanitizer + UndefinedBehavior-
# Sanitizer, a bounded fuzzing run and a CLI smoke test. Ends with one line
# "N passed, N failed, N skipped" summing unit and spec tests.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
SHARED=${QYVOL_SHARED:-$REPO/../shared}
SPEC_JSON=("$SHARED"/wasm-testsuite/json-core/*.json)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-2}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

passed=0 failed=0 skipped=0 broken=()

step() { printf '\n=== %s\n' "$*"; }
fail_step() { broken+=("$1"); echo "FAILED: $1"; }

# Add a runner's "N passed, N failed, N skipped" (its last such line).
count_spec() {
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -1)
    [ -n "$line" ] || return 1
    read -r p _ f _ s _ <<<"$line"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# Run every cmocka test binary in a build folder and add up its results.
run_unit() {
    local dir=$1 name=$2 ok=1
    for t in "$dir"/tests/test_*; do
        [ -x "$t" ] || continue
        if ! "$t" >"$LOG/unit.out" 2>&1; then ok=0; cat "$LOG/unit.out"; fi
        local p f
        p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$LOG/unit.out" | grep -oE '[0-9]+$' || echo 0)
        f=$(grep -oE '^\[  FAILED  \] [0-9]+ test' "$LOG/unit.out" | grep -oE '[0-9]+' || echo 0)
        echo "$(basename "$t"): ${p:-0} passed, ${f:-0} failed"
        passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0}))
    done
    [ $ok -eq 1 ] || fail_step "$name"
}

run_spec() {
    local bin=$1 name=$2
    "$bin" "${SPEC_JSON[@]}" >"$LOG/spec.out" 2>&1
    local rc=$?
    grep -vE ': [0-9]+ passed, 0 failed, [0-9]+ skipped$' "$LOG/spec.out" | head -50
    count_spec "$LOG/spec.out" || fail_step "$name (no summary)"
    [ $rc -eq 0 ] || fail_step "$name"
}

step "build (gcc, warnings are errors)"
make -j"$JOBS" WERROR=1 >"$LOG/build.out" 2>&1 || { cat "$LOG/build.out"; fail_step "gcc build"; }

step "build (clang-19, warnings are errors)"
make -j"$JOBS" WERROR=1 CC=clang-19 BUILD=build/clang build/clang/qyv build/clang/spectest \
    >"$LOG/clang.out" 2>&1 || { cat "$LOG/clang.out"; fail_step "clang build"; }

step "unit tests"
run_unit build "unit tests"

step "spec tests: ${#SPEC_JSON[@]} scripts"
run_spec build/spectest "spec tests"

step "build with AddressSanitizer + UndefinedBehaviorSanitizer"
make -j"$JOBS" SAN=address OPT=-O1 BUILD=build/asan build/asan/spectest \
    $(for t in tests/unit/test_*.c; do b=$(basename "$t" .c); echo "build/asan/tests/$b"; done) \
    >"$LOG/asan.out" 2>&1 || { cat "$LOG/asan.out"; fail_step "asan build"; }

step "unit tests (sanitizers)"
run_unit build/asan "unit tests (sanitizers)"

step "spec tests (sanitizers)"
run_spec build/asan/spectest "spec tests (sanitizers)"

step "fuzzing for ${FUZZ_SECONDS}s"
if make -j"$JOBS" fuzz >"$LOG/fuzz-build.out" 2>&1; then
    corpus="$LOG/corpus"
    mkdir -p "$corpus"
    cp "$SHARED"/wasm-testsuite/json-core/*.wasm "$corpus"/
    mkdir -p build/fuzz/artifacts
    if ! build/fuzz/fuzz_module -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix=build/fuzz/artifacts/ \
        -print_final_stats=1 "$corpus" >"$LOG/fuzz.out" 2>&1; then
        tail -60 "$LOG/fuzz.out"
        fail_step "fuzzing"
    else
        grep -E 'stat::number_of_executed_units|Done' "$LOG/fuzz.out" | head -3
    fi
else
    cat "$LOG/fuzz-build.out"
    fail_step "fuzz build"
fi

step "CLI smoke test"
out=$(build/qyv invoke build/examples/fib.wasm fib 30 2>&1)
if [ "$out" = "832040" ]; then
    echo "qyv invoke build/examples/fib.wasm fib 30 -> $out"
else
    echo "unexpected output: $out"
    fail_step "CLI smoke test"
fi
build/qyv invoke --fuel 100 build/examples/fib.wasm fib 30 >/dev/null 2>"$LOG/trap.out"
rc=$?
if [ $rc -ne 134 ] || ! grep -q "trap: out of fuel" "$LOG/trap.out"; then
    echo "expected an out-of-fuel trap with status 134, got $rc"
    fail_step "CLI trap status"
fi

echo
if [ ${#broken[@]} -gt 0 ]; then
    echo "failed steps: ${broken[*]}"
else
    echo "all steps passed"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ ${#broken[@]} -eq 0 ] && [ "$failed" -eq 0 ]
