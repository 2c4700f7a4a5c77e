#!/usr/bin/env bash
# Hardening regressions (issue 10): what a hostile manifest, guest or file
# could do to `qyv run`, `qyv validate` and `qyv serve` — memory limits
# bypassed by tables and output, request variables losing to the
# manifest's env, manifests paths leaving the app folder through symbolic
# links, parser blow-ups, file readers blocking, SIGPIPE. Usage (from the
# repository root): tests/e2e/harden.sh [BUILD_DIR]. Ends with
# "N passed, N failed, 0 skipped"; every server it starts is stopped.
. "$(dirname "$0")/lib.sh"
T=$BUILD/testwasm

# expect NAME STATUS REGEX CMD...: exit status and output (both streams).
expect() {
    local name=$1 want=$2 pattern=$3 rc
    shift 3
    timeout 60 "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ $rc -ne "$want" ]; then
        bad "$name" "status $rc, expected $want: $(head -c 400 "$tmp/out")"
    elif ! grep -qE -e "$pattern" "$tmp/out"; then
        bad "$name" "output does not match /$pattern/: $(head -c 400 "$tmp/out")"
    else
        ok "$name"
    fi
}

# Runs CMD and checks it took less than MS milliseconds.
fast() {
    local name=$1 ms=$2 t0 took
    shift 2
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    took=$((($(date +%s%N) - t0) / 1000000))
    [ "$took" -lt "$ms" ] && ok "$name ($took ms)" || bad "$name" "took $took ms"
}

# ---------------------------------------------------------------- memory
# Tables count against --memory: 20,000 tables of 10,000 elements under
# 1 MiB fail at once instead of taking 1.5 GB; without a limit the store's
# table limit (all tables together) stops 100,000 of them.
python3 tests/e2e/tables_module.py "$tmp/tables.wasm" 20000 10000
python3 tests/e2e/tables_module.py "$tmp/tables100k.wasm" 100000 10000
expect "tables past --memory: refused" 125 "a table's elements: .*memory limit of 1048576 bytes" \
    "$QYV" run --memory 1MiB "$tmp/tables.wasm"
fast "tables past --memory: fast" 1000 "$QYV" run --memory 1MiB "$tmp/tables.wasm"
expect "100k tables through qyv invoke: refused" 1 "table limit of 10000000 elements" \
    "$QYV" invoke "$tmp/tables100k.wasm" _start
fast "100k tables through qyv invoke: fast" 2000 "$QYV" invoke "$tmp/tables100k.wasm" _start
expect "qyv invoke --memory counts tables" 1 "memory limit of 2097152 bytes" \
    "$QYV" invoke --memory 2MiB "$tmp/tables.wasm" _start
/usr/bin/time -o "$tmp/rss" -f '%M' "$QYV" invoke "$tmp/tables100k.wasm" _start >/dev/null 2>&1
rss=$(tail -1 "$tmp/rss")
[ "${rss:-999999}" -lt 300000 ] && ok "100k tables: RSS stays small (${rss} KB)" || bad "100k tables: RSS" "${rss} KB"
# A manifest's resources.memory too.
mkdir -p "$tmp/tables-app"
cp "$tmp/tables.wasm" "$tmp/tables-app/t.wasm"
printf 'name: t\nentrypoint: t.wasm\ndeploy:\n  resources: { memory: 1MiB }\n' >"$tmp/tables-app/app.qyv"
expect "tables past resources.memory: refused" 125 "memory limit of 1048576 bytes" "$QYV" run "$tmp/tables-app/app.qyv"

# ---------------------------------------------------------------- qyv run
expect "no _start: 125, not a trap" 125 'exports no _start function' "$QYV" run "$T/wasi_reactor.wasm"
# A reader that goes away: the guest's write fails with EPIPE (64), which
# it exits with; qyv is not killed by SIGPIPE (141).
bash -c "\"$QYV\" run \"$T/wasi_spew.wasm\" 2>/dev/null | head -c10 >/dev/null; exit \${PIPESTATUS[0]}"
rc=$?
[ $rc -eq 64 ] && ok "closed pipe: the guest gets EPIPE" || bad "closed pipe: the guest gets EPIPE" "status $rc"

# ---------------------------------------------------------------- files
# Readers never block on a FIFO nor trust st_size; manifests are UTF-8.
mkfifo "$tmp/fifo.wasm" "$tmp/fifo.qyv"
expect "validate-wasm on a FIFO" 1 'fifo.wasm: not a regular file \(a FIFO\)' "$QYV" validate-wasm "$tmp/fifo.wasm"
expect "validate-wasm on /dev/zero" 1 '/dev/zero: not a regular file \(a character device\)' "$QYV" validate-wasm /dev/zero
expect "qyv run on a FIFO" 125 'not a regular file \(a FIFO\)' "$QYV" run "$tmp/fifo.wasm"
expect "qyv invoke on /dev/zero" 1 'not a regular file' "$QYV" invoke /dev/zero f
expect "qyv validate on a FIFO" 1 'fifo.qyv: cannot read: not a regular file \(a FIFO\)' "$QYV" validate "$tmp/fifo.qyv"
expect "qyv run on a FIFO manifest" 125 'fifo.qyv: cannot read: not a regular file' "$QYV" run "$tmp/fifo.qyv"
python3 -c 'import sys; open(sys.argv[1], "wb").write("name: a\nentrypoint: a.wasm\n".encode("utf-16"))' "$tmp/u16.qyv"
expect "a UTF-16 manifest is refused" 1 'u16.qyv:1:1: the manifest is UTF-16 text' "$QYV" validate "$tmp/u16.qyv"
python3 -c 'import sys; open(sys.argv[1], "w").write("name: a\nentrypoint: a.wasm\nargs: " + "[" * 100000 + "]" * 100000 + "\n")' "$tmp/deep.qyv"
expect "100k nested '[': refused at its position" 1 'deep.qyv:3:38: lists and maps nested more than 32 deep' "$QYV" validate "$tmp/deep.qyv"
fast "100k nested '[': fast" 1000 "$QYV" validate "$tmp/deep.qyv"
head -c 2000000 /dev/zero | tr '\0' '#' >"$tmp/big.qyv"
expect "a manifest over 1 MiB" 1 'big.qyv: cannot read: larger than 1048576 bytes' "$QYV" validate "$tmp/big.qyv"

# ---------------------------------------------------------------- serve
# An app writing without end on stdout and stderr: its request fails
# (502) once its output passes resources.memory, the replica lives on, and
# the server keeps serving. The same without a memory limit stops at the
# 64 MiB output cap.
mkdir -p "$tmp/spew" "$tmp/spew-nolimit" "$tmp/env"
cp "$T/wasi_spew.wasm" "$tmp/spew/spew.wasm"
cp "$T/wasi_spew.wasm" "$tmp/spew-nolimit/spew.wasm"
printf 'name: spew\nentrypoint: spew.wasm\ntype: http\ndeploy:\n  resources: { memory: 16MiB }\n' >"$tmp/spew/app.qyv"
printf 'name: spew2\nentrypoint: spew.wasm\ntype: http\n' >"$tmp/spew-nolimit/app.qyv"
# Request variables win over the manifest's env (docs/http-apps.md).
cp examples/http-echo/echo.wasm "$tmp/env/"
cat >"$tmp/env/app.qyv" <<'YAML'
name: env
entrypoint: echo.wasm
type: http
env: { REQUEST_METHOD: FAKE, PATH_INFO: /fake, HTTP_X_CUSTOM: from-manifest, HTTP_X_ONLY: kept }
YAML
start --workers 2 "$tmp/spew/app.qyv" "$tmp/spew-nolimit/app.qyv" "$tmp/env/app.qyv" || exit 1
check "stdout past resources.memory: 502" 502 'the app failed' "$url/spew"
check "stdout past resources.memory, again: 502" 502 'the app failed' "$url/spew"
check "stdout past the 64 MiB cap: 502" 502 'the app failed' "$url/spew2"
grep -q 'wrote more on stdout than its limit allows' "$tmp/log" && ok "logged: output past its limit" ||
    bad "logged: output past its limit" "$(grep -m2 spew "$tmp/log")"
grep -q '"replica died"' "$tmp/log" && bad "no replica died" "$(grep -m2 'replica died' "$tmp/log")" || ok "no replica died"
check "request variables win over env" 200 '^method: GET$' -H 'X-Custom: from-request' "$url/env/p"
grep -q '^path: /p$' "$tmp/body" && ok "PATH_INFO from the request" || bad "PATH_INFO from the request" "$(head -c 300 "$tmp/body")"
grep -q '^header: HTTP_X_CUSTOM=from-request$' "$tmp/body" && ! grep -q 'from-manifest' "$tmp/body" &&
    ok "a header wins over the same name in env" || bad "a header wins over env" "$(head -c 400 "$tmp/body")"
grep -q '^header: HTTP_X_ONLY=kept$' "$tmp/body" && ok "env names the request lacks stay" ||
    bad "env names the request lacks stay" "$(head -c 400 "$tmp/body")"
# Reload while replicas hold requests: the new pool's groups must not
# collide with the draining old pool's (it logged "cannot make the group
# .../echo-0-1: Device or resource busy" and dropped requests).
kill -HUP "$pid"
slow=()
for _ in 1 2 3; do
    curl -s -o /dev/null --max-time 20 "$url/env/slow?sleep=300" &
    slow+=($!)
    sleep 0.05
    kill -HUP "$pid"
done
wait "${slow[@]}"
check "served after reloads" 200 '^method: GET$' "$url/env/after"
grep -q 'cannot make the group' "$tmp/log" && bad "no cgroup name clash on reload" "$(grep -m1 'cannot make the group' "$tmp/log")" ||
    ok "no cgroup name clash on reload"
# A front killed with SIGKILL leaves its groups; the next server sweeps them.
front=$pid
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid=
groups() { find /sys/fs/cgroup -maxdepth 6 -type d -name "qyvol-$front" 2>/dev/null | wc -l; }
left=$(groups)
start "$tmp/env/app.qyv" || exit 1
if grep -q '"limits":"none"\|resource limits not applied' "$tmp/log" || [ "$left" -eq 0 ]; then
    ok "stale groups swept (no cgroups here, or none left: $left)"
else
    [ "$(groups)" -eq 0 ] && ok "stale groups of a killed server swept ($left found)" ||
        bad "stale groups of a killed server swept" "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "qyvol-$front")"
fi
stop

finish
