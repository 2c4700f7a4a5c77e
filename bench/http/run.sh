#!/usr/bin/env bash
# HTTP throughput of `qyv serve` against nginx, on this machine, in this run.
#
# Both answer GET with a small text body over keep-alive connections: nginx
# with `return 200` (no files, no upstream: the cheapest answer it has),
# qyv with examples/http-hello, a fresh WebAssembly instance per request.
# wrk drives each for DURATION seconds, in ROUNDS rounds that alternate
# nginx and qyv (this shared machine's speed drifts by tens of percent over
# a minute: a ratio is only fair between runs close in time). The script
# prints requests/s and latency percentiles of every run, each round's
# ratio qyv / nginx, and the median of those ratios.
#
# With a second build folder, each round also runs that build's qyv (the
# two builds' order alternating from round to round), and the script prints
# the median of the rounds' ratios second / first as well: how a change to
# the data path is measured (`cp -r build /tmp/before`, change, rebuild,
# `bench/http/run.sh /tmp/before build`).
#
# Usage: bench/http/run.sh [BUILD_DIR [SECOND_BUILD_DIR]]
#        (env: DURATION=4 ROUNDS=3 CONNECTIONS=32 THREADS=2 WORKERS=ncpu,
#         QYV_FLAGS: more options for the first build's `qyv serve`, e.g.
#         --direct; QYV2_FLAGS: for the second's)
set -u
BUILD=${1:-build}
BUILD_B=${2:-}
DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-$(nproc)}
for tool in wrk nginx curl; do
    command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "bench/http: $tool is missing (scripts/deps.sh installs it)"; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
    for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
    echo "bench/http: $1 did not come up"; exit 1
}

nginx_port=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes $WORKERS;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx;
    proxy_temp_path $tmp/nginx;
    fastcgi_temp_path $tmp/nginx;
    uwsgi_temp_path $tmp/nginx;
    scgi_temp_path $tmp/nginx;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { default_type text/plain; return 200 "Hello from nginx! You asked for '\$uri'.\n"; }
    }
}
CONF
"$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" 2>"$tmp/nginx/stderr" &
pids+=($!)
nginx_pid=$!
wait_up "http://127.0.0.1:$nginx_port/hello/world"

# start_qyv BUILD_DIR [FLAGS]: a server of that build; its port in qyv_port.
start_qyv() {
    qyv_port=$(free_port)
    # shellcheck disable=SC2086
    "$1/qyv" serve --listen 127.0.0.1:"$qyv_port" --workers "$WORKERS" --log-level warn ${2:-} \
        examples/http-hello/app.qyv >>"$tmp/qyv.log" 2>&1 &
    pids+=($!)
    wait_up "http://127.0.0.1:$qyv_port/hello/world"
}
start_qyv "$BUILD" "${QYV_FLAGS:-}"
qyv_a_port=$qyv_port qyv_a_pid=${pids[-1]}
if [ -n "$BUILD_B" ]; then
    start_qyv "$BUILD_B" "${QYV2_FLAGS:-}"
    qyv_b_port=$qyv_port qyv_b_pid=${pids[-1]}
fi

# cpu_ns PID: CPU time so far of the process, its threads and its children
# (nginx's workers, qyv's replicas), in nanoseconds (schedstat).
cpu_ns() {
    local total=0 p t
    for p in "$1" $(pgrep -P "$1"); do
        for t in /proc/"$p"/task/*/schedstat; do
            read -r ns _ <"$t" 2>/dev/null && total=$((total + ns))
        done
    done
    echo "$total"
}

# run NAME URL PID: wrk's requests/s and latency percentiles, and the
# server's CPU time per request (less at the mercy of this shared machine's
# load than requests/s); sets NAME_rps and NAME_cpu.
run() {
    local before after
    before=$(cpu_ns "$3")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2" >"$tmp/$1.wrk" 2>&1
    after=$(cpu_ns "$3")
    local rps p50 p99 errors requests cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/$1.wrk")
    requests=$(awk '/requests in/ {print $1}' "$tmp/$1.wrk")
    p50=$(awk '$1 == "50%" {print $2}' "$tmp/$1.wrk")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/$1.wrk")
    errors=$(grep -E 'Non-2xx|Socket errors' "$tmp/$1.wrk" | tr '\n' ' ')
    cpu=$(awk -v d=$((after - before)) -v n="${requests:-0}" 'BEGIN { printf "%.1f", (n > 0) ? d / n / 1000 : 0 }')
    printf '  %-8s %12s req/s   p50 %8s   p99 %8s   CPU %6s us/request   %s\n' "$1" "$rps" "$p50" "$p99" "$cpu" "$errors"
    eval "${1}_rps=${rps:-0} ${1}_cpu=$cpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, keep-alive, $WORKERS workers each, $(nproc) CPUs, $ROUNDS rounds"
[ -n "$BUILD_B" ] && echo "qyv: $BUILD ${QYV_FLAGS:-}; qyv2: $BUILD_B ${QYV2_FLAGS:-}"
ratios=() ratios_b=() b_over_a=() cpu_nginx=() cpu_qyv=() cpu_qyv2=()
for round in $(seq "$ROUNDS"); do
    echo "round $round"
    run nginx "http://127.0.0.1:$nginx_port/hello/world" "$nginx_pid"
    if [ -z "$BUILD_B" ]; then
        run qyv "http://127.0.0.1:$qyv_a_port/hello/world" "$qyv_a_pid"
    elif [ $((round % 2)) = 1 ]; then
        run qyv "http://127.0.0.1:$qyv_a_port/hello/world" "$qyv_a_pid"
        run qyv2 "http://127.0.0.1:$qyv_b_port/hello/world" "$qyv_b_pid"
    else
        run qyv2 "http://127.0.0.1:$qyv_b_port/hello/world" "$qyv_b_pid"
        run qyv "http://127.0.0.1:$qyv_a_port/hello/world" "$qyv_a_pid"
    fi
    # shellcheck disable=SC2154
    cpu_nginx+=("$nginx_cpu") cpu_qyv+=("$qyv_cpu")
    # shellcheck disable=SC2154
    [ -n "$BUILD_B" ] && cpu_qyv2+=("$qyv2_cpu")
    # shellcheck disable=SC2154
    r=$(ratio "$qyv_rps" "$nginx_rps")
    ratios+=("$r")
    if [ -n "$BUILD_B" ]; then
        # shellcheck disable=SC2154
        rb=$(ratio "$qyv2_rps" "$nginx_rps")
        ratios_b+=("$rb")
        b_over_a+=("$(ratio "$qyv2_rps" "$qyv_rps")")
        echo "  ratio qyv / nginx: $r   qyv2 / nginx: $rb   qyv2 / qyv: ${b_over_a[-1]}"
    else
        echo "  ratio qyv / nginx: $r"
    fi
done
echo "ratio qyv / nginx: $(printf '%s\n' "${ratios[@]}" | median) (median of $ROUNDS rounds: ${ratios[*]}; goal: at least 0.50)"
echo "server CPU per request (median): nginx $(printf '%s\n' "${cpu_nginx[@]}" | median) us, qyv $(printf '%s\n' "${cpu_qyv[@]}" | median) us${BUILD_B:+, qyv2 $(printf '%s\n' "${cpu_qyv2[@]}" | median) us}"
if [ -n "$BUILD_B" ]; then
    echo "ratio qyv2 / nginx: $(printf '%s\n' "${ratios_b[@]}" | median) (median of $ROUNDS rounds: ${ratios_b[*]})"
    echo "ratio qyv2 / qyv: $(printf '%s\n' "${b_over_a[@]}" | median) (median of $ROUNDS rounds: ${b_over_a[*]})"
fi
