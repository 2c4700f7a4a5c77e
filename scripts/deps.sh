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
    libyaml-dev libevent-dev libhttp-parser-dev  # manifests, HTTP serving (libevent-dev brings libevent_openssl: TLS)
    libsqlite3-dev                               # the cluster master's state store
    libarchive-dev libssl-dev                    # cluster bundles (tar, SHA-256), the cluster's TLS
    openssl                                      # tests/e2e/tls.sh makes certificates with its CLI
    libcurl4-openssl-dev                         # the cluster API client (qyv cluster), outbound wasi:http
    rustc libstd-rust-dev-wasm32                 # Rust WASI guests (examples)
    hyperfine curl wrk nginx-light               # benchmarks (bench/, bench/http)
    python3 iproute2 iputils-ping                # raw-socket HTTP tests, network namespaces (tests/e2e)
)

# promtool, Prometheus' checker (tests/e2e/serve.sh checks /_qyvol/metrics
# with it), comes only in the prometheus package, whose installation would
# also set up and try to start a Prometheus server. So its binary is taken
# out of the package, not installed.
PROMTOOL_DIR=/opt/qyvol-tools
have_promtool() { command -v promtool >/dev/null || [ -x "$PROMTOOL_DIR/promtool" ]; }

# Node and npm run jco (below). A machine may have Node from elsewhere
# (with npm bundled): then Debian's are not asked for.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)

# jco (npm's @bytecodealliance/jco) wraps core modules into WASI 0.2
# components for the component tests (mk/component-tests.mk). Installed
# from the npm registry into its own prefix, pinned, only when missing.
JCO_VERSION=1.35.0
JCO_DIR=/opt/qyvol-tools/jco
have_jco() { [ "$("$JCO_DIR/node_modules/.bin/jco" --version 2>/dev/null)" = "$JCO_VERSION" ]; }
install_jco() {
    have_jco && return 0
    echo "deps.sh: installing jco $JCO_VERSION (npm) into $JCO_DIR"
    "${SUDO[@]}" mkdir -p "$JCO_DIR" &&
        "${SUDO[@]}" npm install --prefix "$JCO_DIR" --no-audit --no-fund --loglevel=error \
            "@bytecodealliance/jco@$JCO_VERSION" >/dev/null
}

# componentize-js (npm's @bytecodealliance/componentize-js) makes a
# JavaScript wasi:http handler a component with a JavaScript engine inside
# (examples/http-component, mk/http-components.mk). jco depends on it, so
# it is usually there already; installed into jco's prefix when missing.
COMPONENTIZE_JS_VERSION=0.22.0
have_componentize_js() {
    [ "$("$JCO_DIR/node_modules/.bin/componentize-js" --version 2>/dev/null)" = "$COMPONENTIZE_JS_VERSION" ]
}
install_componentize_js() {
    have_componentize_js && return 0
    echo "deps.sh: installing componentize-js $COMPONENTIZE_JS_VERSION (npm) into $JCO_DIR"
    "${SUDO[@]}" npm install --prefix "$JCO_DIR" --no-audit --no-fund --loglevel=error \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION" >/dev/null
}

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && have_promtool && have_jco && have_componentize_js && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps.sh: not root and sudo is missing; run as root" >&2; exit 1; }
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

extract_promtool() {
    local dir
    dir=$(mktemp -d)
    chmod 777 "$dir" # apt downloads as its own user
    (cd "$dir" && apt-get download -qq prometheus) &&
        dpkg-deb -x "$dir"/prometheus_*.deb "$dir/x" &&
        "${SUDO[@]}" install -D -m 755 "$dir/x/usr/bin/promtool" "$PROMTOOL_DIR/promtool"
    local rc=$?
    rm -rf "$dir"
    return $rc
}
if ! have_promtool; then
    echo "deps.sh: extracting promtool from the prometheus package into $PROMTOOL_DIR"
    extract_promtool || { "${SUDO[@]}" apt-get update -qq && extract_promtool; }
fi
if [ ${#missing[@]} -eq 0 ]; then
    install_jco && install_componentize_js
    exit
fi
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
install_jco && install_componentize_js
