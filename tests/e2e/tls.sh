#!/usr/bin/env bash
# The cluster's TLS end to end (docs/security.md, "Transport and
# identities"): `qyv cluster init` makes a CA; a master and two nodes that
# join with one-time join tokens (a token used twice is refused, so is a
# wrong CA pin); only TLS 1.3 (plain HTTP and TLS 1.2 refused); a client
# certificate not from the CA, an expired one and a revoked one refused;
# node-to-node forwarding over mutual TLS; the ingress serving HTTPS with
# the user's certificate (`qyv cluster auth --cert --key`, checked with
# curl --cacert); and `qyv cluster auth --rotate` under a request loop
# with no request failed; a node's certificate naming only what it can
# prove; and an old master's state.json moved into the store, once.
# Usage: tests/e2e/tls.sh [BUILD_DIR]. Every
# process it starts is stopped.
source "$(dirname "$0")/lib.sh"
QYV=$(cd "$(dirname "$QYV")" && pwd)/qyv
REPO_ROOT=$(pwd)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 50); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    pids=()
}
trap 'stop_all; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cluster_lib.sh"

export XDG_CONFIG_HOME=$tmp/config
cfg=$XDG_CONFIG_HOME/qyvol
# ---------------------------------------------------------------- the CA
expect "init makes a CA" 0 "cluster CA: .*ca.crt \(pin sha256:[0-9a-f]{64}\)" "$QYV" cluster init
modes=$(stat -c %a "$cfg/ca.crt" "$cfg/ca.key" "$cfg/master.pem" | sort -u | tr '\n' ' ')
[ "$modes" = "600 " ] && ok "CA and master files 0600" || bad "CA files 0600" "$modes"
openssl x509 -in "$cfg/ca.crt" -noout -text | grep -q "CA:TRUE" && ok "ca.crt is a CA" || bad "ca.crt is a CA" "no CA:TRUE"
openssl x509 -in "$cfg/master.pem" -noout -text | grep -q "IP Address:127.0.0.1" &&
    ok "the master's certificate names 127.0.0.1" || bad "master SANs" "$(openssl x509 -in "$cfg/master.pem" -noout -ext subjectAltName)"
token=$(cat "$cfg/token")
CA=$cfg/ca.crt

mport=$(free_port) miport=$(free_port)
master=127.0.0.1:$mport
"$QYV" master --listen "$master" --ingress 127.0.0.1:"$miport" --data "$tmp/master" >"$tmp/master.log" 2>&1 &
pids+=($!)
health() { curl -sf --cacert "$CA" -H "Authorization: Bearer $token" "https://$master/v1/health"; }
until_true 10 health && ok "the master answers over HTTPS, checked against the CA" || bad "master starts" "$(tail -5 "$tmp/master.log")"
"$QYV" cluster set-master "$master" >/dev/null

# ---------------------------------------------------------------- TLS 1.3 only
plain=$(curl -s -m 5 "http://$master/v1/health")
[[ $plain == *"HTTPS (TLS 1.3) only"* ]] && ok "plain HTTP to the API is refused" || bad "plain HTTP refused" "$plain"
curl -s -m 5 --cacert "$CA" --tls-max 1.2 "https://$master/v1/health" >/dev/null &&
    bad "TLS 1.2 refused" "answered" || ok "TLS 1.2 to the API is refused"
version=$(curl -s -m 5 --cacert "$CA" -o /dev/null -w '%{http_code}' -v "https://$master/v1/health" 2>&1 | grep -o 'SSL connection using TLSv1.3')
[ -n "$version" ] && ok "the API speaks TLS 1.3" || bad "TLS 1.3" "no TLSv1.3 in curl -v"
expect "the CLI checks the master against the CA" 0 "master $master: ok" "$QYV" cluster health
QYVOL_CA=$tmp/none expect "https without the CA is refused" 2 "needs the cluster CA" "$QYV" cluster health --master "https://$master"

# ---------------------------------------------------------------- joining
join_args() { # TOKEN PIN from `token create`'s output in $tmp/out
    jt=$(grep -o 'join token: [^ ]*' "$tmp/out" | cut -d' ' -f3)
    pin=$(grep -o 'sha256:[0-9a-f]*' "$tmp/out" | head -1)
}
declare -a nport iport
start_node() { # NAME INDEX TOKEN PIN
    nport[$2]=$(free_port) iport[$2]=$(free_port)
    "$QYV" node --name "$1" --listen 127.0.0.1:"${nport[$2]}" --ingress 127.0.0.1:"${iport[$2]}" --data "$tmp/$1" \
        --master "$master" --join "$3" --ca-pin "$4" --capacity memory=1GiB,cpu=2 >"$tmp/$1.log" 2>&1 &
    pids+=($!)
}
expect "token create prints the join command" 0 "--join [0-9a-f]{12}\.[0-9a-f]{32} --ca-pin sha256:[0-9a-f]{64}" \
    "$QYV" cluster token create
join_args
start_node node-1 1 "$jt" "$pin"
nodes_ready() { [ "$("$QYV" cluster list-nodes 2>/dev/null | grep -c ' ready ')" -eq "$1" ]; }
until_true 10 nodes_ready 1 && ok "a node joins with a join token" || bad "node-1 joins" "$(tail -3 "$tmp/node-1.log")"
[ "$(stat -c %a "$tmp/node-1/tls/node.pem")" = 600 ] && ok "the node's key stays on the node, 0600" || bad "node.pem" "$(ls -l "$tmp/node-1/tls")"
# The same token again: refused, and the node does not start.
nport[9]=$(free_port) iport[9]=$(free_port)
expect "a join token is used once" 1 "used already" timeout 10 "$QYV" node --name node-9 --listen 127.0.0.1:"${nport[9]}" \
    --ingress 127.0.0.1:"${iport[9]}" --data "$tmp/node-9" --master "$master" --join "$jt" --ca-pin "$pin"
expect "add-node prints a join command" 0 "--join [0-9a-f.]+ --ca-pin" "$QYV" cluster add-node
join_args
expect "a wrong CA pin is refused" 1 "not the one pinned" timeout 10 "$QYV" node --name node-8 --listen 127.0.0.1:"${nport[9]}" \
    --ingress 127.0.0.1:"${iport[9]}" --data "$tmp/node-8" --master "$master" --join "$jt" --ca-pin "sha256:$(printf '0%.0s' $(seq 64))"
start_node node-2 2 "$jt" "$pin"
until_true 10 nodes_ready 2 && ok "a second node joins" || bad "node-2 joins" "$(tail -3 "$tmp/node-2.log")"
plain=$(curl -s -m 5 "http://127.0.0.1:${nport[1]}/v1/health")
[[ $plain == *"HTTPS (TLS 1.3) only"* ]] && ok "plain HTTP to a node's API is refused" || bad "node plain HTTP" "$plain"

# ---------------------------------------------------------------- refused certificates
# A certificate not from the cluster CA, naming node-1 all the same.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/rogue.pem" -out "$tmp/rogue.crt" \
    -days 1 -subj "/O=qyvol/OU=node/CN=node-1" 2>/dev/null
cat "$tmp/rogue.crt" >>"$tmp/rogue.pem"
rogue() { curl -s -m 5 --cacert "$CA" --cert "$tmp/rogue.pem" -o /dev/null -w '%{http_code}' "$@"; }
code=$(rogue -X POST -d '{}' "https://$master/v1/nodes/node-1/heartbeat")
[ "$code" = 000 ] && ok "the master refuses a certificate not from the CA" || bad "rogue to master" "HTTP $code"
code=$(rogue "https://127.0.0.1:${nport[1]}/v1/health")
[ "$code" = 000 ] && ok "a node refuses a certificate not from the CA" || bad "rogue to node" "HTTP $code"
grep -q "TLS handshake refused.*client certificate" "$tmp/master.log" && ok "the master logs the refused handshake" ||
    bad "refusal logged" "$(grep -i refused "$tmp/master.log" | tail -2)"
# A node's certificate has its name: no other node's heartbeat with it.
code=$(curl -s -m 5 --cacert "$CA" --cert "$tmp/node-1/tls/node.pem" -o /dev/null -w '%{http_code}' -X POST -d '{}' \
    "https://$master/v1/nodes/node-2/heartbeat")
[ "$code" = 401 ] && ok "node-1's certificate cannot speak for node-2" || bad "identity" "HTTP $code"

# A certificate of the CA, through a join by hand (openssl makes the key
# and the request); short-lived, then revoked.
hand_join() { # NAME CERT_TTL [OPENSSL REQ ARGS] -> $tmp/NAME.pem (certificate and key); $given_token, when set, instead of a new one
    local out t=${given_token:-}
    if [ -z "$t" ]; then
        out=$("$QYV" cluster token create --cert-ttl "$2" "${token_args[@]}") || return 1
        t=${out#join token: }
        t=${t%% *}
    fi
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$1.key" -out "$tmp/$1.csr" \
        -subj "/O=qyvol/OU=node/CN=$1" "${@:3}" 2>/dev/null || return 1
    python3 - "$1" "$t" "$tmp/$1.csr" >"$tmp/$1.json" <<'EOF'
import json, sys
print(json.dumps({"name": sys.argv[1], "token": sys.argv[2], "csr": open(sys.argv[3]).read()}))
EOF
    curl -s --cacert "$CA" -H 'Content-Type: application/json' --data-binary @"$tmp/$1.json" "https://$master/v1/tls/join" \
        >"$tmp/$1.reply"
    python3 -c 'import json,sys; print(json.load(sys.stdin)["certificate"], end="")' <"$tmp/$1.reply" >"$tmp/$1.pem" 2>/dev/null || return 1
    cat "$tmp/$1.key" >>"$tmp/$1.pem"
}
token_args=()
with_cert() { curl -s -m 5 --cacert "$CA" --cert "$1" -o /dev/null -w '%{http_code}' "${@:2}"; }
hand_join node-x 3s && ok "a join by hand (openssl CSR) gets a certificate" || bad "hand join" "$(cat "$tmp/node-x.pem" 2>&1 | head -3)"
code=$(with_cert "$tmp/node-x.pem" "https://$master/v1/tls/crl")
[ "$code" = 200 ] && ok "a fresh certificate is taken" || bad "fresh certificate" "HTTP $code"
sleep 3.2
code=$(with_cert "$tmp/node-x.pem" "https://$master/v1/tls/crl")
[ "$code" = 000 ] && ok "an expired certificate is refused" || bad "expired certificate" "HTTP $code"
grep -q "certificate has expired" "$tmp/master.log" && ok "the refusal says it expired" || bad "expired logged" "$(grep refused "$tmp/master.log" | tail -1)"

hand_join node-z 1h -addext "subjectAltName=DNS:node-1" && bad "a request for another node's name" "signed" ||
    ok "a certificate request naming another node is refused"
# A node gets only the addresses it can prove: the one it joins from,
# and those the token lists.
hand_join node-w 1h -addext "subjectAltName=DNS:node-w,IP:127.0.0.1,IP:10.9.9.9" && bad "an address not proven" "signed" ||
    { grep -q "names 10.9.9.9, which this node cannot prove" "$tmp/node-w.reply" &&
        ok "a join asking for an address it does not call from is refused, naming it" ||
        bad "unproven address refused" "$(cat "$tmp/node-w.reply")"; }
token_args=(--node-address 10.9.9.9,10.9.9.10)
hand_join node-v 1h -addext "subjectAltName=DNS:node-v,IP:127.0.0.1,IP:10.9.9.9" &&
    openssl x509 -in "$tmp/node-v.pem" -noout -ext subjectAltName | grep -q "IP Address:10.9.9.9" &&
    ok "...and allowed when the token lists it (token create --node-address)" || bad "listed address" "$(cat "$tmp/node-v.reply")"
token_args=()
expect "a node's certificate does not make it the master" 1 "verification|certificate" \
    "$QYV" cluster health --master "https://127.0.0.1:${nport[1]}"
hand_join node-y 1h || bad "hand join node-y" "failed"
code=$(with_cert "$tmp/node-y.pem" "https://$master/v1/tls/crl")
[ "$code" = 200 ] || bad "node-y before revocation" "HTTP $code"
expect "auth --revoke" 0 "revoked 1 certificate of node-y" "$QYV" cluster auth --revoke node-y
revoked_at_master() { [ "$(with_cert "$tmp/node-y.pem" "https://$master/v1/tls/crl")" = 000 ]; }
until_true 5 revoked_at_master && ok "the master refuses a revoked certificate" || bad "revoked at master" "still taken"
# Nodes fetch the new revocation list with their next heartbeat.
revoked_at_node() { [ "$(with_cert "$tmp/node-y.pem" "https://127.0.0.1:${nport[1]}/v1/health")" = 000 ]; }
until_true 5 revoked_at_node && ok "a node refuses a revoked certificate" || bad "revoked at node" "still taken"
grep -q "certificate revoked" "$tmp/node-1.log" && ok "the node says it was revoked" || bad "revoked logged" "$(tail -2 "$tmp/node-1.log")"

# ---------------------------------------------------------------- forwarding, ingress HTTPS
expect "deploy on node-2 only" 0 "" "$QYV" cluster deploy "$REPO_ROOT/examples/http-hello/app.qyv" --replicas 2 --nodes node-2
serves() { curl -sf -m 5 "http://127.0.0.1:${iport[1]}/hello/a" | grep -q "asked for '/a'"; }
until_true 15 serves && ok "node-1 forwards to node-2 over mutual TLS" || bad "forwarding" "$(tail -3 "$tmp/node-1.log")"
code=$(curl -s -m 5 --cacert "$CA" --resolve node-2:"${iport[2]}":127.0.0.1 -o /dev/null -w '%{http_code}' "https://node-2:${iport[2]}/hello")
[ "$code" = 000 ] && ok "a node's ingress gives its cluster identity only to a client with a cluster certificate" ||
    bad "ingress cluster identity" "HTTP $code"
code=$(curl -s -m 5 --cacert "$CA" --cert "$tmp/node-1/tls/node.pem" --resolve node-2:"${iport[2]}":127.0.0.1 -o /dev/null \
    -w '%{http_code}' "https://node-2:${iport[2]}/hello")
[ "$code" = 200 ] && ok "...and to a node (forwarding)" || bad "ingress for a node" "HTTP $code"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/user.key" -out "$tmp/user.crt" \
    -days 30 -subj "/CN=app.example" -addext "subjectAltName=DNS:app.example,IP:127.0.0.1" 2>/dev/null
expect "auth --cert --key (the guide's)" 0 "ingress HTTPS: app.example" "$QYV" cluster auth --cert "$tmp/user.crt" --key "$tmp/user.key"
expect "auth --cert with another key" 1 "is not the key of" "$QYV" cluster auth --cert "$tmp/user.crt" --key "$tmp/rogue.pem"
https_on() { curl -sf -m 5 --cacert "$tmp/user.crt" "https://127.0.0.1:$1/hello/s" | grep -q "asked for '/s'"; }
until_true 10 https_on "${iport[1]}" && ok "node-1's ingress serves HTTPS with the user's certificate" || bad "ingress HTTPS node-1" "$(tail -3 "$tmp/node-1.log")"
until_true 10 https_on "${iport[2]}" && ok "node-2's too" || bad "ingress HTTPS node-2" "$(tail -3 "$tmp/node-2.log")"
until_true 10 https_on "$miport" && ok "and the master's ingress" || bad "ingress HTTPS master" "$(tail -3 "$tmp/master.log")"
curl -sf -m 5 "http://127.0.0.1:${iport[1]}/hello/p" | grep -q "asked for '/p'" && ok "plain HTTP still serves apps on the ingress" ||
    bad "ingress plain" "no answer"

# ---------------------------------------------------------------- rotation under load
old_serial=$(openssl x509 -in "$tmp/node-2/tls/node.pem" -noout -serial)
(
    for _ in $(seq 80); do
        for p in "${iport[1]}" "${iport[2]}" "$miport"; do
            curl -s -m 5 -o /dev/null -w '%{http_code}\n' --cacert "$tmp/user.crt" "https://127.0.0.1:$p/hello/r"
        done
    done >"$tmp/loop.codes"
) &
loop=$!
sleep 0.5
expect "auth --rotate" 0 "rotated: the master and 2 nodes have new certificates \(generation 2\)" "$QYV" cluster auth --rotate
wait $loop
total=$(wc -l <"$tmp/loop.codes") good=$(grep -c '^200$' "$tmp/loop.codes")
[ "$total" -eq 240 ] && [ "$good" -eq "$total" ] && ok "rotation under a request loop: $good of $total requests answered 200" ||
    bad "rotation under load" "$good of $total answered 200: $(sort "$tmp/loop.codes" | uniq -c | tr '\n' ' ')"
echo "REPORT rotation-failed-requests $((total - good))"
[ "$(openssl x509 -in "$tmp/node-2/tls/node.pem" -noout -serial)" != "$old_serial" ] && ok "the node's certificate is new" ||
    bad "rotation" "same serial"
until_true 5 serves && ok "forwarding goes on after rotation" || bad "forwarding after rotation" "$(tail -3 "$tmp/node-1.log")"
expect "the CLI after rotation" 0 "healthy: 2 of 2 nodes ready" "$QYV" cluster health

stop_all

# ---------------------------------------------------------------- upgrading: state.json into the store
# A master from before kept its TLS state in DATA/tls/state.json (a join
# token, a node's serial, that serial revoked, generation 5): at its first
# start on the new version it moves it into the store, once.
old_token=00aa00aa00aa.11111111111111111111111111111111
python3 - "$tmp/master/tls" "$old_token" <<'EOF'
import hashlib, json, sys, time
now = int(time.time())
state = {"join_tokens": [{"id": sys.argv[2].split(".")[0], "hash": hashlib.sha256(sys.argv[2].encode()).hexdigest(),
                          "expires": now + 600, "cert_ttl_s": 0, "used": False}],
         "issued": {"old-node": {"serials": ["7E57AB01"], "generation": 1, "not_after": now + 600}},
         "revoked": [{"serial": "7E57AB01", "node": "old-node", "at": now}], "generation": 5}
open(sys.argv[1] + "/state.json", "w").write(json.dumps(state))
EOF
rm -f "$tmp/master/tls/migrated"
start_master_again() {
    "$QYV" master --listen "$master" --ingress 127.0.0.1:"$miport" --data "$tmp/master" >>"$tmp/master.log" 2>&1 &
    pids+=($!)
    until_true 10 health
}
start_master_again && grep -q '"TLS state moved into the store"' "$tmp/master.log" && [ -f "$tmp/master/tls/state.json.migrated" ] &&
    ok "an old master's state.json moves into the store at start" || bad "migration" "$(tail -3 "$tmp/master.log")"
openssl crl -in "$tmp/master/tls/crl.pem" -noout -text | grep -q "7E57AB01" && ok "...its revoked serial is in the CRL" ||
    bad "migrated revocation" "$(openssl crl -in "$tmp/master/tls/crl.pem" -noout -text 2>&1 | head -20)"
gen=$(curl -s --cacert "$CA" -H "Authorization: Bearer $token" "https://$master/v1/tls/status" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])' 2>/dev/null)
[ "$gen" = 5 ] && ok "...its generation (5) is the cluster's" || bad "migrated generation" "$gen"
given_token=$old_token hand_join node-old 1h && ok "...and its join token works" || bad "migrated token" "$(cat "$tmp/node-old.reply")"
stop_all
start_master_again && [ "$(grep -c '"TLS state moved into the store"' "$tmp/master.log")" = 1 ] &&
    ! given_token=$old_token hand_join node-old2 1h && grep -q "used already" "$tmp/node-old2.reply" &&
    ok "restarted, nothing is migrated again (the token stays used)" || bad "migration once" "$(cat "$tmp/node-old2.reply")"
stop_all

# ---------------------------------------------------------------- qyv serve --tls-cert
sport=$(free_port)
"$QYV" serve --listen 127.0.0.1:"$sport" --tls-cert "$tmp/user.crt" --tls-key "$tmp/user.key" \
    "$REPO_ROOT/examples/http-hello/app.qyv" >"$tmp/serve.log" 2>&1 &
pids+=($!)
until_true 10 https_on "$sport" && ok "qyv serve --tls-cert --tls-key serves HTTPS" || bad "serve HTTPS" "$(tail -3 "$tmp/serve.log")"
curl -s -m 5 --cacert "$tmp/user.crt" --tls-max 1.2 "https://127.0.0.1:$sport/hello" >/dev/null &&
    bad "serve: TLS 1.2 refused" "answered" || ok "qyv serve: TLS 1.2 refused"
expect "serve --tls-cert without --tls-key" 2 "go together" "$QYV" serve --tls-cert "$tmp/user.crt" "$REPO_ROOT/examples/http-hello/app.qyv"
stop_all
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/*.log; then
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/*.log | head -40)"
else
    ok "no sanitizer report in the logs"
fi
finish
