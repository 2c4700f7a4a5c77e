#!/usr/bin/env bash
# A node's bundle cache corrupted on disk (issue 13's fault list;
# src/cluster/node/bundle_cache.h): a master and two nodes on loopback, an
# app on node-1 that serves a file of its bundle, and a request loop
# through node-2's ingress all along. The cached tar has bytes flipped (then
# the app is restarted by a deploy), is truncated (then node-1 restarts),
# is deleted (restart); the unpacked tree has its page and module changed
# while node-1 is down. Each time node-1 logs what it found, fetches or
# unpacks the bundle again and serves the right page; no answer is ever
# anything but the app's own page. Usage: tests/e2e/bundle_cache.sh
# [BUILD_DIR]. Every process it starts is stopped.
source "$(dirname "$0")/lib.sh"
pids=()
trap 'kill "$loader" 2>/dev/null; stop_all; [ -n "${KEEP:-}" ] && cp -r "$tmp" "$KEEP"; rm -rf "$tmp"' EXIT
loader=
source "$(dirname "$0")/cluster_lib.sh"

CAT=$BUILD/tests/e2e/cat.wasm
if [ ! -f "$CAT" ]; then bad "the guest" "$CAT is missing (make builds it)"; finish; exit; fi
start_cluster 2

page="page: good-$RANDOM$RANDOM"
mkdir -p "$tmp/app"
cp "$CAT" "$tmp/app/cat.wasm"
echo "$page" >"$tmp/app/page.txt"
printf 'name: web\nentrypoint: cat.wasm\ntype: http\nroute: /web\ntimeout: 5s\npermissions: {fs: read}\n' >"$tmp/app/app.qyv"
expect "deploy on node-1" 0 'deployed web' "$QYV" cluster deploy "$tmp/app/app.qyv" --nodes node-1 --replicas 1
# serves PORT: the app's page through that ingress.
serves() { curl -sf -m 2 "http://127.0.0.1:$1/web?/app/page.txt" | grep -qx "$page"; }
until_true 20 serves "${iport[1]}" && ok "node-1 serves the page" || bad "serves" "$(tail -3 "$tmp/node1.log")"
digest=$(basename "$(ls "$tmp"/node1/bundles/*.tar)" .tar)
cache=$tmp/node1/bundles
[ -d "$cache/$digest" ] && [ "$(sha256sum <"$cache/$digest.tar" | cut -c1-64)" = "$digest" ] &&
    ok "node-1 keeps the bundle as HEX.tar (its SHA-256 is its name) and unpacked in HEX/" ||
    bad "cache layout" "$(ls -la "$cache")"

# The request loop: every answer is the page, or a failure (while node-1
# restarts); never anything else.
(
    while :; do
        body=$(curl -s -m 2 -w '\n%{http_code}' "http://127.0.0.1:${iport[2]}/web?/app/page.txt")
        code=${body##*$'\n'} body=${body%$'\n'*}
        if [ "$code" = 200 ] && grep -qx "$page" <<<"$body"; then echo ok
        elif [ "$code" != 200 ]; then echo "failed $code"
        else echo "wrong: $(head -c 200 <<<"$body" | tr '\n' ' ')"; fi
        sleep 0.02
    done >"$tmp/loop"
) &
loader=$!

restart_node1() {
    kill -TERM "${npid[1]}"
    until_true 10 bash -c "! kill -0 ${npid[1]} 2>/dev/null"
    [ -n "${1:-}" ] && "$@"
    "$QYV" node --plain-http --listen 127.0.0.1:"${nport[1]}" --ingress 127.0.0.1:"${iport[1]}" --data "$tmp/node1" \
        --name node-1 --master "$master" --token-file "$XDG_CONFIG_HOME/qyvol/token" \
        --capacity memory=1GiB,cpu=2 >>"$tmp/node1.log" 2>&1 &
    npid[1]=$!
    pids+=($!)
}
# logged COUNT REGEX: node-1's log has more than COUNT lines matching.
logged() { [ "$(grep -cE -e "$2" "$tmp/node1.log")" -gt "$1" ]; }
corrupted='"a cached bundle is corrupted; fetching it again"'
fetched='"bundle fetched"'

# 1. Bytes flipped in the tar; a deploy with another env restarts the app
# (a new revision: loaded from the cache).
before=$(grep -c "$fetched" "$tmp/node1.log")
printf 'XXXX' | dd of="$cache/$digest.tar" bs=1 seek=700 conv=notrunc status=none
expect "a deploy restarts the app" 0 "revision 1 -> 2" \
    "$QYV" cluster deploy "$tmp/app/app.qyv" --nodes node-1 --replicas 1 --env ROUND=2
until_true 15 logged 0 "$corrupted.*hash to" && ok "flipped bytes: the log names the corrupted bundle" ||
    bad "flipped bytes logged" "$(tail -5 "$tmp/node1.log")"
until_true 15 logged "$before" "$fetched" && ok "flipped bytes: fetched again from the master" ||
    bad "fetched again" "$(tail -5 "$tmp/node1.log")"
status_rev() { [ "$(status_field 'd["revision"]')" = 2 ] && ready_is 1; }
until_true 15 status_rev && until_true 10 serves "${iport[1]}" && ok "flipped bytes: revision 2 serves the page" ||
    bad "revision 2 serves" "$("$QYV" cluster status web 2>&1; tail -3 "$tmp/node1.log")"
[ "$(sha256sum <"$cache/$digest.tar" | cut -c1-64)" = "$digest" ] && ok "the cached tar is whole again" ||
    bad "tar whole" "$(ls -la "$cache")"

# 2. The tar truncated; node-1 restarts.
truncate -s 1000 "$cache/$digest.tar"
restart_node1
until_true 15 logged 0 "$corrupted.*its 1000 bytes hash to" && ok "truncated: the log names it" ||
    bad "truncated logged" "$(tail -5 "$tmp/node1.log")"
until_true 20 serves "${iport[1]}" && ok "truncated: node-1 serves the page after its restart" ||
    bad "truncated: serves" "$(tail -5 "$tmp/node1.log")"

# 3. The tar deleted; node-1 restarts.
rm "$cache/$digest.tar"
restart_node1
until_true 15 logged 0 '"a cached bundle is missing; fetching it again"' && ok "deleted: the log says it is missing" ||
    bad "deleted logged" "$(tail -5 "$tmp/node1.log")"
until_true 20 serves "${iport[1]}" && [ -f "$cache/$digest.tar" ] && ok "deleted: fetched again, node-1 serves the page" ||
    bad "deleted: serves" "$(tail -5 "$tmp/node1.log")"

# 4. The unpacked tree changed while node-1 is down: its page, then its module.
tamper() {
    echo "TAMPERED" >"$cache/$digest/page.txt"
    truncate -s 100 "$cache/$digest/cat.wasm"
}
before=$(grep -c "$fetched" "$tmp/node1.log")
restart_node1 tamper
until_true 15 logged 0 '"an unpacked bundle was changed on disk; unpacking it again".*reason":"(cat.wasm|page.txt): ' &&
    ok "tampered tree: the log names the changed file" || bad "tampered logged" "$(tail -5 "$tmp/node1.log")"
until_true 20 serves "${iport[1]}" && ok "tampered tree: unpacked again from the checked tar, node-1 serves the page" ||
    bad "tampered: serves" "$(tail -5 "$tmp/node1.log")"
[ "$(grep -c "$fetched" "$tmp/node1.log")" = "$before" ] && ok "tampered tree: the tar was right, nothing fetched" ||
    bad "nothing fetched" "$(grep "$fetched" "$tmp/node1.log")"
sleep 0.5
ls -a "$cache" | grep -q '^\.unpacking\|^\.fetching' && bad "no leftovers" "$(ls -a "$cache")" || ok "no half-written files left in the cache"

kill "$loader" 2>/dev/null
wait "$loader" 2>/dev/null
loader=
total=$(wc -l <"$tmp/loop") good=$(grep -c '^ok$' "$tmp/loop") wrong=$(grep -c '^wrong' "$tmp/loop")
echo "REPORT bundle-cache-requests ok=$good failed=$((total - good - wrong)) wrong=$wrong"
[ "$wrong" -eq 0 ] && [ "$good" -gt 10 ] && ok "under load: $good answers all the app's page, none anything else" ||
    bad "under load" "$(grep '^wrong' "$tmp/loop" | head -3)"
# Every process stopped: none left a sanitizer report (the ASan build).
stop_all
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/master.log "$tmp"/node*.log; then
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/master.log "$tmp"/node*.log | head -40)"
fi
finish
