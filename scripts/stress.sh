#!/usr/bin/env bash
# Hunts flaky tests: runs every test that races threads or processes (the
# unit tests of the concurrent classes, and every `integration` and `fault`
# test) with `ctest --repeat until-fail:N` while stress-ng keeps every core
# busy, so timing assumptions that hold only on an idle machine fail here
# rather than in a user's CI. Exits non-zero naming the tests that failed.
#
#   scripts/stress.sh BUILD_DIR     # make stress
#   STRESS_REPEAT=20                # runs of each test (until one fails)
#   STRESS_LOAD=1                   # 0: no background load
#   STRESS_TESTS='regex'            # only tests matching it
set -euo pipefail
build=${1:-build}
repeat=${STRESS_REPEAT:-20}
load=${STRESS_LOAD:-1}
cores=$(nproc)

# Unit tests whose threads race: the classes that wait on each other.
CONCURRENT='RateLimiterTest|TableConcurrencyTest|TableInsertBatchTest|'\
'ThreadPoolTest|ByteBudgetTest|ReplayServiceTest|ReplayWriterTest|'\
'ShardedSamplerTest|ParameterWatcherTest|ParameterStoreTest|'\
'BatchPipelineTest|LearnerServiceTest|EnvServiceTest|RemoteEnvTest|'\
'GrpcServerTest|ChildProcessTest|TableParkedInsertTest|InsertWaitQueueTest|'\
'ReplayServiceHeldInsertTest|CallTrackerTest|TrackedContextTest|'\
'ReconnectScheduleTest|EpisodeReporterTest'

stress_pid=
cleanup() { [ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null || true; }
trap cleanup EXIT
if [ "$load" != 0 ]; then
  if ! command -v stress-ng >/dev/null; then
    echo "stress: stress-ng is missing (scripts/install_deps.sh installs it)" >&2
    exit 2
  fi
  stress-ng --cpu "$cores" --cpu-load 90 --quiet &
  stress_pid=$!
  echo "stress: stress-ng loading $cores cores"
fi

cd "$build"
status=0
run() {
  echo "stress: $* (each up to $repeat runs)"
  if ! ctest --output-on-failure --repeat until-fail:"$repeat" -j"$cores" \
       --timeout 900 "$@"; then
    status=1
  fi
}
if [ -n "${STRESS_TESTS:-}" ]; then
  run -R "$STRESS_TESTS"
else
  run -L unit -R "$CONCURRENT"
  run -L 'integration|fault'
fi
exit $status
