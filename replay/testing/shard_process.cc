#include "replay/testing/shard_process.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "common/status_macros.h"
#include "common/testing/test_util.h"
#include <signal.h>
#include <unistd.h>

namespace shoal {

absl::StatusOr<std::unique_ptr<ShardProcess>> ShardProcess::Start(
    ShardProcessOptions options) {
  if (options.config_file.empty()) {
    return absl::InvalidArgumentError("ShardProcess: config_file is required");
  }
  if (options.binary.empty()) {
    const char* dir = std::getenv("SHOAL_BINARY_DIR");
    if (dir == nullptr || *dir == '\0') {
      return absl::FailedPreconditionError(
          "ShardProcess: SHOAL_BINARY_DIR is not set (ctest sets it to the "
          "build directory) and no binary was given");
    }
    options.binary = absl::StrCat(dir, "/replay/shoal-replay");
  }
  if (access(options.binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("ShardProcess: ", options.binary,
                     " is not an executable (build the "
                     "shoal-replay target)"));
  }
  if (options.port == 0) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    options.port = *port;
  }
  if (options.log_file.empty()) {
    absl::StatusOr<std::string> dir = MakeTempDir("shoal-shard-");
    if (!dir.ok()) return dir.status();
    options.log_file =
        absl::StrCat(*dir, "/shard-", options.shard_index, ".log");
  }
  std::unique_ptr<ShardProcess> shard(new ShardProcess(std::move(options)));
  ChildProcessOptions child;
  child.name = absl::StrCat("shoal-replay shard ", shard->options_.shard_index);
  child.log_file = shard->options_.log_file;
  child.argv = {
      shard->options_.binary,
      absl::StrCat("--config=", shard->options_.config_file),
      "--host=127.0.0.1",
      absl::StrCat("--port=", shard->options_.port),
      absl::StrCat("--shard_index=", shard->options_.shard_index),
      absl::StrCat("--checkpoint_dir=", shard->options_.checkpoint_dir)};
  child.argv.insert(child.argv.end(), shard->options_.extra_args.begin(),
                    shard->options_.extra_args.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> started =
      ChildProcess::Start(std::move(child));
  if (!started.ok()) return started.status();
  shard->child_ = *std::move(started);
  if (absl::Status listening = shard->AwaitListening(); !listening.ok()) {
    return listening;
  }
  return shard;
}

ShardProcess::~ShardProcess() = default;

std::string ShardProcess::address() const {
  return absl::StrCat("127.0.0.1:", options_.port);
}

absl::Status ShardProcess::AwaitListening() {
  absl::StatusOr<int> port =
      child_->WaitForPort("shoal-replay listening on ", options_.start_timeout);
  if (port.ok() && *port == options_.port) return absl::OkStatus();
  child_->Kill();
  if (!port.ok()) return absl::InternalError(port.status().message());
  return absl::InternalError(absl::StrCat("shoal-replay listens on port ",
                                          *port, ", not ", options_.port,
                                          "; log ", options_.log_file));
}

absl::Status ShardProcess::Kill() {
  child_->Kill();
  return absl::OkStatus();
}

absl::StatusOr<int> ShardProcess::Terminate(absl::Duration timeout) {
  if (!child_->running()) {
    return absl::FailedPreconditionError("ShardProcess: not running");
  }
  child_->Signal(SIGTERM);
  return child_->Wait(absl::Now() + timeout);
}

absl::Status ShardProcess::Restart() {
  if (child_->running()) {
    return absl::FailedPreconditionError(
        "ShardProcess: Restart while running; Kill or Terminate first");
  }
  SHOAL_RETURN_IF_ERROR(child_->Restart());
  return AwaitListening();
}

}  // namespace shoal
