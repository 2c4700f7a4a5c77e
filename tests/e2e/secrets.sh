#!/usr/bin/env bash
# Secrets and tokens end to end (docs/security.md): a master and a node on
# loopback; secrets set from a literal and a file; an app (a guest that
# prints what it got, tests/e2e/guests/secret_echo.c) reads one as an env
# value and one as a read-only file; a changed secret shows only after a
# redeploy; a read token may look but not change (403, logged) and stops
# working once revoked; the audit log says who changed what; and the
# secrets' values are nowhere: not in the store's files, the logs, the API
# answers or the audit log. Usage: tests/e2e/secrets.sh [BUILD_DIR]. Every
# process it starts is stopped.
source "$(dirname "$0")/lib.sh"
pids=()
trap 'stop_all; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cluster_lib.sh"

ECHO=$BUILD/tests/e2e/secret_echo.wasm
if [ ! -f "$ECHO" ]; then bad "the guest" "$ECHO is missing (make builds it)"; finish; exit; fi
export XDG_CONFIG_HOME=$tmp/config
"$QYV" cluster init >/dev/null 2>&1 || bad "cluster init" "failed"
# TLS, as by default: curl checks the master against the cluster CA.
export CURL_CA_BUNDLE=$XDG_CONFIG_HOME/qyvol/ca.crt
admin=$(cat "$XDG_CONFIG_HOME/qyvol/token")
# Values that must never show anywhere but in the guest's answers.
V1="db-pw-$RANDOM$RANDOM-first" V2="db-pw-$RANDOM$RANDOM-second" F1="api-key-$RANDOM$RANDOM-file"
printf '%s' "$F1" >"$tmp/api-key.txt"
mkdir -p "$tmp/keys" && chmod 700 "$tmp/keys"
shm_before=$(ls -d /dev/shm/qyvol-secrets-* 2>/dev/null | sort)

master=127.0.0.1:$(free_port)
"$QYV" master --listen "$master" --data "$tmp/master" --secret-key-file "$tmp/keys/secret.key" \
    >"$tmp/master.log" 2>&1 &
pids+=($!)
until_true 10 curl -sf -H "Authorization: Bearer $admin" "https://$master/v1/health" ||
    bad "master starts" "$(tail -5 "$tmp/master.log")"
"$QYV" cluster set-master "$master" >/dev/null
[ "$(stat -c %a "$tmp/keys/secret.key")" = 600 ] && ok "the master made its secret key, 0600, outside --data" ||
    bad "secret key" "$(ls -l "$tmp/keys")"
nport=$(free_port) iport=$(free_port)
"$QYV" node --listen 127.0.0.1:"$nport" --ingress 127.0.0.1:"$iport" --data "$tmp/node" --name node-1 \
    --master "$master" --token-file "$XDG_CONFIG_HOME/qyvol/token" --capacity memory=1GiB,cpu=2 >"$tmp/node.log" 2>&1 &
pids+=($!)
node_ready() { "$QYV" cluster list-nodes 2>/dev/null | grep -q ' ready '; }
until_true 15 node_ready && ok "node ready" || bad "node ready" "$(tail -3 "$tmp/node.log")"

# ---------------------------------------------------------------- secrets
expect "secret set --from-literal" 0 "secret db: version 1" "$QYV" cluster secret set db --from-literal "$V1"
expect "secret set --from-file" 0 "secret api-key: version 1" \
    "$QYV" cluster secret set api-key --from-file "$tmp/api-key.txt"
expect "secret set: both sources" 2 "one of --from-file FILE or --from-literal" \
    "$QYV" cluster secret set db --from-literal a --from-file "$tmp/api-key.txt"
expect "secret set: a bad name" 2 "lower-case letters" "$QYV" cluster secret set Bad_Name --from-literal x

app=$tmp/app
mkdir -p "$app"
cp "$ECHO" "$app/secret_echo.wasm"
cat >"$app/app.qyv" <<'YAML'
name: sec
entrypoint: secret_echo.wasm
type: http
route: /sec
env:
  DB_PASSWORD: {secret: db}
secrets:
  - name: api-key
    path: /secrets/api/key
YAML
expect "qyv validate accepts secret references" 0 "" "$QYV" validate "$app/app.qyv"
printf 'name: x\nentrypoint: x.wasm\nsecrets:\n  - name: db\n    path: /app/db\n' >"$tmp/bad.qyv"
expect "a secret file under /app: FILE:LINE:COLUMN" 1 "bad.qyv:5:11: 'secrets\[0\].path' must be outside /app" \
    "$QYV" validate "$tmp/bad.qyv"
printf 'name: x\nentrypoint: x.wasm\nenv:\n  A: {secrte: db}\n' >"$tmp/bad2.qyv"
expect "a misspelt env secret: FILE:LINE:COLUMN" 1 "bad2.qyv:4:7: unknown key 'secrte'" "$QYV" validate "$tmp/bad2.qyv"
printf 'name: x\nentrypoint: secret_echo.wasm\nsecrets: [{name: db, path: /s/db}]\n' >"$app/cli.qyv"
expect "qyv run: secrets need a cluster" 125 "cli.qyv:3:28: 'secrets' gives the secret 'db' as /s/db, and secrets are given by a cluster" \
    "$QYV" run "$app/cli.qyv"
sport=$(free_port)
expect "qyv serve: secrets need a cluster" 1 "app.qyv:6:16: 'env.DB_PASSWORD' takes the value of the secret 'db', and secrets are given by a cluster" \
    timeout 10 "$QYV" serve --listen 127.0.0.1:"$sport" "$app/app.qyv"

expect "deploy" 0 "deployed sec revision 1" "$QYV" cluster deploy "$app/app.qyv"
answer() { curl -s -m 5 "http://127.0.0.1:$iport/sec/"; }
serves() { answer | grep -q "^env=$1\$"; }
if until_true 15 serves "$V1"; then
    body=$(answer)
    ok "the app reads the secret as an env value"
    grep -q "^file=$F1\$" <<<"$body" && ok "the app reads the secret as a file" || bad "secret file" "$body"
    grep -q "^write=refused\$" <<<"$body" && ok "the secret's folder is read-only" || bad "read-only" "$body"
else
    bad "the app reads its secrets" "$(answer); $(tail -3 "$tmp/node.log")"
fi
dir=$(ls -d /dev/shm/qyvol-secrets-*/sec-* 2>/dev/null | head -1)
if [ -n "$dir" ]; then
    [ "$(stat -c %a "$(dirname "$dir")")" = 700 ] && [ "$(stat -c %a "$dir/0/key")" = 400 ] &&
        ok "the node's secret folder is 0700 on tmpfs, the file 0400" || bad "modes" "$(ls -la "$dir" "$dir/0")"
fi
grep -rqs -- "$F1" "$tmp/node" && bad "the bundle cache holds no secret" "$(grep -rls -- "$F1" "$tmp/node")" ||
    ok "the bundle cache holds no secret"

printf 'name: miss\nentrypoint: secret_echo.wasm\nroute: /miss\ntype: http\nenv:\n  X: {secret: nope}\n' >"$app/miss.qyv"
expect "deploy refuses a missing secret (FILE:LINE:COLUMN)" 1 "miss.qyv:6:6: there is no secret 'nope'" \
    "$QYV" cluster deploy "$app/miss.qyv"

# ---------------------------------------------------------------- a changed secret waits for a deploy
expect "secret set: a new version" 0 "secret db: version 2" "$QYV" cluster secret set db --from-literal "$V2"
sleep 2
answer | grep -q "^env=$V1\$" && ok "a changed secret does not reach the running app by itself" ||
    bad "no silent change" "$(answer)"
expect "redeploy takes the new version" 0 "rolling out sec: revision 1 -> 2" "$QYV" cluster deploy "$app/app.qyv"
until_true 15 serves "$V2" && ok "after the redeploy the app reads the new value" || bad "new value" "$(answer)"
expect "secret list: names and versions" 0 "db +2 .* sec" "$QYV" cluster secret list
expect "a secret in use cannot be removed" 1 "the app 'sec' uses the secret 'db'" "$QYV" cluster secret remove db
expect "secret set + remove of an unused one" 0 "version 1" "$QYV" cluster secret set spare --from-literal "$V1"
expect "secret remove" 0 "removed the secret spare" "$QYV" cluster secret remove spare

# ---------------------------------------------------------------- tokens
"$QYV" cluster auth token create viewer --role read >"$tmp/viewer" 2>"$tmp/viewer.err" &&
    grep -qE '^viewer\.[0-9a-f]{64}$' "$tmp/viewer" && ok "auth token create prints the token once" ||
    bad "token create" "$(cat "$tmp/viewer" "$tmp/viewer.err")"
viewer=$(cat "$tmp/viewer")
printf '%s\n' "$viewer" >"$tmp/viewer.token" && chmod 600 "$tmp/viewer.token"
expect "token list" 0 "viewer +read" "$QYV" cluster auth token list
as_viewer() { "$QYV" "$1" "$2" --token-file "$tmp/viewer.token" "${@:3}"; }
expect "read token: list-nodes" 0 "node-1" as_viewer cluster list-nodes
expect "read token: status" 0 "sec " as_viewer cluster status
expect "read token: logs" 0 "" as_viewer cluster logs sec
expect "read token: metrics" 0 "" as_viewer cluster metrics
for change in "deploy $app/app.qyv" "scale sec --replicas 2" "remove sec" "secret set db --from-literal x" \
    "secret list" "audit" "auth token create more"; do
    # shellcheck disable=SC2086
    expect "read token refused: $change" 1 "may only read|403" as_viewer cluster $change
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "https://$master/v1/bundles/$(printf '0%.0s' $(seq 64))")
[ "$code" = 403 ] && ok "read token: no bundles (403)" || bad "bundles" "$code"
grep -q '"message":"refused: read-only token".*"token":"viewer".*"path":"/v1/apps/sec/scale"' "$tmp/master.log" &&
    ok "the master logs each refusal with the token's name" || bad "refusal logged" "$(grep refused "$tmp/master.log" | tail -3)"
expect "revoke" 0 "revoked the token viewer" "$QYV" cluster auth token revoke viewer
expect "a revoked token is refused" 1 "refused the token|401|valid cluster token" as_viewer cluster status
grep -q '"message":"refused: no or wrong token".*"token":"viewer"' "$tmp/master.log" &&
    ok "the refusal of the revoked token is logged" || bad "revoked logged" "$(grep refused "$tmp/master.log" | tail -2)"
grep -qF -- "${viewer#viewer.}" "$tmp/master.log" "$tmp/master/state.db"* &&
    bad "the token is kept only hashed" "found in the master's log or store" || ok "the token is kept only hashed"

# ---------------------------------------------------------------- audit
# A change that fails (5xx): adopting a node where none listens (502,
# answered later, from a thread).
nowhere=127.0.0.1:$(free_port)
curl -s -o /dev/null -X POST -d "{\"address\":\"$nowhere\"}" -H "Authorization: Bearer $admin" "https://$master/v1/nodes"
"$QYV" cluster audit >"$tmp/audit" 2>&1
grep -qE "admin +POST /v1/nodes address=$nowhere +failed 502 " "$tmp/audit" &&
    ok "audit: a change that failed, with its status (502)" || bad "audit failed" "$(grep 'v1/nodes' "$tmp/audit")"
for what in "PUT /v1/secrets/db" "POST /v1/apps" "POST /v1/tokens" "DELETE /v1/tokens/viewer" "DELETE /v1/secrets/spare"; do
    grep -qE "admin +$what" "$tmp/audit" && ok "audit: $what by admin" || bad "audit: $what" "$(head -c 800 "$tmp/audit")"
done
grep -qE "admin +POST /v1/apps bundle=[0-9a-f]{64} manifest=app.qyv " "$tmp/audit" &&
    ok "audit: what a deploy asked for (bundle, manifest)" || bad "audit detail" "$(grep 'POST /v1/apps' "$tmp/audit")"
# Each change's outcome: done, refused (4xx, a read token's 403 too) or failed (5xx), with its status.
grep -qE "admin +POST /v1/apps bundle=[0-9a-f]{64} manifest=app.qyv +done 20[01] " "$tmp/audit" &&
    ok "audit: a deploy that was done, with its status" || bad "audit done" "$(grep 'POST /v1/apps' "$tmp/audit")"
grep -qE "admin +POST /v1/apps bundle=[0-9a-f]{64} manifest=miss.qyv +refused 4[0-9][0-9] " "$tmp/audit" &&
    ok "audit: a deploy refused (a missing secret), with its status" || bad "audit refused" "$(grep 'miss.qyv' "$tmp/audit")"
grep -qE "admin +DELETE /v1/secrets/db +refused 409 " "$tmp/audit" &&
    ok "audit: removing a secret in use, refused 409" || bad "audit 409" "$(grep 'secrets/db' "$tmp/audit")"
grep -qE "viewer +POST /v1/apps/sec/scale replicas=2 +refused 403 " "$tmp/audit" &&
    ok "audit: a read token's change, refused 403" || bad "audit 403" "$(grep viewer "$tmp/audit")"
"$QYV" cluster audit --output json | python3 -c '
import json, sys
entries = json.load(sys.stdin)["entries"]
bad = [e for e in entries if e.get("outcome") not in ("done", "refused", "failed") or not isinstance(e.get("status"), int)]
print(len(entries), len(bad))' >"$tmp/outcomes"
read -r total missing <"$tmp/outcomes"
# The one call still in flight is `audit` itself: not a change.
[ "$total" -gt 10 ] && [ "$missing" = 0 ] && ok "audit: every one of $total entries has its outcome and status" ||
    bad "outcomes" "$(cat "$tmp/outcomes")"
grep -q "/heartbeat" "$tmp/audit" && bad "audit: no heartbeats" "$(grep heartbeat "$tmp/audit" | head -2)" ||
    ok "audit: the nodes' heartbeats are not changes"

# The log is bounded: 1100 more changes (refused ones count: they are
# recorded as they arrive) leave at most 1000 + 50 entries.
urls=()
for _ in $(seq 1100); do urls+=("https://$master/v1/nodes"); done
curl -s -o /dev/null -X POST -d '{}' -H "Authorization: Bearer $admin" "${urls[@]}"
n=$(curl -s -H "Authorization: Bearer $admin" "https://$master/v1/audit" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$n" -ge 1000 ] && [ "$n" -le 1050 ] && ok "the audit log keeps the last 1000 or so ($n)" || bad "audit bounded" "$n entries"

# ---------------------------------------------------------------- another key
# A master restarted with another key cannot open the secrets: it says so,
# and the node keeps the app running with the values it has.
kill -TERM "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
"$QYV" master --listen "$master" --data "$tmp/master" --secret-key-file "$tmp/keys/other.key" \
    >"$tmp/master2.log" 2>&1 &
pids[0]=$!
until_true 10 curl -sf -H "Authorization: Bearer $admin" "https://$master/v1/health" ||
    bad "master restarts" "$(tail -5 "$tmp/master2.log")"
grep -q '"message":"a secret was sealed with another key; it cannot be opened with this one".*"secret":"db"' \
    "$tmp/master2.log" && ok "a master with another key says which secrets it cannot open" ||
    bad "another key" "$(head -5 "$tmp/master2.log")"
until_true 5 grep -q '"message":"cannot give a secret to a node"' "$tmp/master2.log" &&
    ok "... and logs that it cannot give them to the node" || bad "cannot give" "$(tail -3 "$tmp/master2.log")"
sleep 1
answer | grep -q "^env=$V2\$" && ok "the node keeps the app running with the values it has" ||
    bad "kept running" "$(answer); $(tail -3 "$tmp/node.log")"
kill -TERM "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
"$QYV" master --listen "$master" --data "$tmp/master" --secret-key-file "$tmp/keys/secret.key" \
    >>"$tmp/master.log" 2>&1 &
pids[0]=$!
until_true 10 curl -sf -H "Authorization: Bearer $admin" "https://$master/v1/health" ||
    bad "master restarts with its key" "$(tail -5 "$tmp/master.log")"

# ---------------------------------------------------------------- rotating the key
# A new key, the old one given as --old-secret-key-file: what the old key
# sealed is sealed again with the new one at start, so that the old key
# can go.
restart_master() {
    kill -TERM "${pids[0]}"
    wait "${pids[0]}" 2>/dev/null
    "$QYV" master --listen "$master" --data "$tmp/master" "$@" >"$tmp/master-rot.log" 2>&1 &
    pids[0]=$!
    until_true 10 curl -sf -H "Authorization: Bearer $admin" "https://$master/v1/health"
}
expect "a missing old key file is refused at start" 1 "old-secret-key-file $tmp/keys/gone.key" \
    timeout 10 "$QYV" master --listen 127.0.0.1:"$(free_port)" --data "$tmp/master-x" \
    --secret-key-file "$tmp/keys/new.key" --old-secret-key-file "$tmp/keys/gone.key"
restart_master --secret-key-file "$tmp/keys/new.key" --old-secret-key-file "$tmp/keys/secret.key" ||
    bad "master restarts with a new key" "$(tail -5 "$tmp/master-rot.log")"
cat "$tmp/master-rot.log" >>"$tmp/master.log"
grep -q '"message":"secret keys rotated".*"resealed":2' "$tmp/master-rot.log" &&
    ok "a new key with the old one as --old-secret-key-file: both secrets resealed" ||
    bad "resealed" "$(grep -i secret "$tmp/master-rot.log" | head -5)"
restart_master --secret-key-file "$tmp/keys/new.key" || bad "master restarts with the new key alone" "$(tail -5 "$tmp/master-rot.log")"
cat "$tmp/master-rot.log" >>"$tmp/master.log"
grep -q 'cannot be opened' "$tmp/master-rot.log" && bad "the new key alone opens everything" "$(head -5 "$tmp/master-rot.log")" ||
    ok "then the new key alone opens every secret"
V3="db-pw-$RANDOM$RANDOM-third"
expect "secret set under the new key" 0 "secret db: version 3" "$QYV" cluster secret set db --from-literal "$V3"
expect "redeploy under the new key" 0 "rolling out sec: revision 2 -> 3" "$QYV" cluster deploy "$app/app.qyv"
until_true 15 serves "$V3" && ok "the node gets the values the new key opens" || bad "value under the new key" "$(answer)"

# ---------------------------------------------------------------- values nowhere
api=$tmp/api-answers
for p in /v1/apps /v1/apps/sec /v1/secrets /v1/audit /v1/tokens /v1/nodes /v1/health; do
    curl -s -H "Authorization: Bearer $admin" "https://$master$p" >>"$api"
done
"$QYV" cluster status sec --output json >>"$api" 2>&1
"$QYV" cluster secret list --output json >>"$api" 2>&1
"$QYV" cluster audit --output json >>"$api" 2>&1
b64() { printf '%s' "$1" | base64 -w0; }
for v in "$V1" "$V2" "$V3" "$F1"; do
    for form in "$v" "$(b64 "$v")"; do
        hits=$(grep -alF -- "$form" "$tmp/master/state.db"* "$tmp/master.log" "$tmp/master2.log" "$tmp/node.log" "$api" "$tmp/audit" 2>/dev/null)
        [ -z "$hits" ] && ok "a secret value is in no store file, log, API answer or audit (${form:0:12}...)" ||
            bad "secret value leaked" "${form:0:12}... in $hits"
    done
done

stop_all
shm_after=$(ls -d /dev/shm/qyvol-secrets-* 2>/dev/null | sort)
[ "$shm_after" = "$shm_before" ] && ok "the node removes its secret folder when it stops" ||
    bad "secret folder removed" "$(comm -13 <(echo "$shm_before") <(echo "$shm_after"))"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/master.log" "$tmp/node.log"; then
    bad "no sanitizer report" "$(grep -h -m1 -A30 -E 'Sanitizer|runtime error' "$tmp/master.log" "$tmp/node.log")"
fi
finish
