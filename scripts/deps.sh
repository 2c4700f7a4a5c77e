#!/usr/bin/env bash
# Installs every Debian package that building, testing, fuzzing and
# benchmarking Qyvol needs. Idempotent: when everything is present it
# returns at once without touching apt. Runs as root, or through sudo.
set -euo pipefail

PACKAGES=(
    build-essential gcc make pkg-config
    clang-19 lld-19 libclang-rt-19-dev          # warnings check, libFuzzer, sanitizers
    wasi-libc libclang-rt-19-dev-wasm32 wabt     # building WebAssembly guests
    libjansson-dev libcmocka-dev                 # spec-test runner, unit tests
    libyaml-dev libevent-dev                     # manifests, HTTP serving
    rustc libstd-rust-dev-wasm32                 # Rust WASI guests (examples)
    hyperfine curl wrk nginx-light               # benchmarks (bench/, bench/http)
    prometheus                                   # promtool, to check /_qyvol/metrics
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps.sh: not root and sudo is missing; run as root" >&2; exit 1; }
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing ${missing[*]}"

# Refresh the package lists only when apt does not know a package we need
# (fresh images ship without lists) or when an install from old lists fails.
needs_update=0
for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || { needs_update=1; break; }
done
install() { "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
if [ $needs_update -eq 1 ]; then
    "${SUDO[@]}" apt-get update -qq
    install
elif ! install; then
    echo "deps.sh: install failed with the current package lists; updating them and retrying"
    "${SUDO[@]}" apt-get update -qq
    install
fi
