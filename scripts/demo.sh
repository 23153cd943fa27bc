#!/usr/bin/env bash
# The main job. Until `shoalctl run` exists (issue 7) it shows the binaries
# and their flags.
set -euo pipefail
build=${1:-build}
for b in replay/shoal-replay learner/shoal-learner actor/shoal-actor actor/envs/shoal-env-server; do
  if [ -x "$build/$b" ]; then
    echo "=== $(basename "$b") --help"
    "$build/$b" --help 2>&1 || true
  fi
done
