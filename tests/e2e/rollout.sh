#!/usr/bin/env bash
# Releases of a running app on a master and three nodes on loopback
# (docs/cluster.md, "Release a new version"): a request loop runs through a rolling, a
# blue-green and a canary rollout of 10 replicas (no failed request, every
# answer from the old or the new version), the canary's split measured
# over 10,000 requests, undo, a master restarted in the middle of a
# rollout, and two broken versions (one answering 500s, one failing its
# health checks) rolled back by themselves under --rollback-on-failure.
# Usage: tests/e2e/rollout.sh [BUILD_DIR]. Prints REPORT lines with the
# times; ends with "N passed, N failed, N skipped"; every process it
# starts is stopped.
set -u
BUILD=${1:-build}
QYV=$(cd "$(dirname "$BUILD/qyv")" && pwd)/qyv
VERSION_WASM=$BUILD/tests/e2e/version.wasm
LOAD="python3 $(dirname "$0")/rollout_load.py"
passed=0 failed=0 skipped=0
tmp=$(mktemp -d)
pids=()
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
source "$(dirname "$0")/cluster_lib.sh"
trap 'stop_all; rm -rf "$tmp"' EXIT
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

start_cluster 3
mpid=${pids[0]}
# The master again, on its data (a restart).
start_master() {
    "$QYV" master --plain-http --listen "$master" --data "$tmp/master" >>"$tmp/master.log" 2>&1 &
    mpid=$!
    pids+=("$mpid")
    until_true 10 curl -sf -H "Authorization: Bearer $token" "http://$master/v1/health"
}
targets=""
for i in 1 2 3; do targets+="${targets:+,}127.0.0.1:${iport[$i]}"; done

# The app: a guest that says its VERSION, health-checked.
app=$tmp/app
mkdir -p "$app"
cp "$VERSION_WASM" "$app/version.wasm"
printf 'name: web\nentrypoint: version.wasm\ntype: http\nroute: /web\ntimeout: 5s\ndeploy:\n  replicas: 10\n  resources: {memory: 16MiB}\n  health_check: {path: /health, interval: 2s, timeout: 2s, retries: 2}\n' >"$app/app.qyv"
expect "first deploy, 10 replicas, --wait" 0 "10 of 10 replicas ready" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=1 --wait

# rollout_state: the rollout's state and revision, as "STATE REVISION".
rollout_field() {
    curl -s -H "Authorization: Bearer $token" "http://$master/v1/apps/web/rollout" |
        python3 -c "import json,sys; a=json.load(sys.stdin); r=a.get('rollout') or {}; print(eval(sys.argv[1]))" "$1"
}
# loop_start NAME / loop_stop NAME: the request loop through every node.
loop_start() {
    rm -f "$tmp/stop-$1"
    $LOAD --targets "$targets" --path /web/x --stop-file "$tmp/stop-$1" --threads 2 --out "$tmp/load-$1" >/dev/null 2>&1 &
    loop_pid=$!
    pids+=("$loop_pid")
    sleep 0.3
}
loop_stop() {
    sleep 0.5 # answers from the new version after the end, too
    touch "$tmp/stop-$1"
    wait "$loop_pid"
}
# loop_check NAME VERSIONS: no failed request, only those versions answered.
loop_check() {
    local name=$1 allowed=$2 report
    report=$(python3 - "$tmp/load-$name" "$allowed" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
allowed = set(sys.argv[2].split(","))
others = {v: n for v, n in r["versions"].items() if v not in allowed}
print("%d %d %s %s" % (r["total"], r["failed"], json.dumps(r["versions"], sort_keys=True).replace(" ", ""),
                       "others:" + json.dumps(others) if others else "-"))
EOF
)
    read -r total failures versions others <<<"$report"
    echo "REPORT failed-requests-$name $failures of $total"
    if [ "$failures" = 0 ] && [ "$others" = - ] && [ "$total" -gt 50 ]; then
        ok "$name under load: $total requests, none failed, versions $versions"
    else
        bad "$name under load" "$total requests, $failures failed, versions $versions $others $(cat "$tmp/load-$name")"
    fi
}

# ---------------------------------------------------------------- rolling
# The manifest changes too (the history says which keys).
printf 'env:\n  STAGE: two\n' >>"$app/app.qyv"
loop_start rolling
t0=$(date +%s%N)
expect "rolling update to version 2 (--wait)" 0 "succeeded" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=2 --wait
echo "REPORT rollout-rolling-ms $(ms_since "$t0")"
loop_stop rolling
loop_check rolling 1,2
expect "status after rolling" 0 "rolling 1 -> 2 succeeded" "$QYV" cluster rollout status web
expect "history: what changed" 0 "^2 .*bundle .*changed: app.qyv; manifest keys: env.STAGE.*overrides: env.* succeeded" \
    "$QYV" cluster rollout history web

# ---------------------------------------------------------------- blue-green
loop_start blue-green
t0=$(date +%s%N)
expect "blue-green to version 3 (--wait)" 0 "blue_green 2 -> 3 succeeded" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=3 --strategy blue_green --keep-old 60s --wait
echo "REPORT rollout-blue-green-ms $(ms_since "$t0")"
loop_stop blue-green
loop_check blue-green 2,3
old_kept=$(rollout_field "r['old']['ready']")
[ "$old_kept" = 10 ] && ok "blue-green keeps the old set (10 ready)" || bad "old set kept" "old ready: $old_kept"
# Undo while the old set is kept: back at once.
loop_start undo
t0=$(date +%s%N)
expect "undo to the kept set" 0 "" "$QYV" cluster rollout undo web --wait
undo_ms=$(ms_since "$t0")
loop_stop undo
loop_check undo 2,3
echo "REPORT undo-blue-green-ms $undo_ms"
[ "$undo_ms" -lt 3000 ] && ok "undo to a kept blue-green set is instant ($undo_ms ms)" || bad "instant undo" "$undo_ms ms"
all_v2() { for i in 1 2 3; do curl -s "http://127.0.0.1:${iport[$i]}/web/x" | grep -q '^version: 2$' || return 1; done; }
until_true 5 all_v2 && ok "after undo version 2 answers" || bad "undo" "$(curl -s "http://127.0.0.1:${iport[1]}/web/x")"

# ---------------------------------------------------------------- canary
loop_start canary
t0=$(date +%s%N)
expect "canary to version 4, manual steps" 0 "rolling out web" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=4 --strategy canary --steps 10,50,100 --pause manual
at_10() { [ "$(rollout_field "r['weight']")" = 10 ]; }
until_true 10 at_10 && ok "canary at 10%" || bad "canary at 10%" "$("$QYV" cluster rollout status web 2>&1)"
# The split, measured through one node over 10,000 requests (the loop
# goes on through the others meanwhile).
split=$($LOAD --targets "127.0.0.1:${iport[2]}" --path /web/split --count 10000 --threads 4)
share=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); t=sum(r["versions"].values()); print("%.2f %d %d" % (100.0*r["versions"].get("4",0)/max(t,1), t, r["failed"]))' "$split")
read -r pct split_total split_failed <<<"$share"
echo "REPORT canary-split-percent $pct of $split_total"
if python3 -c "import sys; p=float(sys.argv[1]); sys.exit(0 if 8 <= p <= 12 else 1)" "$pct" && [ "$split_failed" = 0 ]; then
    ok "canary split over $split_total requests: $pct% to the canary (10% +-2)"
else
    bad "canary split" "$pct% of $split_total, $split_failed failed: $split"
fi
expect "promote to 50%" 0 "step 2/3" "$QYV" cluster rollout promote web
at_50() { [ "$(rollout_field "r['weight']")" = 50 ]; }
until_true 10 at_50 && ok "canary at 50%" || bad "canary at 50%" "$("$QYV" cluster rollout status web 2>&1)"
expect "promote to 100% (--wait)" 0 "succeeded" "$QYV" cluster rollout promote web --wait
echo "REPORT rollout-canary-manual-ms $(ms_since "$t0")"
loop_stop canary
loop_check canary 2,4
# A canary with steps and pauses of its own, timed from deploy to done.
t0=$(date +%s%N)
expect "canary to version 5, 10/50/100 with 1 s pauses (--wait)" 0 "succeeded" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=5 --strategy canary --steps 10,50,100 --pause 1s --wait
echo "REPORT rollout-canary-ms $(ms_since "$t0")"

# ---------------------------------------------------------------- a master restart mid-rollout
loop_start restart
expect "canary to version 6, manual" 0 "rolling out" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=6 --strategy canary --steps 20,100 --pause manual
at_20() { [ "$(rollout_field "r['weight']")" = 20 ]; }
until_true 10 at_20 || bad "canary at 20% before the restart" "$("$QYV" cluster rollout status web 2>&1)"
kill -TERM "$mpid"
wait "$mpid" 2>/dev/null
start_master || bad "master restarts" "$(tail -5 "$tmp/master.log")"
still=$(rollout_field "r['state'], r['to_revision'], r['weight'], r['step']" )
[ "$still" = "('progressing', 6, 20, 1)" ] && ok "after a master restart the rollout is where it was ($still)" ||
    bad "rollout kept across a restart" "$still"
until_true 10 at_20 || bad "weight after the restart" "$(rollout_field "r['weight']")"
expect "promote after the restart (--wait)" 0 "succeeded" "$QYV" cluster rollout promote web --wait
loop_stop restart
loop_check restart 5,6

# ---------------------------------------------------------------- automatic rollback
# A version that answers 500s: the canary's errors roll it back.
loop_start broken
t0=$(date +%s%N)
expect "a version answering 500s is rolled back (exit 1, says why)" 1 "rolled back.*5xx" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=7 --env BROKEN=500 --strategy canary --steps 10,100 \
    --pause 30s --rollback-on-failure
echo "REPORT rollback-on-errors-ms $(ms_since "$t0")"
loop_stop broken
exposed=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["failed"], r["total"], r["versions"].get("7", 0))' "$tmp/load-broken")
read -r broken_failed broken_total broken_v7 <<<"$exposed"
echo "REPORT failed-requests-broken-canary $broken_failed of $broken_total"
# Only what the 10% canary was given may have failed.
if [ "$broken_failed" -le $((broken_total / 5)) ] && [ "$broken_v7" = 0 ]; then
    ok "only the canary's share failed ($broken_failed of $broken_total)"
else
    bad "failures limited to the canary" "$(cat "$tmp/load-broken")"
fi
all_v6() { for i in 1 2 3; do curl -s "http://127.0.0.1:${iport[$i]}/web/x" | grep -q '^version: 6$' || return 1; done; }
until_true 5 all_v6 && ok "after the rollback version 6 answers" || bad "rolled back" "$(curl -s "http://127.0.0.1:${iport[1]}/web/x")"
# A version whose health checks fail never gets traffic, and is rolled
# back once its replicas on a node all failed them (long before the
# progress deadline).
loop_start unhealthy
t0=$(date +%s%N)
expect "a version failing its health checks is rolled back" 1 "rolled back.*fails its health checks" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=8 --env BROKEN=health --rollback-on-failure
echo "REPORT rollback-on-health-ms $(ms_since "$t0")"
loop_stop unhealthy
loop_check unhealthy 6
expect "history names each revision's outcome" 0 "rolled_back: the new revision answered" \
    "$QYV" cluster rollout history web
expect "history: the health-check failure" 0 "8 .*rolled_back: the new revision fails its health checks" \
    "$QYV" cluster rollout history web
# For alerting: the last rollout's state and the revision, in the metrics.
curl -s -H "Authorization: Bearer $token" "http://$master/v1/metrics" >"$tmp/metrics"
grep -qE '^qyvol_cluster_rollout_state\{app="web",strategy="[a-z_]+",state="rolled_back"\} 1$' "$tmp/metrics" &&
    grep -qE '^qyvol_cluster_rollout_state\{app="web",strategy="[a-z_]+",state="succeeded"\} 0$' "$tmp/metrics" &&
    grep -qE '^qyvol_cluster_app_revision\{app="web"\} [0-9]+$' "$tmp/metrics" &&
    ok "metrics: the rollout rolled back (qyvol_cluster_rollout_state), the revision" ||
    bad "rollout metrics" "$(grep -E 'rollout|revision' "$tmp/metrics" | head -10)"
pt=$(command -v promtool || echo /opt/qyvol-tools/promtool)
if [ -x "$pt" ]; then
    "$pt" check metrics <"$tmp/metrics" >"$tmp/promtool" 2>&1 && ok "the metrics pass promtool" ||
        bad "promtool" "$(head -5 "$tmp/promtool")"
fi

# ---------------------------------------------------------------- undo after a rollout
loop_start undo-to
expect "undo --to-revision 1" 0 "succeeded" "$QYV" cluster rollout undo web --to-revision 1 --wait
loop_stop undo-to
loop_check undo-to 1,6
expect "status after undo" 0 "6 -> 1 succeeded" "$QYV" cluster rollout status web
expect "abort with nothing under way" 1 "no rollout under way" "$QYV" cluster rollout abort web
expect "a bad strategy is refused" 1 "rollout setting 'strategy'" \
    "$QYV" cluster deploy "$app/app.qyv" --env VERSION=9 --strategy big_bang

# Everything stops cleanly (under the sanitizers: no leak, no error).
for p in "$mpid" "${npid[@]}"; do kill -TERM "$p" 2>/dev/null; done
stopped=""
for p in "$mpid" "${npid[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    wait "$p" 2>/dev/null
    stopped+=" $?"
done
if [ "$stopped" = " 0 0 0 0" ] && ! grep -l "Sanitizer" "$tmp"/*.log >/dev/null 2>&1; then
    ok "the master and the nodes stop cleanly"
else
    bad "clean stop" "exit statuses$stopped; $(grep -h -A40 Sanitizer "$tmp"/*.log | grep -E "Direct|Indirect|#[0-9] .*(src|json)" | head -40)"
fi

[ -n "${ROLLOUT_KEEP_LOGS:-}" ] && cp "$tmp"/*.log "$ROLLOUT_KEEP_LOGS"/
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
