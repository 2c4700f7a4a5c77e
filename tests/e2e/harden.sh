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
# Under AddressSanitizer, freed blocks wait in a quarantine (256 MiB by
# default) that a replica's memory cap counts: keep it small, so that the
# output tests measure the server, not the sanitizer.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"

# expect NAME STATUS REGEX CMD...: exit status and output (both streams;
# an empty REGEX checks nothing).
expect() {
    local name=$1 want=$2 pattern=$3 rc
    shift 3
    timeout 60 "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ $rc -ne "$want" ]; then
        bad "$name" "status $rc, expected $want: $(head -c 400 "$tmp/out")"
    elif [ -n "$pattern" ] && ! grep -qE -e "$pattern" "$tmp/out"; then
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
expect "tables past --memory: refused" 125 "a table's elements: .*memory limit of 1114112 bytes" \
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
expect "tables past resources.memory: refused" 125 "memory limit of 1114112 bytes" "$QYV" run "$tmp/tables-app/app.qyv"

# A memory exactly as large as --memory still fits: the engine's own
# records of the instance have their slack.
printf '(module (memory 16) (func (export "_start")))' >"$tmp/m16.wat"
wat2wasm -o "$tmp/m16.wasm" "$tmp/m16.wat"
expect "a memory of exactly --memory runs" 0 '' "$QYV" run --memory 1MiB "$tmp/m16.wasm"
expect "a memory one page past --memory does not" 125 "memory minimum exceeds" "$QYV" run --memory 960KiB "$tmp/m16.wasm"

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
mkfifo "$tmp/token.fifo"
mkdir -p "$tmp/master-data"
expect "qyv cluster: a token FIFO is refused" 1 'token.fifo: not a regular file \(a FIFO\)' \
    "$QYV" cluster health --token-file "$tmp/token.fifo" --master http://127.0.0.1:1
expect "qyv master: a token FIFO is refused" 1 'token.fifo: not a regular file \(a FIFO\)' \
    "$QYV" master --data "$tmp/master-data" --token-file "$tmp/token.fifo" --listen 127.0.0.1:0
python3 -c 'import sys; open(sys.argv[1], "wb").write("name: a\nentrypoint: a.wasm\n".encode("utf-16"))' "$tmp/u16.qyv"
expect "a UTF-16 manifest is refused" 1 'u16.qyv:1:1: the manifest is UTF-16 text' "$QYV" validate "$tmp/u16.qyv"
python3 -c 'import sys; open(sys.argv[1], "w").write("name: a\nentrypoint: a.wasm\nargs: " + "[" * 100000 + "]" * 100000 + "\n")' "$tmp/deep.qyv"
expect "100k nested '[': refused at its position" 1 'deep.qyv:3:38: lists and maps nested more than 32 deep' "$QYV" validate "$tmp/deep.qyv"
fast "100k nested '[': fast" 1000 "$QYV" validate "$tmp/deep.qyv"
head -c 2000000 /dev/zero | tr '\0' '#' >"$tmp/big.qyv"
expect "a manifest over 1 MiB" 1 'big.qyv: cannot read: larger than 1048576 bytes' "$QYV" validate "$tmp/big.qyv"

# ---------------------------------------------------------------- symlinks
# Nothing outside the app folder can be named (docs/manifest.md): not with
# '..' or an absolute path (refused by the parser), nor through symbolic
# links in the folder, when the app is loaded and when it starts.
CAT=$BUILD/tests/e2e/cat.wasm
out=$tmp/outside
mkdir -p "$out/dir"
echo SECRET >"$out/dir/marker"
cp "$CAT" "$out/evil.wasm"
app() { # app NAME MANIFEST-TAIL: a folder with cat.wasm and data/marker
    rm -rf "$tmp/$1"
    mkdir -p "$tmp/$1/data"
    cp "$CAT" "$tmp/$1/cat.wasm"
    echo inside >"$tmp/$1/data/marker"
    printf 'name: a\nentrypoint: cat.wasm\n%b\n' "$2" >"$tmp/$1/app.qyv"
}
leads_out='leads outside the app folder'
app rootlink 'fs: {source: rootlink}\npermissions: {fs: read}'
ln -s / "$tmp/rootlink/rootlink"
expect "fs.source -> /: run refused" 125 "app.qyv:3:14: 'fs.source' names rootlink, but it $leads_out" \
    "$QYV" run "$tmp/rootlink/app.qyv" -- /app/etc/passwd
expect "fs.source -> /: validate refused" 1 "app.qyv:3:14: 'fs.source' names rootlink, but it $leads_out" \
    "$QYV" validate "$tmp/rootlink/app.qyv"
app relout 'fs: {source: up}\npermissions: {fs: read}'
ln -s ../outside/dir "$tmp/relout/up"
expect "fs.source -> ../outside: refused" 125 "'fs.source' names up, but it $leads_out" "$QYV" run "$tmp/relout/app.qyv"
app proc 'fs: {source: p/self}\npermissions: {fs: read}'
ln -s ../../../../../../../../proc "$tmp/proc/p"
expect "fs.source through a link to /proc: refused" 125 "$leads_out" "$QYV" run "$tmp/proc/app.qyv"
app memfs 'fs: {type: memfs, source: rootlink}\npermissions: {fs: read}'
ln -s / "$tmp/memfs/rootlink"
expect "memfs source -> /: refused (nothing copied)" 125 "$leads_out" "$QYV" run "$tmp/memfs/app.qyv"
app entry 'permissions: {fs: read}'
sed -i 's/cat.wasm/evil.wasm/' "$tmp/entry/app.qyv"
ln -s "$out/evil.wasm" "$tmp/entry/evil.wasm"
expect "entrypoint -> an absolute path outside: refused" 125 "app.qyv:2:13: cannot read the entrypoint .*evil.wasm: it $leads_out" \
    "$QYV" run "$tmp/entry/app.qyv"
expect "entrypoint -> outside: validate refused" 1 "app.qyv:2:13: 'entrypoint' names evil.wasm, but it $leads_out" \
    "$QYV" validate "$tmp/entry/app.qyv"
app parent 'permissions: {fs: read}'
sed -i 's|cat.wasm|bin/evil.wasm|' "$tmp/parent/app.qyv"
ln -s ../outside "$tmp/parent/bin"
expect "entrypoint in a folder linked outside: refused" 125 "$leads_out" "$QYV" run "$tmp/parent/app.qyv"
ln -sfn /proc/self/fd "$tmp/parent/bin"
expect "entrypoint in a folder linked to /proc: refused" 125 "$leads_out" "$QYV" run "$tmp/parent/app.qyv"
app grants 'permissions: {fs: {read: [/app/data, /app/etc]}}'
ln -s /etc "$tmp/grants/etc"
expect "permissions.fs path -> /etc: refused" 125 "app.qyv:3:38: permissions.fs grants /app/etc, but it $leads_out" \
    "$QYV" run "$tmp/grants/app.qyv"
expect "permissions.fs path -> /etc: validate refused" 1 "app.qyv:3:38: 'permissions.fs.read' names /app/etc, but it $leads_out" \
    "$QYV" validate "$tmp/grants/app.qyv"
app grandparent 'permissions: {fs: {read: [/app/lib/dir]}}'
ln -s "$out" "$tmp/grandparent/lib"
expect "permissions.fs path below a folder linked outside: refused" 125 "grants /app/lib/dir, but it $leads_out" \
    "$QYV" run "$tmp/grandparent/app.qyv"
app dotdot 'fs: {source: ../outside}\npermissions: {fs: read}'
expect "fs.source with '..': refused by the parser" 1 "app.qyv:3:14: 'fs.source' must stay inside the manifest's folder" \
    "$QYV" validate "$tmp/dotdot/app.qyv"
app absolute 'fs: {source: /etc}\npermissions: {fs: read}'
expect "fs.source absolute: refused by the parser" 125 "'fs.source' must be a path relative" "$QYV" run "$tmp/absolute/app.qyv"
# Links that stay inside work, and links the guest meets are the sandbox's
# to refuse (a memfs copy keeps them as links).
app inside 'fs: {source: alias}\npermissions: {fs: read}'
ln -s data "$tmp/inside/alias"
ln -s ../cat.wasm "$tmp/inside/data/cat2.wasm"
sed -i 's|cat.wasm|data/cat2.wasm|' "$tmp/inside/app.qyv"
expect "links inside the folder are followed" 0 '^inside$' "$QYV" run "$tmp/inside/app.qyv" -- /app/marker
app memcopy 'fs: {type: memfs, source: data}\npermissions: {fs: read}'
ln -s "$out/dir" "$tmp/memcopy/data/out"
ln -s ../../outside/dir "$tmp/memcopy/data/up"
expect "memfs copy: links out stay unusable" 0 '^== /app/marker$' "$QYV" run "$tmp/memcopy/app.qyv" -- /app/marker /app/out/marker /app/up/marker
grep -q SECRET "$tmp/out" && bad "memfs copy: nothing from outside" "$(cat "$tmp/out")" || ok "memfs copy: nothing from outside"
# Hard links are the file itself: a hard link in the folder to a file
# outside is readable (docs/manifest.md says so); creating one takes write
# access to the folder (and, with fs.protected_hardlinks, owning the file).
app hard 'permissions: {fs: read}'
ln "$out/dir/marker" "$tmp/hard/data/hard" 2>/dev/null &&
    expect "a hard link is the file (documented)" 0 '^SECRET$' "$QYV" run "$tmp/hard/app.qyv" -- /app/data/hard
# A link swapped in after the check: `data` and a link to outside exchange
# names (atomically) over and over while the app runs; it sees `inside` or
# is refused, never the outside.
RACER=$BUILD/tests/wasi/escape-racer
if [ -x "$RACER" ]; then
    app race 'fs: {source: data}\npermissions: {fs: read}'
    ln -s "$out/dir" "$tmp/race/evil"
    "$RACER" "$tmp/race" data evil 20 >/dev/null &
    racer=$!
    seen_secret=0 runs=0
    for _ in $(seq 60); do
        "$QYV" run "$tmp/race/app.qyv" -- /app/marker >"$tmp/race.out" 2>&1
        runs=$((runs + 1))
        grep -q SECRET "$tmp/race.out" && seen_secret=$((seen_secret + 1))
    done
    kill "$racer" 2>/dev/null
    wait "$racer" 2>/dev/null
    [ $seen_secret -eq 0 ] && ok "swapped links: never outside ($runs runs)" || bad "swapped links" "outside seen $seen_secret times"
fi

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
# Megabytes of stderr are not logged line by line on the front's loop.
grep -q 'more bytes of stderr not logged' "$tmp/log" && ok "stderr logged up to its cap" ||
    bad "stderr logged up to its cap" "$(grep -m1 stderr "$tmp/log" | head -c 300)"
[ "$(wc -c <"$tmp/log")" -lt 2000000 ] && ok "the log stays small ($(wc -c <"$tmp/log") bytes)" ||
    bad "the log stays small" "$(wc -c <"$tmp/log") bytes"
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
disown "$pid"
kill -KILL "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
pid=
groups() { find /sys/fs/cgroup -maxdepth 6 -type d -name "qyvol-$front" 2>/dev/null | wc -l; }
left=$(groups)
# Its replicas die with it (their parent-death signal), a moment later.
for _ in $(seq 50); do
    busy=$(find /sys/fs/cgroup -maxdepth 8 -path "*qyvol-$front/*" -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l)
    [ "$busy" -eq 0 ] && break
    sleep 0.1
done
start "$tmp/env/app.qyv" || exit 1
if grep -q '"limits":"none"\|resource limits not applied' "$tmp/log" || [ "$left" -eq 0 ]; then
    ok "stale groups swept (no cgroups here, or none left: $left)"
else
    [ "$(groups)" -eq 0 ] && ok "stale groups of a killed server swept ($left found)" ||
        bad "stale groups of a killed server swept" "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "qyvol-$front")"
fi
stop

# qyv serve: a manifest leading out is refused when loaded, and a link
# swapped in after loading changes nothing (the replicas hold the checked
# folder); a reload then refuses it and keeps the old app.
app served 'type: http\nfs: {source: data}\npermissions: {fs: read}'
ln -s "$out/dir" "$tmp/served/evil"
app servedbad 'type: http\nroute: /bad\nfs: {source: rootlink}\npermissions: {fs: read}'
ln -s / "$tmp/servedbad/rootlink"
"$QYV" serve --listen 127.0.0.1:"$port" "$tmp/servedbad/app.qyv" >"$tmp/out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "'fs.source' names rootlink, but it $leads_out" "$tmp/out" && ok "serve: fs.source -> / refused" ||
    bad "serve: fs.source -> / refused" "status $rc: $(cat "$tmp/out")"
start "$tmp/served/app.qyv" || exit 1
check "serve: the app's folder" 200 '^inside$' "$url/a?/app/marker"
mv "$tmp/served/data" "$tmp/served/data.old"
mv "$tmp/served/evil" "$tmp/served/data"
check "serve: a link swapped in after loading changes nothing" 200 '^inside$' "$url/a?/app/marker"
kill -HUP "$pid"
wait_for "reload refused" grep -q "$leads_out" "$tmp/log"
check "serve: the old app kept" 200 '^inside$' "$url/a?/app/marker"
stop

finish
