// `shoalctl run CONFIG`: the whole experiment on this machine as child
// processes (replay shards, learner, training actors, one evaluation
// actor), watched until the config's stop condition, then shut down.
// See RunCommand.
#ifndef SHOAL_TOOLS_RUN_COMMAND_H_
#define SHOAL_TOOLS_RUN_COMMAND_H_

#include <string>

#include "absl/time/time.h"

namespace shoal {

struct RunFlags {
  // Experiment YAML.
  std::string config_file;
  // Config overrides, 'key=value;key=value', passed to every child too.
  std::string set;
  // Parent of the run directory (runs/<experiment>-<time>/).
  std::string runs_dir = "runs";
  // Where shoal-replay, shoal-learner and shoal-actor are; "" = next to
  // shoalctl (an install) or in the build tree around it.
  std::string bin_dir;
  // The synchronous baseline (`shoal-sync`) instead of the cluster.
  bool sync = false;
  // Plain progress lines this often when stdout is not a terminal.
  absl::Duration progress_every = absl::Seconds(10);
};

// Runs the experiment and returns the exit code: 0 only when the target
// was reached (stop.eval_return when set, else the env-step or time
// budget) and every child exited cleanly; 1 when it was not, a child died
// (reported with its log's tail) or a child did not exit cleanly; 130 when
// interrupted (SIGINT/SIGTERM: every child is stopped first); 2 for a bad
// config or flags (one line on stderr). Prints a progress line while it
// runs and a summary at the end; writes summary.json, progress.csv and
// evals.csv in the run directory.
int RunCommand(const RunFlags& flags);

}  // namespace shoal

#endif  // SHOAL_TOOLS_RUN_COMMAND_H_
