#!/usr/bin/env bash
# The main job: a real distributed run on this machine. `shoalctl run`
# starts a replay shard, the learner, three actors and an evaluation actor,
# trains DQN on CartPole until the greedy policy scores >= 475 (mean of 20
# episodes), stops everything and prints a summary; then the learning curve
# is drawn into the run directory.
#   scripts/demo.sh [BUILD_DIR] [CONFIG]
set -euo pipefail
build=${1:-build}
config=${2:-deploy/configs/cartpole_dqn.yaml}
status=0
"$build/tools/shoalctl" run "$config" --runs_dir runs || status=$?
run_dir=$(ls -dt runs/*/ 2>/dev/null | head -1)
if [ -n "$run_dir" ] && [ -s "$run_dir/evals.csv" ]; then
  bash scripts/plot_run.sh "${run_dir%/}"
fi
exit $status
