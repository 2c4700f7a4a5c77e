#!/usr/bin/env bash
# bench/run.sh — Qyvol's CPU benchmark suite (see bench/README.md).
#
#   bench/run.sh [KERNEL...]      all kernels, or only the ones named
#
# Builds the kernels (wasm32 with clang, native with gcc) and, if the engine
# links, bench/runner; then runs every kernel natively, with wasm3 (and WAMR's
# fast interpreter, if present) and with Qyvol, checks that all checksums
# agree, and prints the time ratios measured in this run. Times are process
# wall-clock times (start-up, load and compile included; they are tiny next
# to the run but are subtracted anyway: each time is the best of BENCH_RUNS
# runs with the kernel's N minus the best of as many runs with N=0.
#
# Environment:
#   BUILD=dir           build folder (default build)
#   WASM3=path          wasm3 binary (default /work/anchors/wasm3/build/wasm3)
#   IWASM=path          WAMR iwasm, fast interpreter
#                       (default /work/anchors/wamr/product-mini/platforms/linux/build/iwasm)
#   QYVOL_RUNNER=path   runner binary (default $BUILD/bench/runner, built here)
#   QYVOL_QYV=path      qyv, for the WASI programs (default $BUILD/qyv)
#   BENCH_RUNS=3        runs per kernel and runtime (best is kept)
#   BENCH_BUDGET=10     seconds: no further runs of a cell once its runs took this long
#   BENCH_TIMEOUT=120   seconds: a single run taking longer is killed and fails
#   BENCH_SCALE=1       multiply every kernel's N by this (e.g. 0.1 for a smoke test)
#   BENCH_CLOCK=cpu     cpu: user + system time of each process; wall: wall-clock time
#   WASI_TESTSUITE=dir  where to find the largest .wasm for the load benchmark
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
BUDGET=${BENCH_BUDGET:-10}
TIMEOUT=${BENCH_TIMEOUT:-120}
SCALE=${BENCH_SCALE:-1}
CLOCK=${BENCH_CLOCK:-cpu}
WASI_TESTSUITE=${WASI_TESTSUITE:-/work/shared/wasi-testsuite/tests/rust/testsuite/wasm32-wasip1}
LOG=${TMPDIR:-/tmp}/qyvol-bench.$$.log

# kernel and its N: sized so that each takes ~0.1-0.2 s natively. fib's
# work grows as 1.618^N, the others' linearly in N.
KERNELS=(
    "fib 40 exp"
    "sieve 100"
    "matmul 300"
    "sha256 2000"
    "sort 2000000"
    "interp 3000000"
    "crc32 1000"
    "nbody 100000"
)
# Larger programs (bench/programs/): what real code does, rather than one
# hot loop each. Sized the same way.
PROGRAMS=(
    "bytecode 3000"
    "json 1500"
    "lz 120"
    "regex 200"
    "sortnet 400"
    "pagecache 80000"
    "embedded 3000"
)
# WASI commands written in Rust with its standard library (bench/rust/):
# run as commands (`wasm3 FILE N`, `iwasm FILE N`, `qyv run FILE -- N`,
# the native build `FILE N`), each printing "checksum C". The Rust
# examples of examples/ exit within microseconds, too little to time, so
# this program stands for them.
WASI_PROGRAMS=(
    "wordfreq 400"
)
is_program() { [[ " ${PROGRAMS[*]} ${WASI_PROGRAMS[*]} " == *" $1 "* ]]; }
is_wasi() { [[ " ${WASI_PROGRAMS[*]} " == *" $1 "* ]]; }

selected=("$@")
for k in "${selected[@]}"; do
    if [[ " ${KERNELS[*]} ${PROGRAMS[*]} ${WASI_PROGRAMS[*]} " != *" $k "* ]]; then
        echo "error: unknown kernel $k (kernels and programs: $(printf '%s\n' "${KERNELS[@]}" "${PROGRAMS[@]}" "${WASI_PROGRAMS[@]}" | cut -d' ' -f1 | tr '\n' ' '))" >&2
        exit 2
    fi
done

# ------------------------------------------------------------------ build
echo "building kernels ..."
if ! make -s BUILD="$BUILD" bench-kernels >"$LOG" 2>&1; then
    cat "$LOG"
    echo "error: cannot build the benchmark kernels" >&2
    exit 1
fi

notes=()
RUNNER=${QYVOL_RUNNER:-}
if [ -z "$RUNNER" ]; then
    if make -s BUILD="$BUILD" "$BUILD/bench/runner" >"$LOG" 2>&1; then
        RUNNER=$BUILD/bench/runner
    else
        notes+=("qyvol: bench/runner does not build/link yet (make $BUILD/bench/runner; log: $LOG)")
    fi
fi
if [ -n "$RUNNER" ] && [ ! -x "$RUNNER" ]; then
    notes+=("qyvol: $RUNNER is not executable")
    RUNNER=
fi

QYV=${QYVOL_QYV:-$BUILD/qyv}
if [ ! -x "$QYV" ] && ! make -s BUILD="$BUILD" "$BUILD/qyv" >"$LOG" 2>&1; then
    notes+=("qyvol: $QYV does not build (the WASI programs need it)")
fi

WASM3=${WASM3:-/work/anchors/wasm3/build/wasm3}
if [ ! -x "$WASM3" ]; then
    notes+=("wasm3: not found at $WASM3 (set WASM3=/path/to/wasm3); column skipped")
    WASM3=
fi
IWASM=${IWASM:-/work/anchors/wamr/product-mini/platforms/linux/build/iwasm}
if [ ! -x "$IWASM" ]; then
    IWASM=
fi

# ------------------------------------------------------------------ helpers
# measure CMD...: run once under the timeout; sets T (wall seconds) and OUT.
# With BENCH_CLOCK=cpu (the default) T is the CPU time (user + system) of
# the process instead: on a shared machine it does not count the time spent
# waiting for a CPU, which wall-clock time does.
measure() {
    local s e rc TIMEFORMAT='%3U %3S'
    if [ "$CLOCK" = cpu ]; then
        { time { OUT=$(timeout "$TIMEOUT" "$@" 2>&1); rc=$?; }; } 2>"$LOG.time"
        T=$(awk '{ printf "%.6f", $1 + $2 }' "$LOG.time")
        return $rc
    fi
    s=$EPOCHREALTIME
    OUT=$(timeout "$TIMEOUT" "$@" 2>&1)
    rc=$?
    e=$EPOCHREALTIME
    T=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.6f", e - s }')
    return $rc
}

# checksum KIND: the checksum in $OUT as printed by that kind of runtime.
checksum() {
    case $1 in
    wasm3) sed -n 's/^Result: *\(-\{0,1\}[0-9][0-9]*\).*/\1/p' <<<"$OUT" | tail -1 ;;
    iwasm) # prints the result as 0x...:i32
        local h
        h=$(sed -n 's/^0x\([0-9a-fA-F]\{1,8\}\):i32$/\1/p' <<<"$OUT" | tail -1)
        [ -n "$h" ] && echo $(( (16#$h ^ 0x80000000) - 0x80000000 )) ;;
    *) sed -n 's/^checksum \(-\{0,1\}[0-9][0-9]*\)$/\1/p' <<<"$OUT" ;;
    esac
}

# bench KIND NAME CMD...: runs "CMD... N" (N = $n) up to $RUNS times and
# "CMD... 0" as often; BEST is the best wall time of the first minus the best
# of the second (process start-up, loading and instantiation cancel out), SUM
# the checksum. Returns 1 (BEST empty, message in ERR) on failure.
bench() {
    local kind=$1 name=$2 i total=0 sum best='' base=''
    shift 2
    BEST='' SUM='' ERR=''
    for ((i = 0; i < RUNS; i++)); do
        if ! measure "$@" "$n"; then
            ERR="$kind $name failed: $(tail -3 <<<"$OUT" | tr '\n' ' ')"
            return 1
        fi
        sum=$(checksum "$kind")
        if [ -z "$sum" ]; then
            ERR="$kind $name: no checksum in output: $(tail -3 <<<"$OUT" | tr '\n' ' ')"
            return 1
        fi
        if [ -n "$SUM" ] && [ "$sum" != "$SUM" ]; then
            ERR="$kind $name: checksum changed between runs ($SUM, $sum)"
            return 1
        fi
        SUM=$sum
        best=$(awk -v a="$T" -v b="$best" 'BEGIN { print ((b == "" || a < b) ? a : b) }')
        total=$(awk -v a="$total" -v b="$T" 'BEGIN { print a + b }')
        awk -v a="$total" -v b="$BUDGET" 'BEGIN { exit !(a >= b) }' && break
    done
    for ((i = 0; i < RUNS; i++)); do
        if ! measure "$@" 0; then
            ERR="$kind $name failed with N=0: $(tail -3 <<<"$OUT" | tr '\n' ' ')"
            return 1
        fi
        base=$(awk -v a="$T" -v b="$base" 'BEGIN { print ((b == "" || a < b) ? a : b) }')
    done
    BEST=$(awk -v a="$best" -v b="$base" 'BEGIN { d = a - b; printf "%.6f", (d > 1e-4) ? d : 1e-4 }')
    return 0
}

# show RUNTIME TIME STATUS: progress output, the time if there is one.
show() {
    if [ -n "$2" ]; then printf ' %s %.3fs' "$1" "$2"; else printf ' %s %s' "$1" "$3"; fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ------------------------------------------------------------------ run
rows=()
fail=0
log_w3=() log_wa=() log_qv=() log_sp=() log_spp=()

echo "wasm3:  ${WASM3:-none}"
[ -n "$IWASM" ] && echo "wamr:   $IWASM (fast interpreter)"
echo "qyvol:  ${RUNNER:-none}"
echo "times:  $CLOCK time, best of $RUNS runs (fewer once a cell took ${BUDGET}s) minus best of $RUNS runs with N=0"
echo

for entry in "${KERNELS[@]}" "${PROGRAMS[@]}" "${WASI_PROGRAMS[@]}"; do
    read -r name n growth <<<"$entry"
    if [ ${#selected[@]} -gt 0 ] && [[ " ${selected[*]} " != *" $name "* ]]; then
        continue
    fi
    n=$(awk -v n="$n" -v s="$SCALE" -v g="${growth:-lin}" 'BEGIN {
        v = g == "exp" ? int(n + log(s) / log(1.618) + 0.5) : int(n * s)
        print ((v < 1) ? 1 : v) }')
    wasm=$BUILD/bench/$name.wasm
    printf '%-8s n=%-9s' "$name" "$n"
    if is_wasi "$name"; then
        kind3=wasi kinda=wasi kindq=wasi
        cmd3=("$WASM3" "$wasm") cmda=("$IWASM" "$wasm") cmdq=("$QYV" run "$wasm" --)
    else
        kind3=wasm3 kinda=iwasm kindq=qyvol
        cmd3=("$WASM3" --func run "$wasm") cmda=("$IWASM" -f run "$wasm") cmdq=("$RUNNER" "$wasm")
    fi

    if ! bench native "$name" "$BUILD/bench/native/$name"; then
        echo " $ERR"
        notes+=("$ERR")
        fail=1
        continue
    fi
    t_nat=$BEST sum_nat=$SUM
    printf ' native %.3fs' "$t_nat"

    w3=n/a wa=n/a qv=n/a sp=n/a
    t_w3='' t_wa='' t_qv=''
    if [ -n "$WASM3" ]; then
        if bench "$kind3" "$name" "${cmd3[@]}"; then
            if [ "$SUM" = "$sum_nat" ]; then
                t_w3=$BEST
                w3=$(ratio "$t_w3" "$t_nat")
                log_w3+=("$w3")
            else
                w3=MISMATCH
                notes+=("wasm3 $name: checksum $SUM, native $sum_nat")
                fail=1
            fi
        else
            w3=FAIL
            notes+=("$ERR")
        fi
        show wasm3 "$t_w3" "$w3"
    fi
    if [ -n "$IWASM" ]; then
        if bench "$kinda" "$name" "${cmda[@]}"; then
            if [ "$SUM" = "$sum_nat" ]; then
                t_wa=$BEST
                wa=$(ratio "$t_wa" "$t_nat")
                log_wa+=("$wa")
            else
                wa=MISMATCH
                notes+=("wamr $name: checksum $SUM, native $sum_nat")
            fi
        else
            wa=FAIL
            notes+=("$ERR")
        fi
        show wamr "$t_wa" "$wa"
    fi
    if [ -n "$RUNNER" ]; then
        if bench "$kindq" "$name" "${cmdq[@]}"; then
            if [ "$SUM" = "$sum_nat" ]; then
                t_qv=$BEST
                qv=$(ratio "$t_qv" "$t_nat")
                log_qv+=("$qv")
                if [ -n "$t_w3" ]; then
                    sp=$(ratio "$t_w3" "$t_qv")
                    if is_program "$name $n" || is_program "$name"; then log_spp+=("$sp"); else log_sp+=("$sp"); fi
                fi
            else
                qv=MISMATCH
                notes+=("qyvol $name: checksum $SUM, native $sum_nat")
                fail=1
            fi
        else
            qv=FAIL
            notes+=("$ERR")
            fail=1
        fi
        show qyvol "$t_qv" "$qv"
    fi
    echo
    rows+=("$name|$n|$(printf '%.3f' "$t_nat")|$w3|$wa|$qv|$sp")
done

geomean() {
    [ $# -eq 0 ] && { echo n/a; return; }
    printf '%s\n' "$@" | awk '{ s += log($1); k++ } END { printf "%.2f", exp(s / k) }'
}

echo
if [ -n "$IWASM" ]; then
    hdr='| kernel | n | native s | wasm3/native | wamr/native | qyvol/native | qyvol speedup vs wasm3 |'
    sep='|---|---:|---:|---:|---:|---:|---:|'
else
    hdr='| kernel | n | native s | wasm3/native | qyvol/native | qyvol speedup vs wasm3 |'
    sep='|---|---:|---:|---:|---:|---:|'
fi
echo "$hdr"
echo "$sep"
for r in "${rows[@]}"; do
    IFS='|' read -r name n tn w3 wa qv sp <<<"$r"
    if [ -n "$IWASM" ]; then
        echo "| $name | $n | $tn | $w3 | $wa | $qv | $sp |"
    else
        echo "| $name | $n | $tn | $w3 | $qv | $sp |"
    fi
done
gw3=$(geomean "${log_w3[@]}") gwa=$(geomean "${log_wa[@]}")
gqv=$(geomean "${log_qv[@]}") gsp=$(geomean "${log_sp[@]}" "${log_spp[@]}")
if [ -n "$IWASM" ]; then
    echo "| geomean | | | $gw3 | $gwa | $gqv | $gsp |"
else
    echo "| geomean | | | $gw3 | $gqv | $gsp |"
fi
echo
echo "qyvol speedup vs wasm3, geometric mean: kernels $(geomean "${log_sp[@]}") (${#log_sp[@]}), programs $(geomean "${log_spp[@]}") (${#log_spp[@]}); lowest $(printf '%s\n' "${log_sp[@]}" "${log_spp[@]}" | sort -n | head -1)"

# ------------------------------------------------------------------ module load
echo
big=$(find "$WASI_TESTSUITE" -maxdepth 1 -name '*.wasm' -printf '%s %p\n' 2>/dev/null |
      sort -rn | head -1 | cut -d' ' -f2-)
if [ -z "$big" ]; then
    echo "module load: no .wasm files in $WASI_TESTSUITE; skipped"
elif [ -z "$RUNNER" ]; then
    echo "module load: $(basename "$big") ($(stat -c %s "$big") bytes): n/a (no runner)"
elif measure "$RUNNER" --load-only "$big"; then
    load=$(sed -n 's/^load //p' <<<"$OUT")
    size=$(sed -n 's/^size //p' <<<"$OUT")
    awk -v f="$(basename "$big")" -v s="$size" -v t="$load" 'BEGIN {
        printf "module load (qv_module_new, best of 5): %s (%d bytes): %.3f ms", f, s, t * 1e3
        if (t > 0) printf ", %.1f MB/s", s / t / 1e6
        printf "\n" }'
else
    echo "module load: $(basename "$big"): FAILED: $(tail -3 <<<"$OUT" | tr '\n' ' ')"
    fail=1
fi

if [ ${#notes[@]} -gt 0 ]; then
    echo
    printf 'note: %s\n' "${notes[@]}"
fi
[ -n "$RUNNER" ] && rm -f "$LOG"
rm -f "$LOG.time"
exit $fail
