#!/usr/bin/env bash
# The serving runtime (src/serve/runtime.h) through `qyv serve`'s reloads:
# an unchanged app keeps its replica processes, a changed one gets new
# ones while the others are left alone, a renamed one replaces the old
# name. Usage (from the repository root): tests/e2e/runtime.sh [BUILD_DIR].
# Ends with "N passed, N failed, 0 skipped"; the server is stopped, with
# bounded waits.
. "$(dirname "$0")/lib.sh"

mkdir -p "$tmp/a" "$tmp/b"
cp examples/http-echo/echo.wasm "$tmp/a/"
cp examples/http-echo/echo.wasm "$tmp/b/"
# manifest DIR NAME REPLICAS
manifest() { printf 'name: %s\nentrypoint: echo.wasm\ntype: http\nroute: /%s\ndeploy:\n  replicas: %s\n' "$2" "$2" "$3" >"$1/app.qyv"; }
# pids APP: the app's replica processes, as /_qyvol/health shows them.
pids() {
    curl -s "$url/_qyvol/health" | python3 -c '
import json, sys
r = json.load(sys.stdin)["replicas"].get(sys.argv[1], [])
print(" ".join(str(x.get("pid", "")) for x in r))' "$1"
}
ready() { test "$(curl -s "$url/_qyvol/health" | grep -o '"state":"ready"' | wc -l)" = "$1"; }
reload() {
    local out
    out=$("$QYV" serve --reload --listen 127.0.0.1:"$port" 2>&1) || bad "reload" "$out"
}

manifest "$tmp/a" a 2
manifest "$tmp/b" b 2
start --workers 1 "$tmp/a/app.qyv" "$tmp/b/app.qyv" || exit 1
wait_for "four replicas ready" ready 4
a1=$(pids a) b1=$(pids b)

reload
[ "$(pids a)" = "$a1" ] && [ "$(pids b)" = "$b1" ] && ok "a reload with nothing changed keeps every replica" ||
    bad "unchanged reload" "a: $a1 -> $(pids a), b: $b1 -> $(pids b)"

manifest "$tmp/b" b 1
reload
wait_for "three replicas ready" ready 3
b2=$(pids b)
[ "$(pids a)" = "$a1" ] && ok "the unchanged app keeps its replicas" || bad "unchanged app" "$a1 -> $(pids a)"
[ -n "$b2" ] && [ "$(echo "$b2" | wc -w)" = 1 ] && ! echo " $b1 " | grep -q " $b2 " &&
    ok "the changed app has new replicas (2 -> 1)" || bad "changed app" "$b1 -> $b2"
gone() { for p in $b1; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
wait_for "the old replicas stop once drained" gone && ok "the old replicas stop once drained"
check "the changed app serves" 200 '^route: /b/...$' "$url/b"

manifest "$tmp/a" c 1
reload
check "a renamed app serves its new route" 200 '^route: /c/...$' "$url/c"
check "the old name is gone" 404 'no app serves' "$url/a"
curl -s "$url/_qyvol/health" | grep -q '"apps":{"c":"healthy","b":"healthy"}\|"apps":{"b":"healthy","c":"healthy"}' &&
    ok "health lists the apps now running" || bad "health after rename" "$(curl -s "$url/_qyvol/health")"
check "metrics go on for the app kept" 200 '^qyvol_replicas_ready\{app="b"\} 1$' "$url/_qyvol/metrics"
stop
finish
