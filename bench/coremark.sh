#!/usr/bin/env bash
# bench/coremark.sh — EEMBC CoreMark, kept outside this repository, on
# Qyvol, wasm3 and WAMR in alternating rounds.
#
#   bench/coremark.sh COREMARK_DIR [QYV...]
#
# COREMARK_DIR is a checkout of github:eembc/coremark (nothing of it is in
# this repository). The script builds it for wasm32-wasi with clang-19 -O2
# (its posix port: clock_gettime works under WASI) and natively with gcc
# -O2, into $OUT, then runs each round: native, every QYV given (default
# build/qyv; `qyv run FILE -- ARGS`), wasm3, iwasm. It prints per runtime
# the median CPU time (user + system) of the rounds and CoreMark's own
# iterations/s, and the median of the per-round ratios wasm3/qyv and
# wamr/qyv (> 1: Qyvol is faster). A runtime's CRCs must match native's.
# Environment: ITERATIONS (6000; the interpreters take ~3-5 s), ROUNDS (5),
# WASM3, IWASM (as bench/run.sh), OUT (/tmp/qyvol-coremark).
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
if [ $# -lt 1 ] || [ ! -f "$1/core_main.c" ]; then
    echo "usage: $0 COREMARK_DIR [QYV...]  (COREMARK_DIR: a checkout of github:eembc/coremark)" >&2
    exit 2
fi
SRC=$(cd "$1" && pwd)
shift
QYVS=("$@")
[ ${#QYVS[@]} -gt 0 ] || QYVS=(build/qyv)
ITERATIONS=${ITERATIONS:-6000}
ROUNDS=${ROUNDS:-5}
OUT=${OUT:-/tmp/qyvol-coremark}
WASM3=${WASM3:-/work/anchors/wasm3/build/wasm3}
IWASM=${IWASM:-/work/anchors/wamr/product-mini/platforms/linux/build/iwasm}

# ------------------------------------------------------------------ build
mkdir -p "$OUT/sysroot/lib"
ln -sfn /usr/include/wasm32-wasi "$OUT/sysroot/include"
ln -sfn /usr/lib/wasm32-wasi "$OUT/sysroot/lib/wasm32-wasi"
srcs=()
for f in core_list_join.c core_main.c core_matrix.c core_state.c core_util.c posix/core_portme.c; do
    srcs+=("$SRC/$f")
done
defs=(-I"$SRC" -I"$SRC/posix" -DPERFORMANCE_RUN=1 '-DFLAGS_STR="-O2"')
clang-19 --target=wasm32-wasi --sysroot="$OUT/sysroot" -O2 "${defs[@]}" \
    -o "$OUT/coremark.wasm" "${srcs[@]}" || exit 1
gcc -O2 "${defs[@]}" -o "$OUT/coremark.native" "${srcs[@]}" -lrt || exit 1

# ------------------------------------------------------------------ run
names=(native) cmds=("$OUT/coremark.native")
for q in "${QYVS[@]}"; do names+=("$q"); cmds+=("$q run $OUT/coremark.wasm --"); done
if [ -x "$WASM3" ]; then names+=(wasm3); cmds+=("$WASM3 $OUT/coremark.wasm"); fi
if [ -x "$IWASM" ]; then names+=(wamr); cmds+=("$IWASM $OUT/coremark.wasm"); fi

# run CMD: sets T (CPU seconds), IPS (CoreMark's iterations/s) and CRC.
run() {
    local out TIMEFORMAT='%3U %3S'
    { time { out=$($1 0x0 0x0 0x66 "$ITERATIONS" 2>&1); }; } 2>"$OUT/time"
    T=$(awk '{ printf "%.3f", $1 + $2 }' "$OUT/time")
    IPS=$(sed -n 's/^Iterations\/Sec *: *//p' <<<"$out")
    CRC=$(grep -E '^\[0\]crc' <<<"$out" | tr -s ' ' | tr '\n' ' ')
}

declare -A times ips
echo "CoreMark (github:eembc/coremark $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null)), $ITERATIONS iterations, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
    printf 'round %d:' "$r"
    for i in "${!names[@]}"; do
        run "${cmds[$i]}"
        if [ "$i" -eq 0 ]; then
            crc_native=$CRC
        elif [ "$CRC" != "$crc_native" ]; then
            echo; echo "error: ${names[$i]}: CRCs $CRC, native $crc_native" >&2; exit 1
        fi
        times[$i]+="$T " ips[$i]+="$IPS "
        printf ' %s %ss' "$(basename "${names[$i]}")" "$T"
    done
    echo
done

med() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ratios I J: the median of the rounds' CPU-time ratios T_I / T_J.
ratios() {
    paste <(tr ' ' '\n' <<<"${times[$1]}") <(tr ' ' '\n' <<<"${times[$2]}") |
        awk 'NF == 2 && $2 > 0 { print $1 / $2 }' | med
}
echo
printf '%-28s %10s %14s %12s %12s %12s\n' runtime "CPU s" "iterations/s" "x native" "wasm3/this" "wamr/this"
w3='' wa=''
for i in "${!names[@]}"; do
    [ "${names[$i]}" = wasm3 ] && w3=$i
    [ "${names[$i]}" = wamr ] && wa=$i
done
for i in "${!names[@]}"; do
    printf '%-28s %10.3f %14.1f %12.2f %12s %12s\n' "${names[$i]}" \
        "$(med <<<"${times[$i]}")" "$(med <<<"${ips[$i]}")" "$(ratios "$i" 0)" \
        "$([ -n "$w3" ] && printf '%.3f' "$(ratios "$w3" "$i")" || echo n/a)" \
        "$([ -n "$wa" ] && printf '%.3f' "$(ratios "$wa" "$i")" || echo n/a)"
done
