#!/usr/bin/env bash
# The manifest's map-form grants, checked from inside a guest (grants.c) and
# from the host: hidden and read-only files are unchanged, writes landed
# where they were allowed. Usage: tests/wasi/grants/run.sh [BUILD_DIR]
# Ends with "N passed, N failed, 0 skipped".
set -u
BUILD=${1:-build}
QYV=$BUILD/qyv
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
app=$tmp/app
mkdir -p "$app/data/secrets" "$app/data/sub" "$app/config" "$app/logs"
cp "$here/app.qyv" "$app/"
# GRANTS_WASM: the same guest as a WASI 0.2 component (make builds
# $BUILD/tests/wasi/grants.component.wasm), to check the grants through it.
cp "${GRANTS_WASM:-$BUILD/tests/wasi/grants.wasm}" "$app/grants.wasm"
echo public >"$app/data/public.txt"
echo s3cret >"$app/data/secrets/key.txt"
echo "port=8080" >"$app/config/settings.txt"
ln -s secrets/key.txt "$app/data/link_to_secret"
ln -s secrets "$app/data/secrets_link"
before=$(cd "$app" && sha256sum data/secrets/key.txt config/settings.txt)

passed=0 failed=0
out=$(timeout 30 "$QYV" run "$app/app.qyv" 2>&1)
rc=$?
echo "$out"
line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -1)
if [ -n "$line" ]; then
    read -r p _ f _ <<<"$line"
    passed=$((passed + p)) failed=$((failed + f))
else
    echo "FAIL guest: no summary (exit status $rc)"
    failed=$((failed + 1))
fi
[ $rc -eq 0 ] || { [ -n "$line" ] && [ "$f" -gt 0 ]; } || { echo "FAIL guest exit status $rc"; failed=$((failed + 1)); }

host_check() {
    if eval "$2"; then echo "ok host: $1"; passed=$((passed + 1)); else echo "FAIL host: $1"; failed=$((failed + 1)); fi
}
host_check "hidden and read-only files unchanged" '[ "$(cd "$app" && sha256sum data/secrets/key.txt config/settings.txt)" = "$before" ]'
host_check "the log line landed" '[ "$(cat "$app/logs/out.log" 2>/dev/null)" = line ]'
host_check "the read-write folder was written" '[ "$(cat "$app/data/sub/made.txt" 2>/dev/null)" = made ]'
host_check "nothing created in config" '[ "$(ls "$app/config")" = settings.txt ]'
echo "$passed passed, $failed failed, 0 skipped"
[ $failed -eq 0 ]
