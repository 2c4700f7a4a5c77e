#!/usr/bin/env bash
# What forwarding between nodes costs: two `qyv node`s on loopback under
# the fake master of tests/e2e/node.sh; node-b runs the echo app, node-a
# runs nothing and forwards every request to node-b. wrk against node-b's
# ingress directly and against node-a's, in alternating rounds.
# Usage (from the repository root): bench/http/forward.sh [BUILD_DIR] [ROUNDS]
set -u
BUILD=${1:-build}
ROUNDS=${2:-2}
QYV=$(realpath "$BUILD/qyv")
REPO=$(pwd)
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mp=$(port) pa=$(port) ia=$(port) pb=$(port) ib=$(port)
cd "$tmp" || exit 1
cp "$REPO/examples/http-echo/echo.wasm" .
printf 'name: echo\nentrypoint: echo.wasm\ntype: http\nroute: /e\n' >app.qyv
tar --format=ustar -cf b.tar app.qyv echo.wasm
digest=$(sha256sum b.tar | cut -d' ' -f1)
mkdir m && cp b.tar "m/$digest.tar"
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token" >token
python3 - "$digest" "$ib" >m/plan.json <<'PY'
import json, sys
routes = [{"app": "echo", "route": "/e", "port": 0, "algorithm": "round_robin",
           "endpoints": [{"node": "node-b", "ingress": "127.0.0.1:" + sys.argv[2], "replicas": 1, "weight": 1}]}]
app = {"app": "echo", "revision": 1, "digest": sys.argv[1], "manifest": "app.qyv", "overrides": {}, "replicas": 1}
print(json.dumps({"node-a": {"assignments": [], "routes": routes}, "node-b": {"assignments": [app], "routes": routes}}))
PY
python3 "$REPO/tests/e2e/fake_master.py" "$mp" "$token" m & pids+=($!)
sleep 0.3
for n in a b; do
    p=pa i=ia
    [ $n = b ] && p=pb i=ib
    "$QYV" node --name node-$n --listen 127.0.0.1:${!p} --ingress 127.0.0.1:${!i} --data d$n \
        --master 127.0.0.1:$mp --token-file token --workers 2 --log-level warn >$n.log 2>&1 & pids+=($!)
done
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$ia/e/x" && break; sleep 0.1; done
for round in $(seq "$ROUNDS"); do
    for target in "direct to node-b:$ib" "through node-a:$ia"; do
        printf '%-18s' "${target%%:*}"
        wrk -t1 -c8 -d5s "http://127.0.0.1:${target##*:}/e/x" | awk '/Requests\/sec/ {printf "%s req/s", $2} /Non-2xx/ {printf " (%s non-2xx)", $NF}'
        echo
    done
done
