#!/usr/bin/env bash
# Installs every Debian package that building, testing, fuzzing and
# benchmarking Qyvol needs. Idempotent: when everything is present it
# returns at once without touching apt.
set -euo pipefail

PACKAGES=(
    build-essential make pkg-config
    clang-19 lld-19 libclang-rt-19-dev          # warnings check, libFuzzer, sanitizers
    wasi-libc libclang-rt-19-dev-wasm32 wabt     # building WebAssembly guests
    libjansson-dev libcmocka-dev libyaml-dev libevent-dev
    hyperfine
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
