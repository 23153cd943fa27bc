#!/usr/bin/env bash
# Runs COMMAND and passes when it exits 1 and its output contains every
# PATTERN (fixed strings): a check must fail loudly on a broken input.
#   expect_failure.sh PATTERN... -- COMMAND [ARGS...]
set -uo pipefail
patterns=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do patterns+=("$1"); shift; done
[ $# -ge 2 ] || { echo "usage: expect_failure.sh PATTERN... -- COMMAND [ARGS...]" >&2; exit 2; }
shift
out=$("$@" 2>&1)
rc=$?
echo "$out"
ok=1
if [ "$rc" -ne 1 ]; then
  echo "expect_failure: '$*' exited $rc, want 1"
  ok=0
fi
for p in "${patterns[@]}"; do
  if [[ $out != *"$p"* ]]; then
    echo "expect_failure: missing from the output: $p"
    ok=0
  fi
done
[ "$ok" -eq 1 ] && echo "expect_failure: rejected as expected (${#patterns[@]} errors found)"
[ "$ok" -eq 1 ]
