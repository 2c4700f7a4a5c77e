#!/usr/bin/env bash
# The whole test suite (README: `scripts/deps.sh && make check`):
# warnings-as-errors builds with gcc and clang, unit tests, the WebAssembly
# spec tests, the same tests under AddressSanitizer + UndefinedBehavior-
# Sanitizer, a bounded fuzzing run and a CLI smoke test. Ends with one line
# "N passed, N failed, N skipped" summing unit and spec tests; exits non-zero
# if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
SHARED=${QYVOL_SHARED:-$REPO/../shared}
SPEC_DIR=$SHARED/wasm-testsuite/json-core
FUZZ_SECONDS=${FUZZ_SECONDS:-40}
# Rounds of restarting every process of a three-master cluster in random
# order (issue 13's fault suite), in the run without sanitizers.
CHAOS_ROUNDS=${CHAOS_ROUNDS:-20}
JOBS=${JOBS:-2}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

passed=0 failed=0 skipped=0 broken=()

# Each step's wall time is printed when the next one starts, and the slowest
# are listed at the end: the whole command must stay well under CI's budget.
step_name='' step_start=$SECONDS step_times=()
step_done() {
    [ -n "$step_name" ] || return 0
    local took=$((SECONDS - step_start))
    printf '(%ds)\n' "$took"
    step_times+=("$(printf '%5d s  %s' "$took" "$step_name")")
}
step() { step_done; step_name=$*; step_start=$SECONDS; printf '\n=== %s\n' "$*"; }
fail_step() { broken+=("$1"); echo "FAILED: $1"; }
# A step that cannot run because an earlier one failed: say so, and fail.
skip_step() { broken+=("$1 (not run)"); echo "NOT RUN: $1, because $2"; }

# Add a runner's "N passed, N failed, N skipped" (its last such line).
count_spec() {
    local line p f s
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -1)
    [ -n "$line" ] || return 1
    read -r p _ f _ s _ <<<"$line"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    # A run that checked nothing must not look like a success.
    [ "$p" -gt 0 ]
}

# Sum the numbers cmocka prints after a summary tag, one per test group.
cmocka_total() {
    grep -oE "^\[  $1  \] [0-9]+ test" "$2" | grep -oE '[0-9]+' | awk '{ n += $1 } END { print n + 0 }'
}

# Run the cmocka binary of every tests/unit/test_*.c (not whatever lies in
# the build folder, which may hold binaries of deleted tests) and add up the
# results. A binary that dies without a summary (crash, sanitizer abort)
# counts as one failed test.
run_unit() {
    local dir=$1 name=$2 ok=1 src t p f rc
    for src in tests/unit/test_*.c tests/manifest/test_*.c; do
        t=$dir/tests/$(basename "$src" .c)
        timeout 300 "$t" >"$LOG/unit.out" 2>&1
        rc=$?
        p=$(cmocka_total PASSED "$LOG/unit.out")
        f=$(cmocka_total FAILED "$LOG/unit.out")
        if [ $rc -ne 0 ]; then
            ok=0
            tail -40 "$LOG/unit.out"
            [ "$f" -gt 0 ] || f=1
        fi
        echo "$(basename "$t"): $p passed, $f failed"
        passed=$((passed + p)) failed=$((failed + f))
    done
    [ $ok -eq 1 ] || fail_step "$name"
}

run_spec() {
    local bin=$1 name=$2 rc
    timeout 900 "$bin" "$SPEC_DIR"/*.json >"$LOG/spec.out" 2>&1
    rc=$?
    grep -vE ': [0-9]+ passed, 0 failed, [0-9]+ skipped$' "$LOG/spec.out" | head -50
    count_spec "$LOG/spec.out" || fail_step "$name (no commands passed)"
    [ $rc -eq 0 ] || fail_step "$name (exit status $rc)"
}

# run_counted NAME CMD...: run a suite that ends with "N passed, N failed,
# N skipped", show its failures, add its counts.
run_counted() {
    local name=$1 rc
    shift
    timeout 900 "$@" >"$LOG/suite.out" 2>&1
    rc=$?
    grep -E '^(FAIL|ESCAPED|SKIP)' "$LOG/suite.out" | head -40
    tail -1 "$LOG/suite.out"
    count_spec "$LOG/suite.out" || fail_step "$name (no result line)"
    [ $rc -eq 0 ] || { tail -20 "$LOG/suite.out"; fail_step "$name (exit status $rc)"; }
}

# The WASI host's suites, run against the qyv of build folder $1.
WASI_DIRS=("$SHARED"/wasi-testsuite/tests/{c,rust,assemblyscript}/testsuite/wasm32-wasip1)
run_wasi_suites() {
    local build=$1 label=$2
    step "WASI test suite$label"
    run_counted "WASI test suite$label" "$build/wasitest" -j "$JOBS" "${WASI_DIRS[@]}"
    step "WASI sandbox: path escapes$label"
    run_counted "WASI escapes$label" tests/wasi/escape/run.sh "$build"
    step "WASI sandbox: manifest grants$label"
    run_counted "WASI grants$label" tests/wasi/grants/run.sh "$build"
    step "WASI test suite as components$label"
    run_counted "WASI test suite as components$label" tests/wasitest/components.sh "$build" "$SHARED"
    step "WASI sandbox: path escapes through a component$label"
    run_counted "WASI escapes through a component$label" \
        env ESCAPE_WASM=build/tests/wasi/escape.component.wasm tests/wasi/escape/run.sh "$build"
    step "WASI sandbox: manifest grants through a component$label"
    run_counted "WASI grants through a component$label" \
        env GRANTS_WASM=build/tests/wasi/grants.component.wasm tests/wasi/grants/run.sh "$build"
    step "components end to end$label"
    run_counted "components$label" tests/e2e/components.sh "$build"
    step "wasi:http components under qyv serve$label"
    run_counted "wasi:http components$label" tests/e2e/http_components.sh "$build"
    step "examples through qyv run$label"
    run_counted "examples$label" tests/e2e/examples.sh "$build"
    step "qyv serve end to end$label"
    run_counted "qyv serve$label" tests/e2e/serve.sh "$build"
    step "qyv serve replicas end to end$label"
    run_counted "qyv serve replicas$label" tests/e2e/replicas.sh "$build"
    step "qyv serve against hostile clients$label"
    run_counted "qyv serve hardening$label" tests/e2e/http_hardening.sh "$build"
    step "qyv serve: replicas take the connections themselves$label"
    run_counted "qyv serve direct$label" tests/e2e/direct.sh "$build"
    step "qyv serve end to end, with --no-direct$label"
    run_counted "qyv serve with --no-direct$label" env QYV_SERVE_FLAGS=--no-direct tests/e2e/serve.sh "$build"
    step "qyv serve --no-direct against hostile clients$label"
    run_counted "qyv serve --no-direct hardening$label" env QYV_SERVE_FLAGS=--no-direct tests/e2e/http_hardening.sh "$build"
    step "hardening: hostile manifests, guests and files$label"
    run_counted "hardening$label" tests/e2e/harden.sh "$build"
    step "qyv cluster commands before any master$label"
    run_counted "qyv cluster CLI$label" tests/e2e/cluster_cli.sh "$build"
    step "the serving runtime through reloads$label"
    run_counted "runtime reloads$label" tests/e2e/runtime.sh "$build"
    step "qyv node end to end$label"
    run_counted "qyv node$label" tests/e2e/node.sh "$build"
    step "a node's bundle cache corrupted on disk$label"
    run_counted "bundle cache$label" tests/e2e/bundle_cache.sh "$build"
    step "a cluster: a master and three nodes end to end$label"
    run_counted "cluster$label" tests/e2e/cluster.sh "$build"
    step "the cluster's TLS: join tokens, mutual TLS, revocation, ingress HTTPS, rotation$label"
    run_counted "cluster TLS$label" tests/e2e/tls.sh "$build"
    step "the autoscaler: load up, calm down$label"
    run_counted "autoscale$label" tests/e2e/autoscale.sh "$build"
    step "releases: rolling, blue-green, canary, rollback$label"
    run_counted "rollouts$label" tests/e2e/rollout.sh "$build"
    step "what the master keeps: revision history and bundles$label"
    run_counted "retention$label" tests/e2e/retention.sh "$build"
    local chaos=0
    [ -z "$label" ] && chaos=$CHAOS_ROUNDS
    local rounds=""
    [ "$chaos" -gt 0 ] && rounds=", then $chaos rounds of restarting everything"
    step "several masters on etcd over TLS, under faults$rounds$label"
    run_counted "several masters on etcd$label" env HA_TLS=1 CHAOS="$chaos" tests/e2e/ha.sh "$build"
    step "the master on etcd over TLS$label"
    run_counted "etcd over TLS$label" tests/e2e/etcd_tls.sh "$build"
    step "the master's disk full$label"
    run_counted "disk full$label" tests/e2e/disk_full.sh "$build"
    step "etcd out of space$label"
    run_counted "etcd out of space$label" tests/e2e/etcd_full.sh "$build"
    step "scaling in place (drained) and on requests in flight$label"
    run_counted "scaling$label" tests/e2e/scale.sh "$build"
    step "secrets and tokens end to end$label"
    run_counted "secrets and tokens$label" tests/e2e/secrets.sh "$build"
    step "a cluster across network namespaces$label"
    run_counted "cluster in namespaces$label" tests/e2e/cluster_netns.sh "$build"
    step "a master cut off from etcd (network namespaces)$label"
    run_counted "master cut off from etcd$label" tests/e2e/etcd_netns.sh "$build"
    step "deadlines around host calls$label"
    run_counted "deadlines$label" tests/e2e/timeouts.sh "$build"
}

# expect_cli STATUS PATTERN CMD...: run qyv, check its exit status and that
# its output (stdout and stderr) matches the extended regex PATTERN.
cli_ok=1 cli_checks=0
expect_cli() {
    local want=$1 pattern=$2 rc
    shift 2
    cli_checks=$((cli_checks + 1))
    "$@" >"$LOG/cli.out" 2>&1
    rc=$?
    if [ $rc -ne "$want" ] || ! grep -qE -e "$pattern" "$LOG/cli.out"; then
        echo "'$*': expected status $want and output matching /$pattern/, got status $rc:"
        head -20 "$LOG/cli.out"
        cli_ok=0
    fi
}

have_spec=1
if ! compgen -G "$SPEC_DIR/*.json" >/dev/null; then
    have_spec=0
    fail_step "no spec tests in $SPEC_DIR (set QYVOL_SHARED to the shared data folder)"
fi

step "build (gcc, warnings are errors)"
gcc_ok=1
make -j"$JOBS" WERROR=1 >"$LOG/build.out" 2>&1 || { cat "$LOG/build.out"; fail_step "gcc build"; gcc_ok=0; }
# The WASI test suite's programs as components (jco; tests/wasitest/components.sh).
make -j"$JOBS" wasi-components SHARED="$SHARED" >"$LOG/wasi-components.out" 2>&1 ||
    { tail -20 "$LOG/wasi-components.out"; fail_step "WASI suite components (make wasi-components)"; }

step "build (clang-19, warnings are errors)"
make -j"$JOBS" WERROR=1 CC=clang-19 BUILD=build/clang >"$LOG/clang.out" 2>&1 ||
    { cat "$LOG/clang.out"; fail_step "clang build"; }

step "unit tests"
if [ $gcc_ok -eq 1 ]; then run_unit build "unit tests"; else skip_step "unit tests" "the gcc build failed"; fi

step "spec tests"
if [ $gcc_ok -eq 1 ] && [ $have_spec -eq 1 ]; then
    run_spec build/spectest "spec tests"
else
    skip_step "spec tests" "the gcc build failed or the spec tests are missing"
fi

if [ $gcc_ok -eq 1 ]; then
    run_wasi_suites build ""
else
    skip_step "WASI suites" "the gcc build failed"
fi

step "build with AddressSanitizer + UndefinedBehaviorSanitizer"
asan_ok=1
asan_targets=(build/asan/spectest build/asan/qyv build/asan/wasitest build/asan/tests/wasi/escape.wasm
              build/asan/tests/wasi/escape-racer build/asan/tests/wasi/grants.wasm
              build/asan/tests/timeouts/hostloop.wasm build/asan/tests/e2e/cat.wasm
              build/asan/tests/e2e/burn.wasm build/asan/tests/e2e/version.wasm
              build/asan/tests/e2e/secret_echo.wasm build/asan/tests/e2e/nap.wasm)
for t in tests/unit/test_*.c tests/manifest/test_*.c; do asan_targets+=("build/asan/tests/$(basename "$t" .c)"); done
make -j"$JOBS" SAN=address OPT=-O1 BUILD=build/asan "${asan_targets[@]}" >"$LOG/asan.out" 2>&1 || { cat "$LOG/asan.out"; fail_step "asan build"; asan_ok=0; }

step "unit tests (sanitizers)"
if [ $asan_ok -eq 1 ]; then
    run_unit build/asan "unit tests (sanitizers)"
else
    skip_step "unit tests (sanitizers)" "the sanitizer build failed"
fi

step "spec tests (sanitizers)"
if [ $asan_ok -eq 1 ] && [ $have_spec -eq 1 ]; then
    run_spec build/asan/spectest "spec tests (sanitizers)"
else
    skip_step "spec tests (sanitizers)" "the sanitizer build failed or the spec tests are missing"
fi

if [ $asan_ok -eq 1 ]; then
    run_wasi_suites build/asan " (sanitizers)"
else
    skip_step "WASI suites (sanitizers)" "the sanitizer build failed"
fi

# fuzz_for NAME SECONDS HARNESS CORPUS [FLAGS...]: run a libFuzzer harness
# for SECONDS; a crash, leak or timeout fails the step NAME.
fuzz_for() {
    local name=$1 seconds=$2 harness=$3 corpus=$4
    shift 4
    if timeout $((seconds + 120)) "$harness" -max_total_time="$seconds" -timeout=10 \
        -artifact_prefix=build/fuzz/artifacts/ "$@" "$corpus" >"$LOG/fuzz.out" 2>&1; then
        grep -E 'stat::number_of_executed_units|Done' "$LOG/fuzz.out" | head -3
    else
        tail -60 "$LOG/fuzz.out"
        fail_step "$name (reproducer in build/fuzz/artifacts/)"
    fi
}

step "fuzzing for ${FUZZ_SECONDS}s"
if ! make -j"$JOBS" fuzz >"$LOG/fuzz-build.out" 2>&1; then
    cat "$LOG/fuzz-build.out"
    fail_step "fuzz build"
else
    # libFuzzer adds new inputs to its first corpus folder: use a copy so the
    # shared data is never written.
    corpus="$LOG/corpus"
    mkdir -p "$corpus" build/fuzz/artifacts
    [ $have_spec -eq 1 ] && cp "$SPEC_DIR"/*.wasm "$corpus"/
    fuzz_for fuzzing "$FUZZ_SECONDS" build/fuzz/fuzz_module "$corpus" -rss_limit_mb=4096 -print_final_stats=1
    # The HTTP front, for a third of the time, from raw request seeds.
    hcorpus="$LOG/http-corpus"
    mkdir -p "$hcorpus"
    cp tests/fuzz/http_seeds/* "$hcorpus"/
    fuzz_for "HTTP front fuzzing" $((FUZZ_SECONDS / 3)) build/fuzz/fuzz_http "$hcorpus"
    # Components, for a third of the time, from the test components.
    ccorpus="$LOG/component-corpus"
    mkdir -p "$ccorpus"
    cp build/testcomp/*.wasm build/tests/components/*.component.wasm "$ccorpus"/ 2>/dev/null
    fuzz_for "component fuzzing" $((FUZZ_SECONDS / 3)) build/fuzz/fuzz_component "$ccorpus" -rss_limit_mb=4096
    # The manifest parser, for a third of the time, from the test manifests.
    mcorpus="$LOG/manifest-corpus"
    mkdir -p "$mcorpus"
    cp tests/manifest/fixtures/*/*.qyv "$mcorpus"/
    fuzz_for "manifest fuzzing" $((FUZZ_SECONDS / 3)) build/fuzz/fuzz_manifest "$mcorpus"
    # Its nesting, from recipes (tests/manifest/fuzz_manifest_nesting.c).
    ncorpus="$LOG/nesting-corpus"
    mkdir -p "$ncorpus"
    printf '\340' >"$ncorpus/deep-flow"
    printf '\342\345' >"$ncorpus/deep-map"
    fuzz_for "manifest nesting fuzzing" $((FUZZ_SECONDS / 4)) build/fuzz/fuzz_manifest_nesting "$ncorpus"
fi

step "CLI smoke test"
if [ $gcc_ok -eq 1 ]; then
    q=build/qyv
    expect_cli 0 '^832040$' $q invoke build/examples/fib.wasm fib 30
    expect_cli 0 'full.qyv: ok$' $q validate tests/manifest/fixtures/valid/full.qyv
    expect_cli 1 "algorithm_misspelt.qyv:5:16: .*did you mean 'least_connections'" \
        $q validate tests/manifest/fixtures/bad/algorithm_misspelt.qyv
    # The guide's manifests validate as written; its idle exclude is a warning.
    guide=(tests/manifest/fixtures/valid/guide_{deploy,load_balancer,net,fs}.qyv)
    expect_cli 0 'guide_deploy.qyv: ok$' $q validate "${guide[@]}"
    expect_cli 0 'guide_fs.qyv: ok$' $q validate "${guide[@]}"
    expect_cli 0 "guide_fs.qyv:9:15: warning: 'permissions.fs.exclude\[0\]'" $q validate "${guide[@]}"
    expect_cli 1 "health_check_on_cli_app.qyv:6:17: .*says 'type: cli'" \
        $q validate tests/manifest/fixtures/bad/health_check_on_cli_app.qyv
    expect_cli 134 '^trap: out of fuel$' $q invoke --fuel 100 build/examples/fib.wasm fib 30
    expect_cli 134 '^  at fib \(func [0-9]+\)$' $q invoke --fuel 100 build/examples/fib.wasm fib 30
    expect_cli 2 'takes 1 argument, 0 given' $q invoke build/examples/fib.wasm fib
    expect_cli 2 "not a valid i32" $q invoke build/examples/fib.wasm fib x
    expect_cli 1 "no export named 'nope'" $q invoke build/examples/fib.wasm nope
    expect_cli 0 'fib.wasm: ok$' $q validate-wasm build/examples/fib.wasm
    expect_cli 1 'cannot read missing.wasm: No such file or directory' $q validate-wasm missing.wasm
    expect_cli 2 "unknown command 'frobnicate'" $q frobnicate
    expect_cli 0 "^qyv $(cat VERSION)$" $q version
    t=build/testwasm
    expect_cli 7 '^bye$' $q run $t/wasi_exit.wasm
    expect_cli 134 '^qyv run: .*wasi_trap.wasm: trap: unreachable$' $q run $t/wasi_trap.wasm
    expect_cli 134 '^  at outer \(func 1\)$' $q run $t/wasi_trap.wasm
    expect_cli 124 'timed out after 200 ms' timeout 20 $q run --timeout 200ms $t/wasi_spin.wasm
    expect_cli 134 'trap: out of fuel' $q run --fuel 10000 $t/wasi_spin.wasm
    expect_cli 125 'unknown import: wasi_snapshot_preview1.no_such_call' $q run $t/wasi_unknown_import.wasm
    expect_cli 125 'cannot read missing.wasm: No such file' $q run missing.wasm
    expect_cli 125 "unknown option '--bogus'" $q run --bogus $t/wasi_exit.wasm
    expect_cli 125 'no program given' $q run
    expect_cli 125 "--env takes KEY=VALUE, not 'X'" $q run --env X $t/wasi_exit.wasm
    expect_cli 125 "--timeout '5' .*" $q run --timeout 5 $t/wasi_exit.wasm
    expect_cli 126 'exec_true.qyv:4:9: .*cannot be granted' $q run tests/manifest/fixtures/bad/exec_true.qyv
    expect_cli 125 "algorithm_misspelt.qyv:5:16: .*did you mean" $q run tests/manifest/fixtures/bad/algorithm_misspelt.qyv
    # qyv run shows a manifest's warnings on stderr, then runs it.
    mkdir -p "$LOG/warned/data"
    cp $t/wasi_exit.wasm "$LOG/warned/"
    printf 'name: warned\nentrypoint: wasi_exit.wasm\npermissions:\n  fs: {read: [/app/data], exclude: [/app/secrets]}\n' \
        >"$LOG/warned/app.qyv"
    expect_cli 7 "app.qyv:4:37: warning: 'permissions.fs.exclude\[0\]'" $q run "$LOG/warned/app.qyv"
    expect_cli 7 '^bye$' $q run "$LOG/warned/app.qyv"
    expect_cli 0 '^usage: qyv run' $q run --help
    expect_cli 0 '^usage: qyv serve' $q serve --help
    expect_cli 2 'no apps given' $q serve
    expect_cli 0 '^usage: qyv node' $q node --help
    expect_cli 2 'listen ADDR:PORT is needed' $q node --data "$LOG" --token-file "$LOG/none"
    expect_cli 2 "capacity: unknown capacity 'disk'" $q node --capacity disk=1G
    expect_cli 1 'cannot read .*none: No such file' $q node --listen 127.0.0.1:1 --data "$LOG/node" --token-file "$LOG/none"
    printf hello >"$LOG/five"
    expect_cli 5 'status 5' bash -c "$q run $t/wasi_unstable.wasm <$LOG/five; s=\$?; echo status \$s; exit \$s"
    expect_cli 0 'app.component.wasm: ok \(component\)$' $q validate-wasm examples/hello-component/app.component.wasm
    expect_cli 0 '^Hola from a Qyvol component!$' $q run examples/hello-component/app.qyv
    mkdir -p "$LOG/comp" && cp examples/hello-component/app.component.wasm "$LOG/comp/" &&
        printf 'name: c\nentrypoint: app.component.wasm\ntype: http\n' >"$LOG/comp/app.qyv"
    expect_cli 1 'is a component that does not export wasi:http/incoming-handler@0.2.x' $q serve --listen 127.0.0.1:1 "$LOG/comp/app.qyv"
    expect_cli 0 'qyv-node.service' bash -c "make -s install PREFIX=/opt/qyvol DESTDIR='$LOG/inst' >/dev/null &&
        '$LOG/inst/opt/qyvol/bin/qyv' version >/dev/null && grep -l 'ExecStart=/opt/qyvol/bin/qyv node' '$LOG/inst/opt/qyvol/lib/systemd/system/'*.service"
    [ $cli_ok -eq 1 ] && echo "$cli_checks CLI checks passed (qyv invoke build/examples/fib.wasm fib 30 -> 832040, ...)"
    [ $cli_ok -eq 1 ] || fail_step "CLI smoke test"
else
    skip_step "CLI smoke test" "the gcc build failed"
fi

step_done
echo
echo "slowest steps (of $SECONDS s in all):"
printf '%s\n' "${step_times[@]}" | sort -rn | head -8
echo
if [ ${#broken[@]} -gt 0 ]; then
    echo "failed steps: ${broken[*]}"
else
    echo "all steps passed"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ ${#broken[@]} -eq 0 ] && [ "$failed" -eq 0 ]
