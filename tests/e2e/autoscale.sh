#!/usr/bin/env bash
# The autoscaler end to end: a master (measuring every second, a 3 s
# scale-down window) and two nodes on loopback, an app that burns CPU on
# every request (tests/e2e/guests/burn.c), `qyv cluster autoscale` with
# its refusals; load raises the replicas within --max, and once it stops
# they come back to --min after the window. Usage: tests/e2e/autoscale.sh
# [BUILD_DIR]. Every process it starts is stopped.
source "$(dirname "$0")/lib.sh"
pids=()
trap 'stop_all; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cluster_lib.sh"

BURN=$BUILD/tests/e2e/burn.wasm
if [ ! -f "$BURN" ]; then bad "the guest" "$BURN is missing (make builds it)"; finish; exit; fi
start_cluster 2 --autoscale-interval 1s --scale-down-window 3s

app=$tmp/app
mkdir -p "$app"
cp "$BURN" "$app/burn.wasm"
printf 'name: burn\nentrypoint: burn.wasm\ntype: http\nroute: /burn\ntimeout: 5s\n' >"$app/app.qyv"
# A tenth of a CPU asked per replica: one request at a time is far over 50%.
expect "deploy" 0 "" "$QYV" cluster deploy "$app/app.qyv" --replicas 1 --cpu 0.1 --memory 32MiB

# ---------------------------------------------------------------- refusals
expect "autoscale: --min over --max" 2 "--min 5 is more than --max 2" \
    "$QYV" cluster autoscale burn --min 5 --max 2 --cpu-threshold 50
expect "autoscale: threshold 0" 2 "--cpu-threshold takes a whole number from 1 to 100" \
    "$QYV" cluster autoscale burn --min 1 --max 2 --cpu-threshold 0
expect "autoscale: threshold 101" 2 "from 1 to 100, not '101'" \
    "$QYV" cluster autoscale burn --min 1 --max 2 --cpu-threshold 101
expect "autoscale: a flag missing" 2 "needs APP, --min N, --max N" "$QYV" cluster autoscale burn --min 1 --max 2
expect "autoscale: no such app" 1 "no app 'nope'" "$QYV" cluster autoscale nope --min 1 --max 2 --cpu-threshold 50
api() { curl -s -o "$tmp/api" -w '%{http_code}' -H "Authorization: Bearer $token" "$@"; }
code=$(api -X POST -d '{"min":3,"max":2,"cpu_threshold":50}' "http://$master/v1/apps/burn/autoscale")
[ "$code" = 400 ] && grep -q "min must not be more than max" "$tmp/api" && ok "API refuses min > max" ||
    bad "API refuses min > max" "$code $(cat "$tmp/api")"
code=$(api -X POST -d '{"min":1,"max":2,"cpu_threshold":150}' "http://$master/v1/apps/burn/autoscale")
[ "$code" = 400 ] && ok "API refuses a threshold of 150" || bad "API threshold" "$code $(cat "$tmp/api")"

# ---------------------------------------------------------------- on
expect "autoscale on" 0 "autoscaling burn: 1 to 4 replicas at 50% CPU" \
    "$QYV" cluster autoscale "$app/app.qyv" --min 1 --max 4 --cpu-threshold 50
expect "status shows the autoscaler" 0 '"cpu_threshold": ?50' "$QYV" cluster status burn --output json
field() { "$QYV" cluster status burn --output json 2>/dev/null | python3 -c "import json,sys; a=json.load(sys.stdin); print($1)"; }
wanted() { counts burn | cut -d/ -f1; }
# The nodes report each app's CPU seconds.
reports_cpu() { curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:${nport[1]}/v1/node" "http://127.0.0.1:${nport[2]}/v1/node" | grep -q '"cpu_seconds"'; }
until_true 10 reports_cpu && ok "nodes report cpu_seconds per app" || bad "cpu_seconds" "$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:${nport[1]}/v1/node")"

# ---------------------------------------------------------------- load: up
load() { while :; do curl -s -o /dev/null -m 5 "http://127.0.0.1:${iport[1]}/burn/?200"; done; }
load & lpid1=$!
load & lpid2=$!
pids+=("$lpid1" "$lpid2")
t0=$(date +%s%N)
scaled_up() { [ "$(wanted)" -ge 2 ]; }
if until_true 20 scaled_up; then
    echo "REPORT autoscale-up-ms $((($(date +%s%N) - t0) / 1000000))"
    ok "load raises the replicas ($(wanted) wanted)"
else
    bad "load raises the replicas" "$(wanted) wanted; $(grep -E 'autoscal' "$tmp/master.log" | tail -3)"
fi
sleep 2
w=$(wanted)
[ "$w" -ge 2 ] && [ "$w" -le 4 ] && ok "within --max under load ($w)" || bad "within bounds" "$w wanted"
grep -q '"message":"autoscaled".*"from":1' "$tmp/master.log" && ok "the decision is logged (from, to, utilisation)" ||
    bad "decision logged" "$(grep -E 'autoscal' "$tmp/master.log" | tail -3)"
expect "status: the last decision and why" 0 \
    "autoscaling burn: 1 to 4 replicas at 50% CPU, down after 3s; last: ([0-9] -> [2-4]|[2-4] kept): CPU at [0-9]+% of what the replicas ask for, target 50%" \
    "$QYV" cluster status
metric() { curl -s -H "Authorization: Bearer $token" "http://$master/v1/metrics" | grep -E '^qyvol_cluster_autoscale_desired\{app="burn"\} [2-4]$'; }
metric >/dev/null && ok "/v1/metrics: qyvol_cluster_autoscale_desired" ||
    bad "metrics" "$(curl -s -H "Authorization: Bearer $token" "http://$master/v1/metrics" | grep autoscale)"

# ---------------------------------------------------------------- calm: down
kill "$lpid1" "$lpid2" 2>/dev/null
wait "$lpid1" "$lpid2" 2>/dev/null
t0=$(date +%s)
at_min() { [ "$(wanted)" -eq 1 ]; }
if until_true 20 at_min; then
    s=$(($(date +%s) - t0))
    echo "REPORT autoscale-down-s $s"
    # Not before the 3 s window (measured from the last busy recommendation).
    [ "$s" -ge 2 ] && ok "back to --min ${s}s after the load stopped" || bad "scale-down window" "down after ${s}s"
else
    bad "back to --min" "$(wanted) wanted; $(grep -E 'autoscal' "$tmp/master.log" | tail -3)"
fi

# ---------------------------------------------------------------- manual scale, off
expect "manual scale of an autoscaled app" 0 "" "$QYV" cluster scale burn --replicas 3
expect "autoscale --off" 0 "autoscaling burn: off" "$QYV" cluster autoscale burn --off
sleep 2
[ "$(wanted)" -eq 3 ] && ok "off: the replicas stay as they are" || bad "off" "$(wanted) wanted"
[ "$(field 'a["autoscale"]')" = None ] && ok "off: GET shows no autoscale" || bad "off shows" "$(field 'a["autoscale"]')"

stop_all
finish
