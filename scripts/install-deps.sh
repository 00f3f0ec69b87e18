#!/usr/bin/env bash
# Installs the Debian 12 packages the project builds, tests and demos with.
# Idempotent: asks apt only for what dpkg says is missing, so a second run is instant.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates curl
  libevent-dev libssl-dev libnghttp2-dev libyaml-cpp-dev prometheus-cpp-dev libre2-dev
  zlib1g-dev libbrotli-dev  # response compression (gzip, brotli)
  libgtest-dev libgmock-dev libbenchmark-dev node-llhttp
  nlohmann-json3-dev libcli11-dev clang-format
  prometheus  # promtool, to validate /metrics in the tests
  systemd     # systemd-analyze, to verify deploy/systemd/ in the tests
  nghttp2-client testssl.sh  # HTTP/2 client (nghttp) and TLS audit for the TLS and h2 tests
  python3-websockets python3-h2 python3-wsproto  # real WebSocket peers, HTTP/1.1 and HTTP/2 (/usr/bin/python3)
  clang libclang-rt-14-dev python3-yaml  # libFuzzer targets (tests/fuzz.sh); desync corpus seeds
  nginx  # a real PROXY-protocol backend in the tests (its own process, started by the test)
)

missing=()
for p in "${PACKAGES[@]}" "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=()
if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
