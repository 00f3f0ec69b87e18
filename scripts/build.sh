#!/usr/bin/env bash
# Configures (once) and builds one build tree. Incremental on later runs.
#   scripts/build.sh [release|sanitize]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIND=${1:-release}
case "$KIND" in
  release) DIR="$ROOT/build" ; EXTRA=() ;;
  # Benchmarks are built (and warning-checked) in the release tree only: under ASan their
  # figures mean nothing and they cost CI minutes.
  sanitize) DIR="$ROOT/build-asan" ; EXTRA=(-DLB_SANITIZE=ON -DLB_BUILD_BENCH=OFF) ;;
  *) echo "usage: $0 [release|sanitize]" >&2; exit 2 ;;
esac
if [[ ! -f "$DIR/build.ninja" ]]; then
  rm -rf "$DIR"
  cmake -S "$ROOT" -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLB_WERROR=ON "${EXTRA[@]}" >/dev/null
fi
cmake --build "$DIR" -j "${LB_JOBS:-2}"
