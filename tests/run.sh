#!/usr/bin/env bash
# The test command: installs what is missing, builds the release tree and the
# ASan+UBSan tree, and runs the whole suite in both. CI runs exactly this.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install-deps.sh"

run_suite() {
  local kind=$1 dir=$2
  echo "== build ($kind)"
  "$ROOT/scripts/build.sh" "$kind"
  echo "== test ($kind)"
  ctest --test-dir "$dir" --output-on-failure -j "${LB_TEST_JOBS:-2}" --timeout 600
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== clang-format check"
(cd "$ROOT" && git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror)

run_suite release "$ROOT/build"
run_suite sanitize "$ROOT/build-asan"
echo "== fuzz (libFuzzer, ASan+UBSan)"
"$ROOT/tests/fuzz.sh"
echo "== all tests passed (release and sanitize builds, fuzzing)"
