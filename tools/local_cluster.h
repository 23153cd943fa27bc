// LocalCluster: one experiment's processes on this machine, as children of
// the calling process: replay.shards `shoal-replay` shards, one
// `shoal-learner`, actor.num_actors training `shoal-actor`s and (when
// eval.episodes > 0) one evaluation actor. Servers listen on loopback ports
// picked when the cluster starts (kept across Restart, so clients
// reconnect), metrics ports are the children's own choice (read back from
// their output); each child has its log file and checkpoint directory in
// the run directory:
//
//   <run_dir>/replay-0.log  replay-0/ (checkpoints)  learner.log  learner/
//   <run_dir>/tb/ (TensorBoard + scalars.csv)  actor-0.log ...  eval.log
//
//   SHOAL_ASSIGN_OR_RETURN(auto cluster, LocalCluster::Start(options));
//   while (cluster->CheckAlive().ok()) { ... scrape cluster->children() ... }
//   std::vector<ChildExit> exits = cluster->Stop();
//
// Every child's /metrics address is in <run_dir>/prometheus_targets.json,
// a Prometheus file_sd_configs file (rewritten when a child starts or
// restarts), labelled job="shoal-replay" | "shoal-learner" | "shoal-actor"
// | "shoal-actor-eval" | "shoal-sync" and child="replay-0", "actor-1", ...
//
// Stop is ordered: actors first (they flush to replay), then the learner
// (final checkpoint), then the shards (final checkpoint). With `sync`, the
// cluster is one `shoal-sync` process (and the evaluation actor).
//
// Thread-compatible: the thread that calls Start must drive the cluster
// and outlive it (children die with it: see ChildProcess).
#ifndef SHOAL_TOOLS_LOCAL_CLUSTER_H_
#define SHOAL_TOOLS_LOCAL_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "common/child_process.h"

namespace shoal {

// Paths of the server binaries.
struct ClusterBinaries {
  std::string replay;
  std::string learner;
  std::string actor;
  std::string sync;  // "" when not found (only --sync runs need it)
};

// Finds the binaries in `bin_dir` when set; else next to `self` (the
// running shoalctl: an install puts them side by side) or in the build
// tree around it (<build>/tools/shoalctl -> <build>/replay/shoal-replay).
// NOT_FOUND naming the missing binary and the places looked in.
absl::StatusOr<ClusterBinaries> FindClusterBinaries(const std::string& bin_dir,
                                                    const std::string& self);

// <run_dir>/prometheus_targets.json.
std::string PrometheusTargetsFile(const std::string& run_dir);

// kSync: the synchronous baseline, replay + learner + actor in one process.
enum class ChildRole { kReplay, kLearner, kActor, kEval, kSync };

// One running child and where to read it.
struct ClusterChild {
  ChildRole role;
  std::unique_ptr<ChildProcess> process;
  int port = -1;          // gRPC port; -1 for actors
  int metrics_port = -1;  // /metrics
};

struct ChildExit {
  std::string name;
  int exit_code = -1;
  std::string log_file;
};

struct LocalClusterOptions {
  // Experiment YAML every child reads (--config).
  std::string config_file;
  // Overrides every child applies (--set); "" = none.
  std::string set;
  std::string run_dir;
  ClusterBinaries binaries;
  int num_shards = 1;
  int num_actors = 1;
  // Start the evaluation actor.
  bool eval = true;
  // Run the synchronous baseline (`shoal-sync`, one process) instead of
  // shards, learner and actors; the evaluation actor reads its weights.
  bool sync = false;
  // How long each server may take to print its port.
  absl::Duration start_timeout = absl::Seconds(60);
  // How long each group may take to exit on SIGTERM before SIGKILL.
  absl::Duration stop_timeout = absl::Seconds(30);
};

class LocalCluster {
 public:
  // Starts every child and waits for each server's and actor's ports. On
  // an error, the children started so far are killed and the error names
  // the child and holds its log's tail.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(
      LocalClusterOptions options);
  // Kills what still runs.
  ~LocalCluster();

  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // OK while every child runs; else INTERNAL naming the first that exited,
  // its exit code and its log's tail.
  absl::Status CheckAlive();
  // SIGTERM in order (actors, learner, shards), each group waited for up to
  // stop_timeout (then SIGKILL). Returns every child's exit.
  std::vector<ChildExit> Stop();

  // The child called `name` ("replay-0", "learner", "actor-2", "eval"), or
  // nullptr. For fault tests: kill it through child->process.
  ClusterChild* child(const std::string& name);
  // Starts the stopped child `name` again with the same command line (same
  // ports and directories) and waits for its ports. FAILED_PRECONDITION
  // while it runs; NOT_FOUND for an unknown name.
  absl::Status Restart(const std::string& name);

  const std::vector<ClusterChild>& children() const { return children_; }
  // "127.0.0.1:p,127.0.0.1:q".
  const std::string& replay_addresses() const { return replay_addresses_; }

 private:
  explicit LocalCluster(LocalClusterOptions options)
      : options_(std::move(options)) {}
  // Starts one child with the common flags plus `args` and waits for its
  // ports.
  absl::Status StartChild(ChildRole role, const std::string& name,
                          const std::string& binary,
                          std::vector<std::string> args);
  // Starts the evaluation actor when options_.eval.
  absl::Status StartEval();
  // Waits for `child`'s "listening" (servers) and "metrics" lines.
  absl::Status AwaitPorts(ClusterChild& child);
  // Writes every child's /metrics address to PrometheusTargetsFile.
  absl::Status WritePrometheusTargets() const;

  const LocalClusterOptions options_;
  std::vector<ClusterChild> children_;
  std::string replay_addresses_;
  std::string learner_address_;
};

}  // namespace shoal

#endif  // SHOAL_TOOLS_LOCAL_CLUSTER_H_
