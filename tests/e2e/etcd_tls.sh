#!/usr/bin/env bash
# The master on etcd over TLS (docs/ha.md, "etcd over TLS"): a one-member
# etcd serving its client URL over HTTPS with --client-cert-auth, its CA
# and certificates made here with the openssl CLI; a master on
# --store etcds://... with --etcd-cacert, --etcd-cert and --etcd-key leads,
# writes, and `cluster health` shows etcd healthy (checked over TLS too);
# the keys are in etcd (read back with etcdctl over TLS). Refused, with a
# clear error: a wrong CA, no client certificate, the flags without
# etcds://, etcds:// without a CA, plain etcd:// on the TLS port.
# Usage: tests/e2e/etcd_tls.sh [BUILD_DIR]. Skipped when /usr/bin/etcd
# (Debian's etcd-server) is missing. Every process it starts is stopped.
source "$(dirname "$0")/lib.sh"
ETCD=${ETCD:-/usr/bin/etcd}
if [ ! -x "$ETCD" ]; then
    echo "SKIP etcd TLS: $ETCD is missing (apt-get install etcd-server)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
pids=()
trap 'stop_all; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cluster_lib.sh"

# ---------------------------------------------------------------- certificates
pki=$tmp/pki
mkdir -p "$pki"
# ca NAME: a CA key and self-signed certificate.
ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
        -keyout "$pki/$1.key" -out "$pki/$1.crt" 2>/dev/null
}
# leaf NAME CA EXTENSIONS: a key and a certificate signed by CA.
leaf() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null &&
        printf '%b\n' "$3" >"$pki/$1.ext" &&
        openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.crt" -CAkey "$pki/$2.key" -CAcreateserial -days 2 \
            -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
ca etcd-ca && ca other-ca &&
    # etcd 3.4's JSON gateway dials etcd itself with the server certificate:
    # it must be good for clients too.
    leaf server etcd-ca 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth' &&
    leaf master etcd-ca 'extendedKeyUsage=clientAuth' && leaf stranger other-ca 'extendedKeyUsage=clientAuth' &&
    ok "a CA, etcd's server certificate and the master's client certificate (openssl)" || bad "certificates" "openssl failed"

# ---------------------------------------------------------------- etcd over TLS
eclient=$(free_port) epeer=$(free_port)
"$ETCD" --name e1 --data-dir "$tmp/etcd" --listen-client-urls "https://127.0.0.1:$eclient" \
    --advertise-client-urls "https://127.0.0.1:$eclient" --listen-peer-urls "http://127.0.0.1:$epeer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$epeer" --initial-cluster "e1=http://127.0.0.1:$epeer" \
    --cert-file "$pki/server.crt" --key-file "$pki/server.key" --trusted-ca-file "$pki/etcd-ca.crt" \
    --client-cert-auth --log-level error >"$tmp/etcd.log" 2>&1 &
pids+=($!)
etcd_healthy() {
    curl -sf --cacert "$pki/etcd-ca.crt" --cert "$pki/master.crt" --key "$pki/master.key" \
        "https://127.0.0.1:$eclient/health" | grep -q '"health":"true"'
}
until_true 20 etcd_healthy && ok "etcd serves HTTPS and asks for client certificates" || bad "etcd starts" "$(tail -5 "$tmp/etcd.log")"
curl -s -o /dev/null --cacert "$pki/etcd-ca.crt" "https://127.0.0.1:$eclient/health" &&
    bad "etcd asks for a certificate" "a call without one got an answer" || ok "etcd refuses a call without a client certificate"

export XDG_CONFIG_HOME=$tmp/config
"$QYV" cluster init --plain-http >/dev/null 2>&1 || bad "cluster init" "failed"
token=$(cat "$XDG_CONFIG_HOME/qyvol/token")
store=etcds://127.0.0.1:$eclient/etcd-tls-test
tls=(--etcd-cacert "$pki/etcd-ca.crt" --etcd-cert "$pki/master.crt" --etcd-key "$pki/master.key")

# ---------------------------------------------------------------- refused
# master_fails NAME PATTERN FLAGS...: the master exits 1 or 2 with PATTERN on stderr, within 15 s.
master_fails() {
    local name=$1 pattern=$2 rc
    shift 2
    timeout 15 "$QYV" master --plain-http --listen 127.0.0.1:"$(free_port)" --data "$tmp/refused" "$@" >"$tmp/out" 2>&1
    rc=$?
    cat "$tmp/out" >>"$tmp/refused.log"
    if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then bad "$name" "status $rc: $(head -c 400 "$tmp/out")"
    elif ! grep -qE -e "$pattern" "$tmp/out"; then bad "$name" "output does not match /$pattern/: $(head -c 600 "$tmp/out")"
    else ok "$name: $(grep -oE -e "$pattern" "$tmp/out" | head -1)"; fi
}
master_fails "a wrong CA is refused" "not signed by the CA of --etcd-cacert" \
    --store "$store" --etcd-cacert "$pki/other-ca.crt" --etcd-cert "$pki/master.crt" --etcd-key "$pki/master.key"
master_fails "no client certificate is refused" "refused this master's client certificate" \
    --store "$store" --etcd-cacert "$pki/etcd-ca.crt"
master_fails "a client certificate of another CA is refused" "refused this master's client certificate" \
    --store "$store" --etcd-cacert "$pki/etcd-ca.crt" --etcd-cert "$pki/stranger.crt" --etcd-key "$pki/stranger.key"
master_fails "etcds:// without a CA" "needs --etcd-cacert FILE" --store "$store"
master_fails "the TLS flags without etcds://" "go with --store etcds://" \
    --store "etcd://127.0.0.1:$eclient" --etcd-cacert "$pki/etcd-ca.crt"
master_fails "a missing CA file" "cannot read .*missing.crt \(--etcd-cacert\)" \
    --store "$store" --etcd-cacert "$tmp/missing.crt"
master_fails "plain etcd:// on etcd's TLS port" "if etcd serves TLS there, use --store etcds://" --store "etcd://127.0.0.1:$eclient"

# ---------------------------------------------------------------- a master on etcds://
master=127.0.0.1:$(free_port)
"$QYV" master --plain-http --listen "$master" --data "$tmp/master" --store "$store" "${tls[@]}" --lease-ttl 2 \
    >"$tmp/master.log" 2>&1 &
pids+=($!)
until_true 15 curl -sf -H "Authorization: Bearer $token" "http://$master/v1/health" ||
    bad "master starts" "$(tail -5 "$tmp/master.log")"
"$QYV" cluster set-master "$master" >/dev/null
leads() { "$QYV" cluster health 2>&1 | grep -q "master $master: leader"; }
until_true 10 leads && ok "the master leads on etcds://" || bad "leads" "$("$QYV" cluster health 2>&1)"
expect "cluster health: etcd healthy, asked over TLS" 0 "etcd 127.0.0.1:$eclient: healthy" "$QYV" cluster health
expect "a write goes through" 0 "dash" "$QYV" cluster auth token create dash --role read
# The keys under the prefix, read from etcd's gateway over TLS as etcdctl would.
keys_in_etcd() {
    local from to
    from=$(printf '/etcd-tls-test/' | base64) to=$(printf '/etcd-tls-test0' | base64)
    curl -sf --cacert "$pki/etcd-ca.crt" --cert "$pki/master.crt" --key "$pki/master.key" \
        -d "{\"key\":\"$from\",\"range_end\":\"$to\",\"keys_only\":true}" "https://127.0.0.1:$eclient/v3/kv/range" |
        python3 -c 'import json,sys,base64; print("\n".join(base64.b64decode(k["key"]).decode() for k in json.load(sys.stdin).get("kvs",[])))'
}
expect "the state is in etcd, under the prefix" 0 "^/etcd-tls-test/(tokens|leader)" keys_in_etcd
# Every process stopped: none left a sanitizer report (the ASan build).
stop_all
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/master.log "$tmp"/refused.log; then
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/master.log "$tmp"/refused.log | head -40)"
fi
finish
