#!/usr/bin/env bash
# The master's data disk full (a fault of the suite in docs/ha.md): a
# master whose --data is a small tmpfs, a node and an app under load; the
# tmpfs is filled; a scale and a deploy are refused with an error that says
# so, nothing changes, the app keeps serving; space returns and writes
# work again; the master restarts on its database intact.
# Usage: tests/e2e/disk_full.sh [BUILD_DIR]. Needs root (a tmpfs, mounted in
# a mount namespace of its own, so nothing outside sees it): without it the
# checks are reported skipped. Ends with "N passed, N failed, N skipped".
set -u
BUILD=${1:-build}
QYV=$(cd "$(dirname "$BUILD/qyv")" && pwd)/qyv
passed=0 failed=0 skipped=0
if [ -z "${QYVOL_DISK_FULL_NS:-}" ]; then
    if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
        echo "SKIP disk full: needs root for a tmpfs in a mount namespace"
        echo "0 passed, 0 failed, 1 skipped"
        exit 0
    fi
    QYVOL_DISK_FULL_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    umount "$tmp/data" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
source "$(dirname "$0")/cluster_lib.sh"

mkdir -p "$tmp/data"
mount -t tmpfs -o size=6m,mode=0700 qyvol-disk-full "$tmp/data" || { bad "mount a tmpfs" "failed"; exit 1; }
export XDG_CONFIG_HOME=$tmp/config
"$QYV" cluster init --plain-http >/dev/null 2>&1
token_file=$XDG_CONFIG_HOME/qyvol/token
mport=$(free_port) nport=$(free_port) iport=$(free_port)
master=127.0.0.1:$mport
start_master() {
    "$QYV" master --plain-http --listen "$master" --data "$tmp/data/master" --token-file "$token_file" >>"$tmp/master.log" 2>&1 &
    mpid=$!
    pids+=("$mpid")
}
start_master
"$QYV" node --plain-http --listen 127.0.0.1:"$nport" --ingress 127.0.0.1:"$iport" --data "$tmp/node" --name node-1 \
    --master "$master" --token-file "$token_file" --capacity memory=1GiB,cpu=2 >"$tmp/node.log" 2>&1 &
pids+=($!)
"$QYV" cluster set-master "$master" >/dev/null
node_ready() { "$QYV" cluster list-nodes 2>/dev/null | grep -q ' ready '; }
until_true 10 node_ready && ok "a master on a 6 MiB tmpfs, and a node" || bad "start" "$(tail -3 "$tmp/master.log")"
app=$tmp/app
echo_app "$app"
expect "deploy" 0 "revision 1" "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 16MB --cpu 0.1
until_true 15 ready_is 2 && ok "2 replicas ready" || bad "deploy" "$("$QYV" cluster status web 2>&1)"
serves() { curl -sf "http://127.0.0.1:$iport/web/x" | grep -q '^path: /x$'; }

# ---------------------------------------------------------------- full
dd if=/dev/zero of="$tmp/data/filler" bs=64k >/dev/null 2>&1
avail=$(df --output=avail -B1 "$tmp/data" | tail -1 | tr -d ' ')
[ "$avail" -lt 65536 ] && ok "the disk is full ($avail bytes left)" || bad "fill" "$avail bytes left"
expect "a scale is refused, saying the disk is full" 1 "full|space" "$QYV" cluster scale web --replicas 3
expect "a new revision is refused, saying the disk is full" 1 "full|space" \
    "$QYV" cluster deploy "$app/app.qyv" --replicas 2 --memory 16MB --cpu 0.1 --env V=2
[ "$(status_field 'd["revision"]'),$(status_field 'd["replicas"]["wanted"]')" = "1,2" ] &&
    ok "nothing changed: revision 1, 2 replicas" || bad "unchanged" "$("$QYV" cluster status web 2>&1)"
serves && ok "the app serves while the master's disk is full" || bad "serving" "$(curl -s "http://127.0.0.1:$iport/web/x")"
kill -0 "$mpid" 2>/dev/null && ok "the master still runs" || bad "master alive" "$(tail -3 "$tmp/master.log")"

# ---------------------------------------------------------------- space returns
rm -f "$tmp/data/filler"
expect "space back: the scale goes through" 0 "3 replicas" "$QYV" cluster scale web --replicas 3
expect "space back: the new revision goes through" 0 "revision (1 -> )?2" \
    "$QYV" cluster deploy "$app/app.qyv" --replicas 3 --memory 16MB --cpu 0.1 --env V=2
until_true 15 ready_is 3 && ok "3 replicas of revision 2 ready" || bad "after space" "$("$QYV" cluster status web 2>&1)"

# ---------------------------------------------------------------- restart on the same disk
kill -TERM "$mpid"
until_true 10 eval '! kill -0 '"$mpid"' 2>/dev/null' || bad "master stops" "still running"
start_master
restored() { [ "$(status_field 'd["revision"]'),$(status_field 'd["replicas"]["wanted"]')" = "2,3" ]; }
until_true 10 restored && ok "restarted, the master finds revision 2 and 3 replicas: nothing was corrupted" ||
    bad "restart" "$("$QYV" cluster status web 2>&1) $(tail -3 "$tmp/master.log")"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/*.log &&
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/*.log | head -40)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
