#!/usr/bin/env bash
# Scaling end to end: a master (autoscaler every second) and two nodes on
# loopback, an app whose requests sleep (tests/e2e/guests/nap.c).
# `qyv cluster scale` changes the replicas in place (the replicas that stay
# keep their processes) under a request loop with no failed request, and
# long requests on the replicas taken out finish; a redeploy of the same
# manifest after a scale changes nothing; `autoscale --target-inflight`
# raises the replicas under load and brings them back to --min after a
# shortened window; deploy.autoscale in a manifest, and its mistakes with
# FILE:LINE:COLUMN. Usage: tests/e2e/scale.sh [BUILD_DIR]. Every process
# it starts is stopped.
source "$(dirname "$0")/lib.sh"
pids=()
trap 'stop_all; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cluster_lib.sh"

NAP=$BUILD/tests/e2e/nap.wasm
if [ ! -f "$NAP" ]; then bad "the guest" "$NAP is missing (make builds it)"; finish; exit; fi
LOAD="python3 $(dirname "$0")/load.py"
start_cluster 2 --autoscale-interval 1s --scale-down-window 10s

app=$tmp/app
mkdir -p "$app"
cp "$NAP" "$app/nap.wasm"
printf 'name: nap\nentrypoint: nap.wasm\ntype: http\nroute: /nap\ntimeout: 10s\n' >"$app/app.qyv"
expect "deploy 2 replicas" 0 "" "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 32MiB
field() { "$QYV" cluster status "${2:-nap}" --output json 2>/dev/null | python3 -c "import json,sys; a=json.load(sys.stdin); print($1)"; }
ready() { counts nap | cut -d/ -f3; }
wanted() { counts "${1:-nap}" | cut -d/ -f1; }
# ready_is N: N wanted, running and ready (the ones taken out are gone).
ready_is() { [ "$(counts nap)" = "$1/$1/$1" ]; }
until_true 15 ready_is 2 && ok "2 replicas ready" || bad "2 ready" "$(ready)"
# The replica processes: the nodes' children.
replica_pids() { for i in 1 2; do pgrep -P "${npid[$i]}"; done | sort; }
before=$(replica_pids)
[ "$(echo "$before" | wc -l)" -eq 2 ] && ok "two replica processes" || bad "replica processes" "$before"

# ---------------------------------------------------------------- scale up, in place, under load
$LOAD 12 4 "/nap/?20" "${iport[1]}" "${iport[2]}" >"$tmp/load1" 2>"$tmp/load1.err" &
lpid=$!
pids+=("$lpid")
sleep 1
t0=$(date +%s%N)
expect "scale to 6" 0 "" "$QYV" cluster scale nap --replicas 6
if until_true 15 ready_is 6; then
    echo "REPORT scale-up-2-to-6-ms $((($(date +%s%N) - t0) / 1000000))"
    ok "6 ready after scale"
else
    bad "6 ready" "$(ready)"
fi
after=$(replica_pids)
kept=$(comm -12 <(echo "$before") <(echo "$after") | wc -l)
[ "$kept" -eq 2 ] && [ "$(echo "$after" | wc -l)" -eq 6 ] && ok "in place: the 2 first replicas kept their processes" ||
    bad "in place" "before: $(echo $before); after: $(echo $after)"
[ "$(field 'a["revision"]')" = 1 ] && ok "scale is not a new revision" || bad "revision" "$(field 'a["revision"]')"
grep -q '"message":"app scaled"' "$tmp/node1.log" "$tmp/node2.log" && ok "the nodes log 'app scaled'" ||
    bad "app scaled" "$(grep -h 'app ' "$tmp/node1.log" | tail -3)"
! grep -q '"message":"app replaced"' "$tmp/node1.log" "$tmp/node2.log" && ok "no node replaced the app" ||
    bad "replaced" "$(grep -h 'app replaced' "$tmp"/node*.log | head -2)"

# ---------------------------------------------------------------- the same deploy again
expect "the same deploy after a scale is unchanged" 0 '"unchanged": ?true' \
    "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 32MiB --output json
[ "$(wanted)" = 6 ] && ok "... and keeps the scaled 6" || bad "redeploy keeps 6" "$(wanted)"

# ---------------------------------------------------------------- scale down: drain
sleep 0.5
for k in 1 2 3 4 5 6; do
    curl -s -o /dev/null -w '%{http_code}\n' -m 15 "http://127.0.0.1:${iport[$((k % 2 + 1))]}/nap/?2500" >"$tmp/long$k" &
    pids+=($!)
done
sleep 0.5
t0=$(date +%s%N)
expect "scale to 1 with long requests in flight" 0 "" "$QYV" cluster scale nap --replicas 1
sleep 0.5
draining=$(replica_pids | wc -l)
[ "$draining" -gt 1 ] && ok "replicas taken out stay while their long requests run ($draining processes)" ||
    bad "draining" "only $draining replica processes 0.5 s after the scale-down"
until_true 15 ready_is 1 && echo "REPORT scale-down-6-to-1-ms $((($(date +%s%N) - t0) / 1000000))"
wait_long() { for k in 1 2 3 4 5 6; do [ -s "$tmp/long$k" ] || return 1; done; }
until_true 15 wait_long
longs=$(cat "$tmp"/long* | tr '\n' ' ')
[ "$longs" = "200 200 200 200 200 200 " ] && ok "the 6 long requests (2.5 s) finished with 200 across the scale-down" ||
    bad "long requests" "$longs"
ready_is 1 && ok "1 replica left, the others gone" || bad "1 left" "$(field 'a["replicas"]')"
one_process() { [ "$(replica_pids | wc -l)" -eq 1 ]; }
until_true 5 one_process && ok "one replica process left" || bad "processes" "$(replica_pids | tr '\n' ' ')"
wait "$lpid"
read -r okc failc <"$tmp/load1"
[ "$failc" -eq 0 ] && [ "$okc" -gt 100 ] && ok "request loop through scale up and down: $okc served, 0 failed" ||
    bad "request loop" "$okc served, $failc failed: $(cat "$tmp/load1.err")"

# ---------------------------------------------------------------- autoscale on requests in flight
expect "autoscale refuses no target" 2 "a target" "$QYV" cluster autoscale nap --min 1 --max 4
expect "autoscale refuses a bad window" 2 "--window takes a duration" \
    "$QYV" cluster autoscale nap --min 1 --max 4 --target-inflight 1 --window soon
expect "autoscale on in-flight" 0 "autoscaling nap: 1 to 4 replicas at 1 in flight per replica, down after 3s" \
    "$QYV" cluster autoscale nap --min 1 --max 4 --target-inflight 1 --window 3s
# Six clients each keeping a 300 ms request in flight: about 6 in flight.
$LOAD 30 6 "/nap/?300" "${iport[1]}" "${iport[2]}" >"$tmp/load2" 2>"$tmp/load2.err" &
lpid=$!
pids+=("$lpid")
t0=$(date +%s%N)
at_max() { [ "$(wanted)" -eq 4 ]; }
if until_true 15 at_max; then
    echo "REPORT autoscale-inflight-up-ms $((($(date +%s%N) - t0) / 1000000))"
    ok "load raises the replicas to --max 4"
else
    bad "autoscale up" "$(wanted) wanted; $(grep autoscal "$tmp/master.log" | tail -2)"
fi
until_true 15 ready_is 4 && echo "REPORT autoscale-inflight-ready-ms $((($(date +%s%N) - t0) / 1000000))"
expect "status says why" 0 "last: .*requests in flight per replica, target 1" "$QYV" cluster status
grep -q '"message":"autoscaled".*"inflight_per_replica"' "$tmp/master.log" && ok "the decision is logged" ||
    bad "logged" "$(grep autoscal "$tmp/master.log" | tail -2)"
curl -s -H "Authorization: Bearer $token" "http://$master/v1/metrics" |
    grep -qE '^qyvol_cluster_autoscale_inflight_per_replica\{app="nap"\} [0-9.]+$' &&
    ok "/v1/metrics: qyvol_cluster_autoscale_inflight_per_replica" || bad "inflight metric" "missing"
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
t0=$(date +%s%N)
at_min() { [ "$(wanted)" -eq 1 ]; }
if until_true 20 at_min; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "REPORT autoscale-inflight-down-ms $ms"
    [ "$ms" -ge 2000 ] && ok "back to --min 1 after the 3 s window (${ms} ms)" || bad "window" "down after $ms ms"
else
    bad "back to --min" "$(wanted) wanted"
fi
expect "status: the last step down" 0 "last: ([2-4] -> 1|1 kept)" "$QYV" cluster status

# ---------------------------------------------------------------- deploys while autoscaled
expect "the same deploy while autoscaled is unchanged" 0 '"unchanged": ?true' \
    "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 32MiB --output json
expect "a new revision while autoscaled" 0 "" "$QYV" cluster deploy "$app/app.qyv" --replicas 3 --memory 48MiB
[ "$(wanted)" = 1 ] && ok "... keeps the autoscaler's count, not --replicas 3" || bad "autoscaler owns replicas" "$(wanted)"
expect "autoscale off" 0 "autoscaling nap: off" "$QYV" cluster autoscale nap --off

# ---------------------------------------------------------------- deploy.autoscale
app2=$tmp/app2
mkdir -p "$app2"
cp "$NAP" "$app2/nap.wasm"
printf 'name: nap2\nentrypoint: nap.wasm\ntype: http\nroute: /nap2\ndeploy:\n  autoscale:\n    min: 5\n    max: 2\n    target_inflight: 2\n' >"$app2/app.qyv"
expect "deploy.autoscale min over max: FILE:LINE:COLUMN" 1 "app.qyv:7:10: 'deploy.autoscale.min' is 5, more than max \(2\)" \
    "$QYV" cluster deploy "$app2/app.qyv"
printf 'name: nap2\nentrypoint: nap.wasm\ntype: http\nroute: /nap2\ndeploy:\n  autoscale:\n    max: 3\n' >"$app2/app.qyv"
expect "deploy.autoscale without a target" 1 "app.qyv:7:5: 'deploy.autoscale' needs a target" \
    "$QYV" cluster deploy "$app2/app.qyv"
printf 'name: nap2\nentrypoint: nap.wasm\ntype: http\nroute: /nap2\ndeploy:\n  autoscale:\n    min: 2\n    max: 3\n    target_inflight: 2\n    window: 20s\n' >"$app2/app.qyv"
expect "deploy with deploy.autoscale" 0 "" "$QYV" cluster deploy "$app2/app.qyv" --memory 32MiB
expect "its autoscaling is on" 0 "autoscaling nap2: 2 to 3 replicas at 2 in flight per replica, down after 20s" \
    "$QYV" cluster status
[ "$(wanted nap2)" = 2 ] && ok "it starts at min" || bad "starts at min" "$(wanted nap2)"

stop_all
finish
