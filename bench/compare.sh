#!/usr/bin/env bash
# bench/compare.sh — two Qyvol builds against each other, in alternating
# rounds (A B A B ...), on every kernel and program of bench/run.sh.
#
#   bench/compare.sh RUNNER_A RUNNER_B [NAME...]
#
# RUNNER_A and RUNNER_B are bench/runner binaries (e.g. one built from the
# previous commit). Each round runs every workload on A then on B; the time
# is the CPU time of the runner's call. Prints, per workload, the median of the
# per-round ratios A/B (> 1: B is faster) and their geometric mean.
# Environment: BUILD (build), ROUNDS (5), BENCH_SCALE (1).
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
[ $# -ge 2 ] || { echo "usage: $0 RUNNER_A RUNNER_B [NAME...]" >&2; exit 2; }
A=$1 B=$2
shift 2
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-5}
SCALE=${BENCH_SCALE:-1}
# The workload list and sizes of bench/run.sh.
mapfile -t entries < <(sed -n '/^\(KERNELS\|PROGRAMS\)=(/,/^)/{/^ *"/s/^ *"\([^"]*\)".*/\1/p}' bench/run.sh)
make -s BUILD="$BUILD" bench-kernels >/dev/null || exit 1

# The call's CPU time (on a shared machine waiting for a CPU does not
# count) and its checksum: "SECONDS CHECKSUM".
call_time() { "$1" "$2" "$3" | awk '/^cpu / { t = $2 } /^checksum / { c = $2 } END { if (t != "") print t, c }'; }
ratios=()
printf '%-10s %10s %10s %8s\n' workload "A s" "B s" "A/B"
for entry in "${entries[@]}"; do
    read -r name n growth <<<"$entry"
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
    n=$(awk -v n="$n" -v s="$SCALE" -v g="${growth:-lin}" 'BEGIN {
        v = g == "exp" ? int(n + log(s) / log(1.618) + 0.5) : int(n * s); print ((v < 1) ? 1 : v) }')
    wasm=$BUILD/bench/$name.wasm
    rs=() ta=() tb=()
    for ((r = 0; r < ROUNDS; r++)); do
        read -r a sum_a <<<"$(call_time "$A" "$wasm" "$n")"
        read -r b sum_b <<<"$(call_time "$B" "$wasm" "$n")"
        [ -n "$a" ] && [ -n "$b" ] || { echo "$name: a runner failed" >&2; exit 1; }
        [ "$sum_a" = "$sum_b" ] || { echo "$name: checksums differ: $sum_a, $sum_b" >&2; exit 1; }
        ta+=("$a") tb+=("$b")
        rs+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a / b }')")
    done
    med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    m=$(med "${rs[@]}")
    ratios+=("$m")
    printf '%-10s %10.4f %10.4f %8.3f\n' "$name" "$(med "${ta[@]}")" "$(med "${tb[@]}")" "$m"
done
printf '%s\n' "${ratios[@]}" | awk '{ s += log($1); k++ } END { if (k) printf "geomean A/B %.3f over %d workloads\n", exp(s / k), k }'
