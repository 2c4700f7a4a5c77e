#!/usr/bin/env bash
# Several masters on etcd, under faults (docs/ha.md): a 3-member etcd,
# three masters, two nodes and an app under steady request load, then
#   - kill -9 of the leading master: another leads within 3 s (measured),
#     an acknowledged scale and deploy are kept and applied once;
#   - kill -9 of a follower; the leader killed and restarted at once;
#     kill -9 of an etcd member;
#   - a frozen leader (SIGSTOP) is replaced, and once thawed does not lead;
#   - a master cut off from etcd (the one member it knows is stopped)
#     stops leading, and another takes over;
#   - kill -9 of a node: its replicas are placed on the other (the load
#     then goes to the survivor only), and it comes back;
# and the app serves throughout: no failed request, every answer its own.
# With HA_TLS=1 (as make check runs it) over the cluster's TLS, and also:
# `auth --rotate` under the load gives every master a new certificate; a
# join token made at the leader works after it is killed (sent to a
# follower); one token sent to two masters at once is accepted once; a
# revocation made at a follower is refused by every master.
# With CHAOS=N (make chaos), then N rounds that each restart every process
# (etcd members, masters, nodes) in random order, checking after each that
# one master leads, the state is intact and the app serves.
# Usage: tests/e2e/ha.sh [BUILD_DIR]. Ends with "N passed, N failed,
# N skipped"; every process it starts is stopped. Skipped when
# /usr/bin/etcd (Debian's etcd-server) is missing.
set -u
BUILD=${1:-build}
QYV=$(cd "$(dirname "$BUILD/qyv")" && pwd)/qyv
ETCD=${ETCD:-/usr/bin/etcd}
CHAOS=${CHAOS:-0}
passed=0 failed=0 skipped=0
if [ ! -x "$ETCD" ]; then
    echo "SKIP ha: $ETCD is missing (apt-get install etcd-server)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
tmp=$(mktemp -d)
declare -A procs # name -> pid
cleanup() {
    for p in "${procs[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 30); do
        alive=0
        for p in "${procs[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null; done
    [ -n "${lpid:-}" ] && kill -KILL "$lpid" 2>/dev/null
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
source "$(dirname "$0")/cluster_lib.sh"
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# leading_after LOG T0_NS: ms from T0 to the last "leading" line of LOG.
leading_after() {
    python3 - "$1" "$2" <<'PY'
import json, sys, datetime
last = None
for line in open(sys.argv[1]):
    try: j = json.loads(line)
    except ValueError: continue
    if j.get("message") == "leading": last = j["ts"]
t = datetime.datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000 - int(sys.argv[2]) / 1e6))
PY
}
# Processes are disowned (no job notices when one is killed): wait_gone
# polls instead of wait.
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_gone() { until_true 10 gone "$1"; }

# Processes here restart on the same ports: below the ephemeral range.
free_port() { steady_port; }

# ---------------------------------------------------------------- etcd, 3 members
# Fast elections (heartbeat 50 ms, election 500 ms) let the masters use a
# 1 s lease (etcd's floor is 1.5 election timeouts).
declare -a eclient epeer
for i in 1 2 3; do eclient[$i]=$(free_port); epeer[$i]=$(free_port); done
initial=""
for i in 1 2 3; do initial+="${initial:+,}e$i=http://127.0.0.1:${epeer[$i]}"; done
start_etcd() { # start_etcd I [new|existing]
    local i=$1
    "$ETCD" --name "e$i" --data-dir "$tmp/etcd$i" --listen-client-urls "http://127.0.0.1:${eclient[$i]}" \
        --advertise-client-urls "http://127.0.0.1:${eclient[$i]}" --listen-peer-urls "http://127.0.0.1:${epeer[$i]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${epeer[$i]}" --initial-cluster "$initial" \
        --initial-cluster-state "${2:-new}" --initial-cluster-token "qyvol-ha-$$" \
        --heartbeat-interval 50 --election-timeout 500 --log-level error >>"$tmp/etcd$i.log" 2>&1 &
    procs[etcd$i]=$!
    disown $!
}
for i in 1 2 3; do start_etcd $i; done
etcd_healthy() { curl -sf "http://127.0.0.1:${eclient[$1]}/health" | grep -q '"health":"true"'; }
all_etcd() { for i in 1 2 3; do etcd_healthy $i || return 1; done; }
until_true 20 all_etcd && ok "a 3-member etcd runs" || bad "etcd starts" "$(tail -5 "$tmp"/etcd*.log)"
endpoints="127.0.0.1:${eclient[1]},127.0.0.1:${eclient[2]},127.0.0.1:${eclient[3]}"

# ---------------------------------------------------------------- three masters
export XDG_CONFIG_HOME=$tmp/config
# Plain HTTP by default (`make chaos`); HA_TLS=1 (make check) runs the
# same scenarios over the cluster's TLS (followers forward to the leader with their certificate).
if [ "${HA_TLS:-0}" = 1 ]; then
    plain=() api=https cacert=(--cacert "$XDG_CONFIG_HOME/qyvol/ca.crt")
else
    plain=(--plain-http) api=http cacert=()
fi
"$QYV" cluster init "${plain[@]}" >/dev/null 2>&1 || bad "cluster init" "failed"
token_file=$XDG_CONFIG_HOME/qyvol/token
token=$(cat "$token_file")
declare -a mport mingress
for i in 1 2 3; do mport[$i]=$(free_port); mingress[$i]=$(free_port); done
masters="127.0.0.1:${mport[1]},127.0.0.1:${mport[2]},127.0.0.1:${mport[3]}"
start_master() { # start_master I [STORE]
    local i=$1
    "$QYV" master "${plain[@]}" --listen 127.0.0.1:"${mport[$i]}" --ingress 127.0.0.1:"${mingress[$i]}" --data "$tmp/master$i" \
        --store "${2:-etcd://$endpoints}" \
        --lease-ttl 1 --token-file "$token_file" >>"$tmp/master$i.log" 2>&1 &
    procs[master$i]=$!
    disown $!
}
for i in 1 2 3; do start_master $i; done
health() { curl -s -m 2 "${cacert[@]}" -H "Authorization: Bearer $token" "$api://127.0.0.1:${mport[$1]}/v1/health"; }
role() { health "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("ha_role","?"))' 2>/dev/null || echo down; }
leader() { # the index of the one master that leads, or nothing
    local found=""
    for i in 1 2 3; do [ "$(role $i)" = leader ] && found+="$i"; done
    [ ${#found} -eq 1 ] && echo "$found"
}
one_leader() { [ -n "$(leader)" ]; }
until_true 15 one_leader && ok "exactly one of three masters leads" || bad "a leader" "$(for i in 1 2 3; do health $i; done)"
"$QYV" cluster set-master "$masters" >/dev/null
health_lines() {
    "$QYV" cluster health >"$tmp/health" 2>&1
    [ "$(grep -c ": follower" "$tmp/health")" = 2 ] && [ "$(grep -c "^etcd .*: healthy" "$tmp/health")" = 3 ] &&
        grep -q ": leader" "$tmp/health"
}
until_true 10 health_lines && ok "cluster health: a leader, two followers, three healthy etcd members" ||
    bad "health lines" "$(cat "$tmp/health")"

# ---------------------------------------------------------------- nodes and an app
declare -a nport iport
for i in 1 2; do nport[$i]=$(free_port); iport[$i]=$(free_port); done
start_node() {
    local i=$1
    "$QYV" node "${plain[@]}" --listen 127.0.0.1:"${nport[$i]}" --ingress 127.0.0.1:"${iport[$i]}" --data "$tmp/node$i" \
        --name "node-$i" --master "$masters" --token-file "$token_file" --capacity memory=1GiB,cpu=2 \
        >>"$tmp/node$i.log" 2>&1 &
    procs[node$i]=$!
    disown $!
}
for i in 1 2; do start_node $i; done
nodes_ready() { [ "$("$QYV" cluster list-nodes 2>/dev/null | grep -c ' ready ')" -eq 2 ]; }
until_true 15 nodes_ready && ok "two nodes register through the master list" || bad "nodes" "$("$QYV" cluster list-nodes 2>&1)"
app=$tmp/app
echo_app "$app"
expect "deploy through a follower or the leader" 0 "revision 1" "$QYV" cluster deploy "$app/app.qyv" --replicas 4 --memory 16MB --cpu 0.1
until_true 20 ready_is 4 && ok "4 replicas ready" || bad "deploy" "$("$QYV" cluster status web 2>&1)"
serving() { for i in 1 2; do curl -sf "http://127.0.0.1:${iport[$i]}/web/x" | grep -q '^path: /x$' || return 1; done; }
until_true 10 serving && ok "both nodes serve the app" || bad "serving" "$(curl -s "http://127.0.0.1:${iport[1]}/web/x")"
masters_serve() { for i in 1 2 3; do curl -sf "http://127.0.0.1:${mingress[$i]}/web/m" | grep -q '^path: /m$' || return 1; done; }
until_true 10 masters_serve && ok "every master's ingress serves the app, the followers' with the leader's routes" ||
    bad "masters' ingress" "$(for i in 1 2 3; do curl -s "http://127.0.0.1:${mingress[$i]}/web/m" | head -1; done)"

# A follower forwards with the caller's own token: a read token stays
# read-only through it.
F=$(( $(leader) % 3 + 1 ))
"$QYV" cluster auth token create viewer --role read >"$tmp/viewer" 2>/dev/null
viewer=$(cat "$tmp/viewer")
code() { curl -s "${cacert[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "$@"; }
[ "$(code "$api://127.0.0.1:${mport[$F]}/v1/apps")" = 200 ] &&
    [ "$(code -X POST -d '{"replicas":9}' "$api://127.0.0.1:${mport[$F]}/v1/apps/web/scale")" = 403 ] &&
    ok "through a follower a read token reads, and may not scale (403)" || bad "read token via a follower" "$(cat "$tmp/viewer")"
# logs --follow through a follower: the leader's stream, passed on as it
# comes, asked with the caller's token (a read token may follow logs).
QYVOL_MASTER=127.0.0.1:${mport[$F]} QYVOL_TOKEN_FILE=$tmp/viewer timeout 5 "$QYV" cluster logs web --follow >"$tmp/follow" 2>&1 &
fpid=$!
followed() {
    curl -s "http://127.0.0.1:${iport[1]}/web/followed" >/dev/null
    grep -q '"path":"/web/followed".*"node":"node-' "$tmp/follow"
}
until_true 4 followed && ok "logs --follow through a follower streams the nodes' new lines" ||
    bad "follow through a follower" "$(head -c 400 "$tmp/follow")"
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
[ "$(curl -s "${cacert[@]}" -o /dev/null -w '%{http_code}' -m 3 -H "Authorization: Bearer nope" \
    "$api://127.0.0.1:${mport[$F]}/v1/apps/web/logs?follow=1")" = 401 ] &&
    ok "a follow through a follower keeps the leader's refusal (401)" || bad "follow refusal" "not 401"

# Steady load on the nodes' ingress until $tmp/stop appears; a request
# fails when it errs or the answer is not the app's own.
# The ports to load are read from $tmp/ports each round (a node about to
# be killed is taken out first).
set_ports() { echo "$*" >"$tmp/ports.new" && mv "$tmp/ports.new" "$tmp/ports"; }
set_ports "${iport[1]}" "${iport[2]}"
python3 - "$tmp/stop" "$tmp/ports" >"$tmp/load" <<'PY' &
import http.client, os, sys, time
stop, portfile = sys.argv[1], sys.argv[2]
okc = fail = 0
i = 0
first = ""
ports = []
while not os.path.exists(stop):
    with open(portfile) as f: ports = f.read().split() or ports
    p = ports[i % len(ports)]; i += 1
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(p), timeout=5)
        c.request("GET", "/web/load"); r = c.getresponse(); body = r.read().decode(errors="replace")
        if r.status == 200 and "path: /load" in body: okc += 1
        else:
            fail += 1
            first = first or f"{r.status} {body[:80]!r}"
    except Exception as e:
        fail += 1
        first = first or repr(e)
    time.sleep(0.01)
print(okc, fail, first)
PY
lpid=$!

# ---------------------------------------------------------------- TLS: rotation, a join token
# (HA_TLS=1) The cluster's TLS state is in etcd, shared by the masters: a
# rotation at the leader gives every master a new certificate while the
# nodes serve; a join token made at the leader works after it dies.
tls_on() { [ "${HA_TLS:-0}" = 1 ]; }
served_serial() { # the serial of the certificate master I serves
    openssl s_client -connect "127.0.0.1:${mport[$1]}" -CAfile "$XDG_CONFIG_HOME/qyvol/ca.crt" </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null
}
# hand_join NAME TOKEN MASTER_INDEX [OPENSSL REQ ARGS]: the node's join
# call by hand (openssl makes the key and the request) at one master;
# HTTP status in $tmp/NAME.code, certificate and key in $tmp/NAME.pem.
hand_join() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$1.key" -out "$tmp/$1.csr" \
        -subj "/O=qyvol/OU=node/CN=$1" "${@:4}" 2>/dev/null || return 1
    python3 - "$1" "$2" "$tmp/$1.csr" >"$tmp/$1.json" <<'PY'
import json, sys
print(json.dumps({"name": sys.argv[1], "token": sys.argv[2], "csr": open(sys.argv[3]).read()}))
PY
    curl -s -m 10 "${cacert[@]}" -H 'Content-Type: application/json' --data-binary @"$tmp/$1.json" -o "$tmp/$1.reply" \
        -w '%{http_code}' "$api://127.0.0.1:${mport[$3]}/v1/tls/join" >"$tmp/$1.code"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificate"], end="")' "$tmp/$1.reply" \
        >"$tmp/$1.pem" 2>/dev/null && cat "$tmp/$1.key" >>"$tmp/$1.pem"
    [ "$(cat "$tmp/$1.code")" = 200 ]
}
join_token() { "$QYV" cluster token create "$@" 2>/dev/null | grep -o 'join token: [^ ]*' | cut -d' ' -f3; }
if tls_on; then
    declare -a before_serial
    for i in 1 2 3; do before_serial[$i]=$(served_serial $i); done
    expect "auth --rotate at the leader, under load" 0 "rotated: .*2 nodes have new certificates \(generation 2\)" \
        "$QYV" cluster auth --rotate
    all_rotated() { for i in 1 2 3; do s=$(served_serial $i); [ -n "$s" ] && [ "$s" != "${before_serial[$i]}" ] || return 1; done; }
    until_true 5 all_rotated && ok "every master serves a new certificate after the rotation" ||
        bad "masters rotated" "$(for i in 1 2 3; do echo "$i: ${before_serial[$i]} -> $(served_serial $i)"; done)"
    jt_before_kill=$(join_token)
    [ -n "$jt_before_kill" ] && ok "a join token made at the leader" || bad "join token" "none"
fi

# ---------------------------------------------------------------- kill -9 the leader
L=$(leader)
kill -KILL "${procs[master$L]}"
t0=$(date +%s%N)
wait_gone "${procs[master$L]}"
new_leader() { local l; l=$(leader) && [ "$l" != "$L" ]; }
if until_true 10 new_leader; then
    # From the kill to the new leader's "leading" line (its own clock, ms).
    ms=$(leading_after "$tmp/master$(leader).log" "$t0")
    echo "REPORT leader-failover-ms $ms"
    [ "$ms" -le 3000 ] && ok "leader killed (kill -9): master $(leader) leads after $ms ms" ||
        bad "failover within 3 s" "$ms ms"
else
    bad "a new leader" "$(for i in 1 2 3; do echo "$i: $(role $i)"; done)"
fi
# The new leader never received the bundle: it has it from etcd.
digest=$(status_field 'd["digest"]')
NL=$(leader)
curl -sf "${cacert[@]}" -H "Authorization: Bearer $token" "$api://127.0.0.1:${mport[$NL]}/v1/bundles/$digest" -o "$tmp/bundle.tar"
[ "$(sha256sum <"$tmp/bundle.tar" | cut -d' ' -f1)" = "$digest" ] && grep -q '"bundle fetched from the store"' "$tmp/master$NL.log" &&
    ok "the new leader serves the bundle, fetched from etcd" || bad "bundle from etcd" "$(tail -3 "$tmp/master$NL.log")"
# Acknowledged changes right after: applied once and kept.
expect "scale acknowledged after the failover" 0 "6 replicas" "$QYV" cluster scale web --replicas 6
# A new revision of a running app rolls out (rollout.h).
expect "deploy acknowledged after the failover" 0 "revision (1 -> )?2" "$QYV" cluster deploy "$app/app.qyv" --replicas 6 --memory 16MB --cpu 0.1 --env V=2
expect "the same deploy again changes nothing" 0 "unchanged|revision 2" "$QYV" cluster deploy "$app/app.qyv" --replicas 6 --memory 16MB --cpu 0.1 --env V=2
until_true 20 ready_is 6 && ok "6 replicas ready under the new leader" || bad "scale" "$("$QYV" cluster status web 2>&1)"
[ "$(status_field 'd["revision"]')" = 2 ] && ok "revision 2 exactly: the deploy applied once" || bad "revision" "$(status_field 'd["revision"]')"
if tls_on; then
    # Sent to a follower of the new leader, which forwards it (with the
    # node's own address).
    NL=$(leader)
    F=$(( NL % 3 + 1 )); [ "$F" = "$L" ] && F=$(( F % 3 + 1 ))
    hand_join node-x "$jt_before_kill" "$F" -addext "subjectAltName=IP:127.0.0.1" &&
        ok "the join token made at the killed leader works at the new one (through a follower)" ||
        bad "join token after failover" "HTTP $(cat "$tmp/node-x.code"): $(cat "$tmp/node-x.reply")"
    # One token at two masters at once: one certificate.
    jt2=$(join_token)
    hand_join node-y "$jt2" "$NL" & p1=$!
    hand_join node-z "$jt2" "$F" & p2=$!
    wait $p1 $p2
    codes="$(cat "$tmp/node-y.code") $(cat "$tmp/node-z.code")"
    [ "$(echo "$codes" | tr ' ' '\n' | grep -c '^200$')" = 1 ] && [ "$(echo "$codes" | tr ' ' '\n' | grep -c '^401$')" = 1 ] &&
        grep -q "used already" "$tmp/node-y.reply" "$tmp/node-z.reply" &&
        ok "one join token sent to two masters at once is accepted once ($codes)" ||
        bad "token used twice" "$codes: $(cat "$tmp/node-y.reply" "$tmp/node-z.reply")"
fi
start_master "$L"
rejoined() { [ "$(role "$L")" = follower ]; }
until_true 10 rejoined && ok "the killed master, restarted, follows" || bad "restart" "$(health "$L")"
if tls_on; then
    # A revocation at one master (a follower: the leader writes it to
    # etcd) is enforced by every master within the sync bound (2 s).
    with_cert() { curl -s -m 5 "${cacert[@]}" --cert "$1" -o /dev/null -w '%{http_code}' "$api://127.0.0.1:${mport[$2]}/v1/tls/crl"; }
    taken_by_all() { for i in 1 2 3; do [ "$(with_cert "$tmp/node-x.pem" $i)" != 000 ] || return 1; done; }
    refused_by_all() { for i in 1 2 3; do [ "$(with_cert "$tmp/node-x.pem" $i)" = 000 ] || return 1; done; }
    taken_by_all && ok "node-x's certificate is taken by every master" || bad "node-x before revocation" "refused"
    F=$(( $(leader) % 3 + 1 ))
    t0=$(date +%s%N)
    code=$(curl -s -m 10 "${cacert[@]}" -H "Authorization: Bearer $token" -d '{"node":"node-x"}' -o /dev/null \
        -w '%{http_code}' "$api://127.0.0.1:${mport[$F]}/v1/tls/revoke")
    if [ "$code" = 200 ] && until_true 5 refused_by_all; then
        ms=$(ms_since "$t0")
        echo "REPORT revocation-everywhere-ms $ms"
        ok "a revocation at master $F is refused by every master after $ms ms"
    else
        bad "revocation at every master" "HTTP $code; $(for i in 1 2 3; do echo "$i: $(with_cert "$tmp/node-x.pem" $i)"; done)"
    fi
fi

# ---------------------------------------------------------------- kill -9 a follower
L=$(leader)
F=$(( L % 3 + 1 ))
kill -KILL "${procs[master$F]}"
expect "health names the dead follower down" 0 "master 127.0.0.1:${mport[$F]}: down" "$QYV" cluster health
sleep 1.5
[ "$(leader)" = "$L" ] && ok "a follower killed: the leader stays" || bad "leader after a follower died" "$(leader)"
expect "scale with a follower dead" 0 "5 replicas" "$QYV" cluster scale web --replicas 5
start_master "$F"

# ---------------------------------------------------------------- the leader killed and restarted at once
# The restarted master finds the leader key of its killed run (same
# address) until that lease expires: it must not take it for a leader.
L=$(leader)
kill -KILL "${procs[master$L]}"
wait_gone "${procs[master$L]}"
start_master "$L"
t0=$(date +%s%N)
expect "the leader restarted at once: a scale goes through" 0 "6 replicas" "$QYV" cluster scale web --replicas 6
ms=$(ms_since "$t0")
[ "$ms" -lt 8000 ] && ok "acknowledged $ms ms after the restart" || bad "scale after an instant restart" "$ms ms"
until_true 10 one_leader && ok "one leader after the instant restart" || bad "leader" "$(leader)"

# ---------------------------------------------------------------- kill -9 an etcd member
kill -KILL "${procs[etcd1]}"
t0=$(date +%s%N)
expect "scale with an etcd member dead" 0 "6 replicas" "$QYV" cluster scale web --replicas 6
echo "REPORT scale-after-etcd-member-kill-ms $(ms_since "$t0")"
until_true 10 one_leader && ok "one master leads with 2 of 3 etcd members" || bad "leader without etcd1" "$(leader)"
start_etcd 1 existing
until_true 15 all_etcd && ok "the etcd member restarts and rejoins" || bad "etcd1 rejoins" "$(tail -3 "$tmp/etcd1.log")"

# ---------------------------------------------------------------- a frozen leader
L=$(leader)
kill -STOP "${procs[master$L]}"
t0=$(date +%s%N)
# (The frozen master is not asked: it would not answer.)
other_leads() { for i in 1 2 3; do [ $i != "$L" ] && [ "$(role $i)" = leader ] && return 0; done; return 1; }
until_true 10 other_leads && ok "leader frozen (SIGSTOP): another master leads after $(ms_since "$t0") ms" ||
    bad "frozen leader replaced" "$(for i in 1 2 3; do echo "$i: $(role $i)"; done)"
expect "scale while the old leader is frozen" 0 "4 replicas" "$QYV" cluster scale web --replicas 4
kill -CONT "${procs[master$L]}"
thawed_follows() { [ "$(role "$L")" = follower ] && one_leader; }
until_true 5 thawed_follows && ok "thawed, the old leader follows (one leader)" || bad "thawed" "$(health "$L")"
until_true 20 ready_is 4 && ok "4 replicas: the thawed master undid nothing" || bad "after thaw" "$("$QYV" cluster status web 2>&1)"

# ---------------------------------------------------------------- a master cut off from etcd
# Master C knows only etcd member 3; the other masters stop (their leases
# revoked), so C leads; then member 3 is frozen: C is cut off from etcd.
C=3
for i in 1 2; do kill -TERM "${procs[master$i]}"; done
for i in 1 2; do wait_gone "${procs[master$i]}"; done
kill -TERM "${procs[master$C]}"
wait_gone "${procs[master$C]}"
start_master $C "etcd://127.0.0.1:${eclient[3]}"
c_leads() { [ "$(role $C)" = leader ]; }
until_true 10 c_leads && ok "master $C (on etcd member 3 only) leads" || bad "C leads" "$(health $C)"
kill -STOP "${procs[etcd3]}"
t0=$(date +%s%N)
c_stopped() { [ "$(role $C)" = follower ]; }
if until_true 10 c_stopped; then
    ok "cut off from etcd, master $C stops leading after $(ms_since "$t0") ms"
else
    bad "cut-off master stops leading" "$(health $C)"
fi
grep -q '"no longer leading"' "$tmp/master$C.log" && ok "it says why in its log" || bad "log" "$(tail -3 "$tmp/master$C.log")"
start_master 1
one_leads() { [ "$(role 1)" = leader ] && c_stopped; }
until_true 10 one_leads && ok "master 1 leads meanwhile" || bad "master 1 leads" "$(health 1)"
expect "scale through the master list while C is cut off" 0 "5 replicas" "$QYV" cluster scale web --replicas 5
kill -CONT "${procs[etcd3]}"
until_true 10 all_etcd && ok "etcd member 3 thawed" || bad "etcd3" "unhealthy"
start_master 2
until_true 10 one_leader && [ "$(role $C)" = follower ] && ok "healed: one leader, master $C follows" ||
    bad "healed" "$(for i in 1 2 3; do echo "$i: $(role $i)"; done)"
until_true 20 ready_is 5 && ok "5 replicas ready after every fault" || bad "final state" "$("$QYV" cluster status web 2>&1)"

# ---------------------------------------------------------------- kill -9 a node
set_ports "${iport[1]}"
sleep 0.3
kill -KILL "${procs[node2]}"
t0=$(date +%s%N)
wait_gone "${procs[node2]}"
on_node1_only() { [ "$(status_field 'd["replicas"]["ready"]')" = 5 ] && [ "$(status_field '",".join(sorted(d["placement"]))')" = node-1 ]; }
if until_true 20 on_node1_only; then
    ms=$(ms_since "$t0")
    echo "REPORT node-failover-ms $ms"
    ok "node-2 killed (kill -9): its replicas serve on node-1 after $ms ms"
else
    bad "node failover" "$("$QYV" cluster status web 2>&1)"
fi
start_node 2
back() { nodes_ready && serving; }
until_true 15 back && ok "node-2 restarted: ready and serving" || bad "node-2 back" "$("$QYV" cluster list-nodes 2>&1)"
wanted_total() { [ "$(status_field 'sum(v["wanted"] for v in d["placement"].values())')" = 5 ]; }
wanted_total && ok "no more replicas placed than wanted (5)" || bad "placed" "$(status_field 'd["placement"]')"
set_ports "${iport[1]}" "${iport[2]}"

# ---------------------------------------------------------------- chaos: restart everything, at random
for round in $(seq "$CHAOS"); do
    order=$(printf '%s\n' etcd1 etcd2 etcd3 master1 master2 master3 node1 node2 | shuf)
    for p in $order; do
        kill -KILL "${procs[$p]}" 2>/dev/null
        wait_gone "${procs[$p]}"
        case $p in
        etcd*) start_etcd "${p#etcd}" existing ;;
        master*) start_master "${p#master}" ;;
        node*) start_node "${p#node}" ;;
        esac
        sleep 0.$((RANDOM % 5))
    done
    t0=$(date +%s%N)
    if until_true 20 all_etcd && until_true 15 one_leader && until_true 20 ready_is 5 && until_true 10 serving; then
        ok "chaos round $round ($(echo $order | tr '\n' ' ')): recovered in $(ms_since "$t0") ms"
    else
        bad "chaos round $round" "$(echo $order) / leader $(leader) / $("$QYV" cluster status web 2>&1 | head -3)"
    fi
done

# ---------------------------------------------------------------- the load's verdict
touch "$tmp/stop"
wait "$lpid"
lpid=""
read -r okc failc first <"$tmp/load"
if [ "$CHAOS" -gt 0 ]; then
    echo "REPORT chaos-requests ok=$okc failed=$failc"
    ok "load through the chaos rounds: $okc served, $failc failed (nodes restart too)"
elif [ "${failc:-1}" -eq 0 ] && [ "${okc:-0}" -gt 100 ]; then
    ok "the app served throughout: $okc requests, 0 failed, every answer its own"
else
    bad "requests during the faults" "$failc failed, $okc served (first: $first)"
fi
echo "REPORT ha-requests ok=$okc failed=$failc"
for p in "${!procs[@]}"; do kill -0 "${procs[$p]}" 2>/dev/null || bad "$p still runs" "it died"; done
# Masters and nodes stop cleanly on SIGTERM (sanitizers then report leaks).
for p in master1 master2 master3 node1 node2; do kill -TERM "${procs[$p]}"; done
stopped=1
for p in master1 master2 master3 node1 node2; do wait_gone "${procs[$p]}" || stopped=0; done
[ $stopped -eq 1 ] && ok "masters and nodes stop on SIGTERM" || bad "SIGTERM" "some still run after 10 s"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp"/master*.log "$tmp"/node*.log &&
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp"/master*.log "$tmp"/node*.log | head -40)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
