#!/usr/bin/env bash
# wit.sh JCO_WIT_DIR OUT_DIR: the WIT folder componentize-js builds a
# wasi:http handler against (world.wit next to this script, and the WASI
# packages it uses), made from the WASI 0.2 WIT that jco ships
# (node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12), so that
# nothing is copied into the repository. componentize-js 0.22's engine
# exports wasi:http 0.2.10, so the packages are named @0.2.10, and
# wasi:sockets (whose 0.2.12 types the engine's 0.2.10 lacks) is left out.
set -eu
src=$1 out=$2
[ -d "$src/wasi-http" ] || { echo "wit.sh: no WASI WIT in $src" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/deps"
cp "$(dirname "$0")/world.wit" "$out/"
for pkg in wasi-cli wasi-clocks wasi-filesystem wasi-http wasi-io wasi-random; do
    mkdir -p "$out/deps/$pkg"
    sed -e 's/@0\.2\.12/@0.2.10/g' -e '/wasi:sockets/d' "$src/$pkg/package.wit" >"$out/deps/$pkg/package.wit"
done
