// ShardProcess: runs the real `shoal-replay` binary as a child process, for
// tests (and fault tests) that need to kill and restart a shard.
//
//   ShardProcessOptions options;
//   options.config_file = dir + "/shoal.yaml";
//   options.checkpoint_dir = dir + "/ckpt";
//   SHOAL_ASSIGN_OR_RETURN(auto shard, ShardProcess::Start(options));
//   ... shard->address() ...
//   SHOAL_RETURN_IF_ERROR(shard->Kill());     // SIGKILL
//   SHOAL_RETURN_IF_ERROR(shard->Restart());  // same port, same checkpoints
//
// The binary is `binary`, else $SHOAL_BINARY_DIR/replay/shoal-replay (ctest
// sets SHOAL_BINARY_DIR to the build directory). The port is chosen once
// (bind port 0, close) and passed with --port, so a restart listens on the
// same one. The child's stdout and stderr go to `log_file`; Start waits for
// its "shoal-replay listening on HOST port N" line. The child gets SIGKILL
// when this process dies (PR_SET_PDEATHSIG), so no shard outlives a test;
// the signal follows the THREAD that started it, so start and restart from
// a thread that lives as long as the shard should (a test's main thread).
//
// Thread-compatible: one thread drives a ShardProcess. The destructor kills
// a running child.
#ifndef SHOAL_REPLAY_TESTING_SHARD_PROCESS_H_
#define SHOAL_REPLAY_TESTING_SHARD_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "common/child_process.h"

namespace shoal {

struct ShardProcessOptions {
  // Experiment YAML (--config); required.
  std::string config_file;
  int shard_index = 0;
  // --checkpoint_dir; "" = no checkpoints.
  std::string checkpoint_dir;
  // Port to listen on; 0 = pick a free one once, kept across restarts.
  int port = 0;
  // More flags, e.g. "--checkpoint_every_s=1".
  std::vector<std::string> extra_args;
  // "" = $SHOAL_BINARY_DIR/replay/shoal-replay.
  std::string binary;
  // Child output; "" = a file in a new temporary directory.
  std::string log_file;
  // How long Start/Restart wait for the "listening" line.
  absl::Duration start_timeout = absl::Seconds(30);
};

class ShardProcess {
 public:
  // Starts the child and waits until it listens. FAILED_PRECONDITION when
  // the binary is missing; INTERNAL (with the log's tail) when it exits or
  // stays silent past start_timeout.
  static absl::StatusOr<std::unique_ptr<ShardProcess>> Start(
      ShardProcessOptions options);
  ~ShardProcess();

  ShardProcess(const ShardProcess&) = delete;
  ShardProcess& operator=(const ShardProcess&) = delete;

  int port() const { return options_.port; }
  // "127.0.0.1:<port>".
  std::string address() const;
  // The child's pid; -1 while stopped.
  pid_t pid() const { return child_ != nullptr ? child_->pid() : -1; }
  bool running() const { return child_ != nullptr && child_->running(); }
  const std::string& log_file() const { return options_.log_file; }

  // SIGKILL and reap. OK when not running.
  absl::Status Kill();
  // SIGTERM, then waits up to `timeout` (SIGKILL after it) and returns the
  // exit code (128 + signal when killed). FAILED_PRECONDITION when not
  // running.
  absl::StatusOr<int> Terminate(absl::Duration timeout = absl::Seconds(20));
  // Starts the stopped child again with the same options and port.
  // FAILED_PRECONDITION while running.
  absl::Status Restart();

 private:
  explicit ShardProcess(ShardProcessOptions options)
      : options_(std::move(options)) {}
  // Waits for the listening line of the child just (re)started.
  absl::Status AwaitListening();

  ShardProcessOptions options_;  // port and log_file filled in by Start
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_TESTING_SHARD_PROCESS_H_
