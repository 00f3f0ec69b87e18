#!/usr/bin/env bash
# The fuzzing stage of the test command: builds the libFuzzer targets of fuzz/ with clang, ASan
# and UBSan in build-fuzz/, replays fuzz/regressions/<target>/ (inputs that once failed: each
# must pass now), then fuzzes each target for FUZZ_SECONDS (30) from its seeds: fuzz/seeds/,
# the desync corpus for the HTTP/1 heads, the shipped configs for the loader. A crash fails the
# run; its input is left in build-fuzz/crashes/<target>/ to become a regression file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR="$ROOT/build-fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-30}
TARGETS=(http1_head body_decoder proxy_header config_loader h2_session)

if [[ ! -f "$DIR/build.ninja" ]]; then
  rm -rf "$DIR"
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLB_FUZZ=ON -DLB_BUILD_TESTS=OFF -DLB_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$DIR" -j "${LB_JOBS:-2}" --target fuzzers

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${TARGETS[@]}"; do
  bin="$DIR/fuzz/${t}_fuzzer"
  work="$DIR/corpus/$t"
  crashes="$DIR/crashes/$t"
  mkdir -p "$work" "$crashes"
  if [[ -d "$ROOT/fuzz/seeds/$t" ]]; then cp -n "$ROOT/fuzz/seeds/$t"/* "$work/"; fi
  case $t in
    http1_head)
      corpus="$ROOT/../shared/corpus/http-desync-guardian"
      if [[ -d "$corpus" ]]; then /usr/bin/python3 "$ROOT/fuzz/seeds_from_corpus.py" "$corpus" "$work"; fi ;;
    config_loader)
      cp -n "$ROOT"/config/examples/*.yaml "$work/" ;;
  esac
  regressions=("$ROOT/fuzz/regressions/$t"/*)
  if [[ -e "${regressions[0]}" ]]; then
    echo "== fuzz $t: ${#regressions[@]} regression inputs"
    "$bin" "${regressions[@]}" >"$DIR/$t-regressions.log" 2>&1 || { cat "$DIR/$t-regressions.log"; exit 1; }
  fi
  echo "== fuzz $t: ${SECONDS_EACH}s"
  if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$crashes/" "$work" >"$DIR/$t.log" 2>&1; then
    tail -n 60 "$DIR/$t.log"
    echo "fuzz: $t failed; the input is in $crashes/" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$DIR/$t.log" | tr '\n' ' '; echo
done
