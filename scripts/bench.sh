#!/usr/bin/env bash
# Runs every benchmark binary under build/tests (JSON lines on stdout), then
# the end-to-end recipes.
set -euo pipefail
build=${1:-build}
for b in "$build"/tests/*_bench; do
  [ -x "$b" ] || continue
  "$b"
done
# The recipes end to end (several minutes): tests/bench/e2e_bench.py.
python3 tests/bench/e2e_bench.py --build "$build"
