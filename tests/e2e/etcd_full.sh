#!/usr/bin/env bash
# etcd out of space (the "data disk full" fault of docs/ha.md, for a master
# on etcd): a one-member etcd with a small --quota-backend-bytes, a master
# on it, a node and an app; the store is filled until etcd raises its
# NOSPACE alarm. A scale and a new revision are refused with an error that
# says so, nothing changes, the master keeps leading and the app serving.
# The operator's recovery (docs/ha.md: delete, compact, defragment, disarm)
# brings writes back, and a restarted master finds everything it
# acknowledged.
# Usage: tests/e2e/etcd_full.sh [BUILD_DIR]. Skipped when /usr/bin/etcd
# (Debian's etcd-server) is missing. Every process it starts is stopped.
source "$(dirname "$0")/lib.sh"
ETCD=${ETCD:-/usr/bin/etcd}
if [ ! -x "$ETCD" ]; then
    echo "SKIP etcd out of space: $ETCD is missing (apt-get install etcd-server)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
pids=()
trap 'stop_all; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cluster_lib.sh"

# ---------------------------------------------------------------- etcd with an 8 MiB quota
eclient=$(free_port) epeer=$(free_port)
etcd_url=http://127.0.0.1:$eclient
"$ETCD" --name e1 --data-dir "$tmp/etcd" --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$epeer" --initial-advertise-peer-urls "http://127.0.0.1:$epeer" \
    --initial-cluster "e1=http://127.0.0.1:$epeer" --quota-backend-bytes $((8 << 20)) --log-level error \
    >"$tmp/etcd.log" 2>&1 &
pids+=($!)
# etcd_call PATH JSON: a call to etcd's JSON gateway; the answer on stdout.
etcd_call() { curl -sf --max-time 10 -d "$2" "$etcd_url$1"; }
etcd_healthy() { curl -sf "$etcd_url/health" | grep -q '"health":"true"'; }
until_true 20 etcd_healthy && ok "etcd runs with an 8 MiB quota" || bad "etcd starts" "$(tail -5 "$tmp/etcd.log")"

start_cluster 1 --store "etcd://127.0.0.1:$eclient/full-test" --lease-ttl 2
mpid=${pids[1]}
leads() { "$QYV" cluster health 2>&1 | grep -q "master $master: leader"; }
until_true 10 leads && ok "the master leads on etcd" || bad "leads" "$("$QYV" cluster health 2>&1)"
app=$tmp/app
echo_app "$app"
expect "deploy" 0 "revision 1" "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 16MB --cpu 0.1
until_true 15 ready_is 2 && ok "2 replicas ready" || bad "deploy" "$("$QYV" cluster status web 2>&1)"
serves() { curl -sf "http://127.0.0.1:${iport[1]}/web/x" | grep -q '^path: /x$'; }

# ---------------------------------------------------------------- full
# 256 KiB values under /filler/ until etcd refuses one.
fill() {
    python3 - "$etcd_url" <<'PY'
import base64, json, sys, urllib.error, urllib.request
value = base64.b64encode(b"x" * (256 << 10)).decode()
for i in range(200):
    body = json.dumps({"key": base64.b64encode(b"/filler/%03d" % i).decode(), "value": value}).encode()
    try:
        urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/v3/kv/put", data=body), timeout=10)
    except urllib.error.HTTPError as e:
        print(i, e.read().decode()[:200])
        sys.exit(0)
print("never refused")
sys.exit(1)
PY
}
expect "etcd filled until it refuses a write" 0 "space exceeded" fill
expect "etcd raised its NOSPACE alarm" 0 "NOSPACE" etcd_call /v3/maintenance/alarm '{"action":"GET"}'
expect "a scale is refused, saying etcd is out of space" 1 "no space left|space exceeded" \
    "$QYV" cluster scale web --replicas 3
expect "a new revision is refused, saying etcd is out of space" 1 "no space left|space exceeded" \
    "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 16MB --cpu 0.1 --env V=2
[ "$(status_field 'd["revision"]'),$(status_field 'd["replicas"]["wanted"]')" = "1,2" ] &&
    ok "nothing changed: revision 1, 2 replicas" || bad "unchanged" "$("$QYV" cluster status web 2>&1)"
serves && ok "the app serves while etcd is full" || bad "serving" "$(curl -s "http://127.0.0.1:${iport[1]}/web/x")"
# Its lease's keep-alives need no space: the master still leads (after
# more than a lease's TTL) and the node stays ready.
sleep 2.5
leads && ok "the master still leads" || bad "leads while full" "$("$QYV" cluster health 2>&1; tail -3 "$tmp/master.log")"
expect "the node is still ready" 0 "node-1 .* ready" "$QYV" cluster list-nodes
grep -q 'space exceeded' "$tmp/master.log" && ok "the master's log says why its writes fail" ||
    bad "logged" "$(tail -5 "$tmp/master.log")"

# ---------------------------------------------------------------- the operator's recovery
# What etcd's documentation prescribes (docs/ha.md): free space (here the
# filler; in life, old revisions), compact, defragment, disarm the alarm.
b64() { printf '%s' "$1" | base64 -w0; }
recover() {
    etcd_call /v3/kv/deleterange "{\"key\":\"$(b64 /filler/)\",\"range_end\":\"$(b64 /filler0)\"}" | grep -q '"deleted"' &&
        rev=$(etcd_call /v3/kv/range "{\"key\":\"$(b64 /)\",\"limit\":1}" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])') &&
        etcd_call /v3/kv/compaction "{\"revision\":\"$rev\",\"physical\":true}" | grep -q header &&
        etcd_call /v3/maintenance/defragment '{}' >/dev/null &&
        member=$(etcd_call /v3/maintenance/alarm '{"action":"GET"}' |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["alarms"][0]["memberID"])') &&
        etcd_call /v3/maintenance/alarm "{\"action\":\"DEACTIVATE\",\"memberID\":\"$member\",\"alarm\":\"NOSPACE\"}" >/dev/null &&
        ! etcd_call /v3/maintenance/alarm '{"action":"GET"}' | grep -q NOSPACE
}
recover && ok "space freed: deleted, compacted, defragmented, alarm disarmed" ||
    bad "recovery" "$(etcd_call /v3/maintenance/alarm '{"action":"GET"}')"
expect "space back: the scale goes through" 0 "3 replicas" "$QYV" cluster scale web --replicas 3
expect "space back: the new revision goes through" 0 "revision (1 -> )?2" \
    "$QYV" cluster deploy "$app/app.qyv" --replicas 3 --memory 16MB --cpu 0.1 --env V=2
until_true 20 ready_is 3 && ok "3 replicas of revision 2 ready" || bad "after space" "$("$QYV" cluster status web 2>&1)"

# ---------------------------------------------------------------- a restart finds it all
kill -TERM "$mpid"
until_true 10 eval '! kill -0 '"$mpid"' 2>/dev/null' || bad "master stops" "still running"
"$QYV" master --plain-http --listen "$master" --data "$tmp/master" --store "etcd://127.0.0.1:$eclient/full-test" \
    --lease-ttl 2 >>"$tmp/master.log" 2>&1 &
pids+=($!)
restored() { [ "$(status_field 'd["revision"]'),$(status_field 'd["replicas"]["wanted"]')" = "2,3" ]; }
until_true 15 restored && ok "restarted, the master finds revision 2 and 3 replicas" ||
    bad "restart" "$("$QYV" cluster status web 2>&1) $(tail -3 "$tmp/master.log")"
stop_all
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/master.log "$tmp"/node1.log; then
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/master.log "$tmp"/node1.log | head -40)"
fi
finish
