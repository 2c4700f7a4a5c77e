#!/usr/bin/env bash
# A master cut off from etcd by a network partition (the fault suite of
# docs/ha.md): etcd, two masters and a node, each in its own network
# namespace on a bridge (10.78.0.0/24; nothing of this machine's own
# network is touched). Blackhole routes cut the leading master off from
# etcd only: it stops leading within its lease's TTL and says so, the
# other master leads, the node moves its heartbeats there and serves
# throughout, and a write through the new leader goes through. Healed,
# the old leader follows, and one master leads.
# Usage: tests/e2e/etcd_netns.sh [BUILD_DIR]. Needs root, `ip netns` and
# /usr/bin/etcd (Debian's etcd-server): without them it reports its
# checks as skipped. Ends with "N passed, N failed, N skipped".
set -u
BUILD=${1:-build}
QYV=$(cd "$(dirname "$BUILD/qyv")" && pwd)/qyv
ETCD=${ETCD:-/usr/bin/etcd}
passed=0 failed=0 skipped=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
source "$(dirname "$0")/netns_lib.sh"
if ! netns_usable qve || [ ! -x "$ETCD" ]; then
    echo "SKIP a master cut off from etcd: needs root, ip netns and $ETCD"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
declare -A addr=([e]=10.78.0.1 [a]=10.78.0.2 [b]=10.78.0.3 [n]=10.78.0.11)
netns_up qve e a b n || exit 1

# ---------------------------------------------------------------- etcd, two masters, a node
e=${addr[e]}
in_ns e "$ETCD" --name e1 --data-dir "$tmp/etcd" --listen-client-urls "http://$e:2379" --advertise-client-urls "http://$e:2379" \
    --listen-peer-urls "http://$e:2380" --initial-advertise-peer-urls "http://$e:2380" --initial-cluster "e1=http://$e:2380" \
    --log-level error >"$tmp/etcd.log" 2>&1 &
pids+=($!)
until_true 20 in_ns a curl -sf "http://$e:2379/health" && ok "etcd in its namespace, reached from the masters'" ||
    bad "etcd" "$(tail -3 "$tmp/etcd.log")"
export XDG_CONFIG_HOME=$tmp/config
"$QYV" cluster init --plain-http >/dev/null 2>&1 || bad "init" "failed"
token_file=$XDG_CONFIG_HOME/qyvol/token
token=$(cat "$token_file")
masters=${addr[a]}:7000,${addr[b]}:7000
start_master() { # start_master a|b
    in_ns "$1" "$QYV" master --plain-http --listen "${addr[$1]}:7000" --data "$tmp/master-$1" --token-file "$token_file" \
        --store "etcd://$e:2379/netns" --lease-ttl 2 >>"$tmp/master-$1.log" 2>&1 &
    pids+=($!)
}
# health_of a|b EXPR: EXPR (Python, on d) of the master's /v1/health, asked
# from the node's namespace; "down" when it does not answer.
health_of() {
    in_ns n curl -s -m 3 -H "Authorization: Bearer $token" "http://${addr[$1]}:7000/v1/health" |
        python3 -c "import json,sys; d=json.load(sys.stdin); print($2)" 2>/dev/null || echo down
}
role() { health_of "$1" 'd.get("ha_role","?")'; } # leader, follower or down
start_master a
until_true 15 eval '[ "$(role a)" = leader ]' && ok "master a leads" || bad "a leads" "$(tail -3 "$tmp/master-a.log")"
start_master b
until_true 15 eval '[ "$(role b)" = follower ]' && ok "master b follows" || bad "b follows" "$(tail -3 "$tmp/master-b.log")"
in_ns n "$QYV" node --plain-http --listen "${addr[n]}:7001" --ingress "${addr[n]}:8080" --data "$tmp/node" --name node-1 \
    --master "$masters" --token-file "$token_file" --capacity memory=512MiB,cpu=1 >"$tmp/node.log" 2>&1 &
pids+=($!)
cli() { in_ns n "$QYV" "$@"; }
cli cluster set-master "$masters" >/dev/null
until_true 15 eval 'cli cluster list-nodes | grep -q "node-1 .* ready"' && ok "the node registers" ||
    bad "node" "$(cli cluster list-nodes 2>&1)"
app=$tmp/app
mkdir -p "$app"
cp examples/http-echo/echo.wasm "$app/"
printf 'name: web\nentrypoint: echo.wasm\ntype: http\nroute: /web\n' >"$app/app.qyv"
cli cluster deploy "$app/app.qyv" --replicas 2 >"$tmp/deploy" 2>&1 || bad "deploy" "$(cat "$tmp/deploy")"
serves() { in_ns n curl -sf -m 3 "http://${addr[n]}:8080/web/x" | grep -q '^path: /x$'; }
until_true 15 serves && ok "the app serves" || bad "serving" "$(in_ns n curl -s "http://${addr[n]}:8080/web/x")"

# Load on the node while the partition lasts; a request fails when it errs
# or the answer is not the app's own.
in_ns n python3 - "${addr[n]}" "$tmp/stop" >"$tmp/load" 2>&1 <<'PY' &
import os, sys, time, urllib.request
ok = failed = 0
while not os.path.exists(sys.argv[2]):
    try:
        body = urllib.request.urlopen("http://%s:8080/web/load" % sys.argv[1], timeout=3).read()
        if b"path: /load" in body: ok += 1
        else: failed += 1
    except Exception:
        failed += 1
    time.sleep(0.01)
print(ok, failed)
PY
lpid=$!

# ---------------------------------------------------------------- the partition
partition() { # partition add|del: master a and etcd cannot reach each other
    ip -n "qve-a-$tag" route "$1" blackhole "$e/32" && ip -n "qve-e-$tag" route "$1" blackhole "${addr[a]}/32"
}
partition add || bad "partition" "cannot add the blackhole routes"
t0=$(date +%s%N)
in_ns a curl -s -m 1 -o /dev/null "http://$e:2379/health" && bad "partition" "master a still reaches etcd" ||
    ok "partition: master a cannot reach etcd (it still reaches master b and the node)"
if until_true 10 grep -q '"no longer leading"' "$tmp/master-a.log"; then
    echo "REPORT etcd-partition-stopped-leading-ms $(ms_since "$t0")"
    ok "master a, cut off from etcd, stops leading and says so"
else
    bad "a stops leading" "$(tail -3 "$tmp/master-a.log")"
fi
if until_true 10 eval '[ "$(role b)" = leader ]'; then
    echo "REPORT etcd-partition-new-leader-ms $(ms_since "$t0")"
    ok "master b leads"
else
    bad "b leads" "$(role b); $(tail -3 "$tmp/master-b.log")"
fi
[ "$(role a)" != leader ] && ok "master a does not lead ($(role a))" || bad "one leader" "a still says leader"
cut_off_said() { [ "$(health_of a '"store_problem" in d and not d["etcd"][0]["healthy"]')" = True ]; }
until_true 5 cut_off_said && ok "master a's health says it cannot reach etcd" || bad "a's health" "$(health_of a d)"
# Cut off from etcd, master a cannot know who leads: it refuses writes
# and says why; the node and the CLI move on to master b.
expect_scale() { cli cluster scale web --replicas 3 >"$tmp/scale" 2>&1; }
until_true 15 expect_scale && ok "a scale goes through (the CLI moves on to master b)" || bad "scale" "$(cat "$tmp/scale")"
three() { cli cluster status web --output json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["replicas"]["ready"] == 3 else 1)'; }
until_true 15 three && ok "3 replicas ready, the node heartbeating to master b" || bad "3 ready" "$(cli cluster status web 2>&1)"

# ---------------------------------------------------------------- healed
partition del || bad "heal" "cannot remove the blackhole routes"
t0=$(date +%s%N)
follows_b() { [ "$(health_of a 'd["ha_role"] + " " + str(d["leader"]) + " " + str("store_problem" in d)')" = "follower ${addr[b]}:7000 False" ]; }
# Its health is the record (the log line "etcd answers again" is written
# only if the loop's tick saw etcd fail, which a short cut can miss).
if until_true 15 follows_b; then
    echo "REPORT etcd-partition-healed-ms $(ms_since "$t0")"
    ok "healed: master a reaches etcd again and follows master b"
else
    bad "a follows" "$(health_of a d); $(tail -3 "$tmp/master-a.log")"
fi
[ "$(role b)" = leader ] && ok "healed: master b still leads" || bad "b leads after" "$(role b)"
touch "$tmp/stop"
wait "$lpid"
read -r okc failc <"$tmp/load"
echo "REPORT etcd-partition-requests ok=$okc failed=$failc"
[ "${failc:-1}" -eq 0 ] && [ "${okc:-0}" -gt 50 ] && ok "the app served throughout: $okc requests, 0 failed" ||
    bad "requests during the partition" "$failc failed, $okc served"

netns_stop
[ $stuck -eq 0 ] && ok "etcd, masters and node stop on SIGTERM" || bad "stop" "$stuck did not stop"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/*.log &&
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/*.log | head -40)"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
