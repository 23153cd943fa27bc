// Helpers shared by the fault tests (tests/fault/): a small real cluster
// (deploy/configs/cartpole_dqn.yaml with short checkpoint intervals), a
// replay shard process with its ports, readers of /metrics, Info, /proc,
// logs and checkpoint files, and a polling wait. For tests only.
//
// Thread-compatible: each helper is a free function with no shared state.
#ifndef SHOAL_TESTS_FAULT_FAULT_CLUSTER_H_
#define SHOAL_TESTS_FAULT_FAULT_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shoal/v1/replay.pb.h"
#include "shoal/v1/replay_checkpoint.pb.h"

#include "common/child_process.h"
#include "tools/local_cluster.h"
#include "tools/metrics_scrape.h"

namespace shoal {
namespace fault {

// $SHOAL_SOURCE_DIR / $SHOAL_BINARY_DIR (set by the shared test main).
std::string SourceDir();
std::string BinaryDir();
// The three server binaries of this build.
ClusterBinaries Binaries();

struct FaultClusterOptions {
  int shards = 2;
  int actors = 3;
  // More --set overrides, 'k=v;k=v', applied after the fault defaults.
  std::string extra_set;
  // The table's rate limiter becomes min_size (see MinSizeCartpoleYaml).
  bool min_size_limiter = false;
};

// cartpole_dqn.yaml with the table's sample_to_insert_ratio limiter
// replaced by min_size (same min_size_to_sample): inserts never wait for
// samples. A --set cannot do it (the ratio's keys would be left over).
std::string MinSizeCartpoleYaml();

// The overrides every fault cluster applies to cartpole_dqn.yaml: shard and
// actor counts, replay checkpoints every 1 s, learner every 2 s, a small
// network (2x64) so that six processes share two cores, no evaluation.
std::string FaultClusterSet(const FaultClusterOptions& options);

// Starts cartpole_dqn.yaml (or MinSizeCartpoleYaml, written to `run_dir`)
// with FaultClusterSet in `run_dir` (no eval actor).
absl::StatusOr<std::unique_ptr<LocalCluster>> StartFaultCluster(
    const std::string& run_dir, const FaultClusterOptions& options);

// /metrics of http://`host`:`port` (ScrapeMetrics reads only loopback).
absl::StatusOr<MetricSamples> ScrapeAt(const std::string& host, int port,
                                       absl::Duration timeout);
// `series` of a running child's /metrics; -1 when it cannot be read.
double Metric(LocalCluster& cluster, const std::string& child,
              absl::string_view series);
// Sum of `series` over the children whose names start with `prefix`.
double SumMetric(LocalCluster& cluster, absl::string_view prefix,
                 absl::string_view series);

// TableInfo of `table` from ReplayService.Info at `address`.
absl::StatusOr<v1::TableInfo> TableInfoAt(const std::string& address,
                                          absl::string_view table,
                                          absl::Duration timeout);

// Polls `done` every `poll` until it returns true (true) or `timeout` passes
// (false).
bool WaitFor(const std::function<bool()>& done, absl::Duration timeout,
             absl::Duration poll = absl::Milliseconds(100));

// The number after `key` on every line of `text` containing `marker`, in
// order: ValuesOnLines(log, "stopped:", "items_acked=") reads the
// "stopped: ... items_acked=N" line of each actor incarnation.
std::vector<int64_t> ValuesOnLines(absl::string_view text,
                                   absl::string_view marker,
                                   absl::string_view key);

// One table of a replay checkpoint, read back from its file.
struct CheckpointedTable {
  std::string path;  // the checkpoint directory
  v1::TableCheckpointHeader header;
  std::vector<v1::CheckpointItem> items;
};

// Table `table` of the newest complete checkpoint under `dir`.
absl::StatusOr<CheckpointedTable> ReadNewestCheckpoint(const std::string& dir,
                                                       absl::string_view table);

// A real shoal-replay started from the test, with both ports.
struct ReplayProcess {
  std::unique_ptr<ChildProcess> process;
  int port = -1;
  int metrics_port = -1;
  std::string address() const;
};

// Runs shoal-replay --config=`config_file` on 127.0.0.1 (a port picked
// here, kept across ChildProcess::Restart), --metrics_port=0, plus `args`;
// logs to `log_file`. Waits for both ports.
absl::StatusOr<ReplayProcess> StartReplayProcess(const std::string& config_file,
                                                 const std::string& log_file,
                                                 std::vector<std::string> args);

}  // namespace fault
}  // namespace shoal

#endif  // SHOAL_TESTS_FAULT_FAULT_CLUSTER_H_
