#!/usr/bin/env bash
# Runs every benchmark binary under build/tests/bench (JSON lines on stdout).
set -euo pipefail
build=${1:-build}
for b in "$build"/tests/*_bench; do
  [ -x "$b" ] || continue
  "$b"
done
