#!/usr/bin/env bash
# Sanitizer and fuzzing checks; `make test` runs them after the main suite
# (README "Sanitizers and fuzzing").
#
#   scripts/check_sanitizers.sh BUILD_ROOT
#
# Two clang-14 builds without LibTorch, each of only the targets it runs:
#   BUILD_ROOT/asan  ASan + UBSan with libFuzzer (SHOAL_FUZZ=ON; clang adds
#                    -Wthread-safety, and -Werror holds): every unit test of
#                    common/ and replay/ (selectors/ and client/ included,
#                    with the shoal-replay binary those start), then every
#                    fuzzer for FUZZ_SECONDS on its seeds (tests/fuzz/corpus).
#   BUILD_ROOT/tsan  ThreadSanitizer with the Abseil shim (tests/tsan): the
#                    shim's own checks, then the unit tests that run threads.
# Prints one line per stage with its wall time. Exits non-zero at the first
# failure and prints the end of that stage's log (all logs, and any fuzzer
# crash input, are kept in BUILD_ROOT/logs).
#
# Environment: JOBS (2), FUZZ_SECONDS (30), CC_SANITIZE / CXX_SANITIZE
# (clang-14 / clang++-14).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_ROOT" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
src=$(pwd)
mkdir -p "$1"
root=$(cd "$1" && pwd)
logs=$root/logs
rm -rf "$logs"
mkdir -p "$logs"

JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CC=${CC_SANITIZE:-clang-14}
CXX=${CXX_SANITIZE:-clang++-14}
FUZZERS=(tensor_codec_fuzz config_fuzz replay_insert_fuzz
         replay_checkpoint_fuzz parameter_chunks_fuzz prioritized_selector_fuzz
         env_step_fuzz)
# Unit tests whose threads meet only through our code and Abseil (see
# tests/tsan/suppressions.txt for why the gRPC ones are not here).
TSAN_TESTS=(shoal_common_thread_pool_test shoal_replay_rate_limiter_test
            shoal_replay_table_concurrency_test
            shoal_replay_table_insert_batch_test shoal_replay_table_test
            shoal_replay_table_parked_insert_test
            shoal_replay_insert_wait_queue_test)

# UBSan only warns by default; make every finding fail its test or fuzzer.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
export TSAN_OPTIONS="suppressions=$src/tests/tsan/suppressions.txt second_deadlock_stack=1"

# stage NAME COMMAND...: runs COMMAND with its output in logs/NAME.log and
# prints NAME and the wall time; on failure, the end of the log, and exits.
stage() {
  local name=$1
  shift
  local log="$logs/${name//[: ]/_}.log"
  local start=$SECONDS
  if "$@" >"$log" 2>&1; then
    printf 'check_sanitizers: %-30s %4d s\n' "$name" $((SECONDS - start))
  else
    printf 'check_sanitizers: %-30s %4d s  FAILED\n' "$name" $((SECONDS - start))
    tail -n 80 "$log" | sed 's/^/  | /'
    echo "check_sanitizers: full log: $log" >&2
    exit 1
  fi
}

configure() {  # configure DIR CMAKE_ARGS...
  local dir=$1
  shift
  cmake -S "$src" -B "$dir" -G "Unix Makefiles" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -gline-tables-only" \
    -DSHOAL_WITH_TORCH=OFF "$@"
}

# The unit-test targets of common/ and replay/ (and their subfolders).
unit_test_targets() {
  cmake --build "$1" --target help |
    sed -n 's/^\.\.\. \(shoal_\(common\|replay\)_[a-z_]*_test\)$/\1/p'
}

# ctest on the unit tests of common/ and replay/ that were built (tests of
# targets not built are "_NOT_BUILT" entries without a label: skipped).
unit_tests() {
  local dir=$1
  local status=0
  for sub in common replay; do
    ctest --test-dir "$dir/$sub" -L unit -j"$JOBS" --timeout 600 \
      --output-on-failure || status=1
  done
  return $status
}

# fuzz NAME: NAME for FUZZ_SECONDS on a scratch copy of its corpus.
fuzz() {
  local name=$1
  local work=$root/asan/fuzz-corpus/$name
  rm -rf "$work"
  mkdir -p "$work"
  "$root/asan/tests/$name" -max_total_time="$FUZZ_SECONDS" -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$logs/$name-" \
    "$work" "$src/tests/fuzz/corpus/$name"
}

# Runs each of TSAN_TESTS (a report makes it exit 66).
tsan_tests() {
  local status=0
  for t in "${TSAN_TESTS[@]}"; do
    local bin
    bin=$(find "$tsan" -name "$t" -type f -perm -u+x | head -n 1)
    echo "== $t"
    "${NORAND[@]}" timeout 600 "$bin" || status=1
  done
  return $status
}

# TSan's shadow memory needs the classic address-space layout; newer kernels
# randomise mmap more than LLVM 14 expects, so run without ASLR when the
# machine lets us.
NORAND=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
  NORAND=(setarch "$(uname -m)" -R)
fi

asan=$root/asan
stage "asan: configure" configure "$asan" -DSHOAL_SANITIZE=address -DSHOAL_FUZZ=ON
mapfile -t asan_targets < <(unit_test_targets "$asan")
stage "asan: build" cmake --build "$asan" -j"$JOBS" --target \
  "${asan_targets[@]}" shoal-replay shoal_fuzzers
stage "asan: unit tests" unit_tests "$asan"
for f in "${FUZZERS[@]}"; do
  stage "fuzz: $f" fuzz "$f"
done

tsan=$root/tsan
stage "tsan: configure" configure "$tsan" -DSHOAL_SANITIZE=thread
stage "tsan: build" cmake --build "$tsan" -j"$JOBS" --target \
  absl_tsan_check absl_tsan_check_noshim "${TSAN_TESTS[@]}"
stage "tsan: abseil shim checks" "${NORAND[@]}" \
  ctest --test-dir "$tsan/tests" -L tsan --output-on-failure
stage "tsan: concurrency tests" tsan_tests
