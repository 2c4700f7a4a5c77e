#!/usr/bin/env bash
# What the master keeps (docs/cluster.md, "History and what is kept"): a
# master with --revision-history 3 and five revisions of an app, each
# with a bundle of its own. Only the newest three revision records stay
# (history, undo), the bundles of the two dropped ones are deleted from
# the master's bundles folder (and, on etcd, from the store), undo to a
# kept revision works and to a dropped one says why not, and a restarted
# master finds what was kept. Run on SQLite, then on etcd when
# /usr/bin/etcd (Debian's etcd-server) is there.
# Usage: tests/e2e/retention.sh [BUILD_DIR]. Every process it starts is
# stopped. Ends with "N passed, N failed, N skipped".
source "$(dirname "$0")/lib.sh"
ETCD=${ETCD:-/usr/bin/etcd}
pids=()
skipped=0
etcd_pid=
trap 'stop_all; [ -n "$etcd_pid" ] && kill -KILL "$etcd_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cluster_lib.sh"

# history_revisions: the revision numbers `rollout history` lists.
history_revisions() { "$QYV" cluster rollout history web 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { print $1 }' | tr '\n' ' '; }
# tars: the bundles in the master's folder, sorted.
tars() { (cd "$tmp/master/bundles" && ls -- *.tar 2>/dev/null | sed 's/\.tar$//' | sort | tr '\n' ' '); }
# store_bundles: the bundles/HEX keys (not chunks) in etcd, sorted.
store_bundles() {
    local from to
    from=$(printf '/retention/bundles/' | base64) to=$(printf '/retention/bundles0' | base64)
    curl -sf -d "{\"key\":\"$from\",\"range_end\":\"$to\",\"keys_only\":true}" "http://127.0.0.1:$eclient/v3/kv/range" |
        python3 -c '
import base64, json, sys
for k in json.load(sys.stdin).get("kvs", []):
    name = base64.b64decode(k["key"]).decode().split("/")
    if len(name) == 4: print(name[3])' | sort | tr '\n' ' '
}

# run_case LABEL MASTER_FLAGS...: the whole scenario on one store.
run_case() {
    local label=$1 v digests=() kept
    shift
    rm -rf "$tmp/master" "$tmp"/node* "$tmp/config"
    pids=()
    NODE_FLAGS="--bundle-cache-keep 2s" start_cluster 1 --revision-history 3 "$@"
    mpid=${pids[0]}
    app=$tmp/app
    echo_app "$app"
    for v in 1 2 3 4 5; do
        # A comment makes each revision's bundle its own.
        printf '# version %s\n' "$v" >>"$app/app.qyv"
        "$QYV" cluster deploy "$app/app.qyv" --replicas 1 --memory 16MB --cpu 0.1 --wait >"$tmp/deploy$v" 2>&1 ||
            bad "$label: deploy $v" "$(tail -3 "$tmp/deploy$v")"
        digests[$v]=$(status_field 'd["digest"]')
    done
    until_true 5 eval '[ "$(history_revisions)" = "3 4 5 " ]' && ok "$label: history keeps revisions 3, 4, 5" ||
        bad "$label: history" "$(history_revisions) / $("$QYV" cluster rollout history web 2>&1)"
    kept=$(printf '%s\n' "${digests[3]}" "${digests[4]}" "${digests[5]}" | sort | tr '\n' ' ')
    until_true 5 eval '[ "$(tars)" = "$kept" ]' && ok "$label: the master keeps the bundles of revisions 3-5 only" ||
        bad "$label: bundles" "have $(tars), want $kept"
    if [ -n "${eclient:-}" ]; then
        until_true 5 eval '[ "$(store_bundles)" = "$kept" ]' && ok "$label: so does etcd" ||
            bad "$label: bundles in etcd" "have $(store_bundles), want $kept"
    fi
    [ "$(grep -c 'bundle deleted' "$tmp/master.log")" = 2 ] && ok "$label: the two deletions are logged" ||
        bad "$label: logged" "$(grep 'bundle deleted' "$tmp/master.log")"
    expect "$label: undo to a dropped revision says why" 1 "has no revision 1" \
        "$QYV" cluster rollout undo web --to-revision 1
    expect "$label: undo to a kept revision" 0 "" "$QYV" cluster rollout undo web --to-revision 3 --wait
    until_true 15 eval '[ "$(status_field "d[\"digest\"]")" = "${digests[3]}" ]' &&
        until_true 10 ready_is 1 && ok "$label: revision 3's bundle runs again" ||
        bad "$label: undo" "$("$QYV" cluster status web 2>&1)"
    curl -sf "http://127.0.0.1:${iport[1]}/web/x" | grep -q '^path: /x$' && ok "$label: and serves" ||
        bad "$label: serving" "$(curl -s "http://127.0.0.1:${iport[1]}/web/x")"
    # The node (--bundle-cache-keep 2s) keeps only the bundle it runs.
    node_tars() { (cd "$tmp/node1/bundles" && ls -- *.tar 2>/dev/null | sed 's/\.tar$//' | tr '\n' ' '); }
    until_true 10 eval '[ "$(node_tars)" = "${digests[3]} " ]' &&
        grep -q 'cached bundle removed' "$tmp/node1.log" && ok "$label: the node's cache keeps only the bundle it runs" ||
        bad "$label: node cache" "has $(node_tars), runs ${digests[3]}"
    kill -TERM "$mpid"
    until_true 10 eval '! kill -0 '"$mpid"' 2>/dev/null' || bad "$label: master stops" "still running"
    "$QYV" master --plain-http --listen "$master" --data "$tmp/master" --token-file "$XDG_CONFIG_HOME/qyvol/token" \
        --revision-history 3 "$@" >>"$tmp/master.log" 2>&1 &
    pids+=($!)
    sleep 1.5
    until_true 10 eval '[ "$(history_revisions)" = "3 4 5 " ]' && [ "$(tars)" = "$kept" ] &&
        ok "$label: restarted, the master has the same history and bundles" ||
        bad "$label: restart" "history $(history_revisions), bundles $(tars)"
    stop_all
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/master.log "$tmp"/node1.log; then
        bad "$label: no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/master.log "$tmp"/node1.log | head -40)"
    fi
}

run_case SQLite

if [ -x "$ETCD" ]; then
    eclient=$(free_port) epeer=$(free_port)
    "$ETCD" --name e1 --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$eclient" \
        --advertise-client-urls "http://127.0.0.1:$eclient" --listen-peer-urls "http://127.0.0.1:$epeer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$epeer" --initial-cluster "e1=http://127.0.0.1:$epeer" \
        --log-level error >"$tmp/etcd.log" 2>&1 &
    etcd_pid=$!
    until_true 20 eval 'curl -sf "http://127.0.0.1:$eclient/health" | grep -q true' || bad "etcd starts" "$(tail -5 "$tmp/etcd.log")"
    run_case etcd --store "etcd://127.0.0.1:$eclient/retention" --lease-ttl 2
    kill -TERM "$etcd_pid"
    wait "$etcd_pid" 2>/dev/null
else
    echo "SKIP the etcd case: $ETCD is missing (apt-get install etcd-server)"
    skipped=$((skipped + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
