// shoal-learner: samples from every replay shard, trains, publishes weights.
// Serves LearnerService (weights, episode reports), gRPC health and
// reflection, and Prometheus /metrics. Resumes from the newest complete
// checkpoint in --checkpoint_dir. SIGTERM/SIGINT: stop training,
// checkpoint, exit 0. A failed update (e.g. a NaN loss) exits non-zero
// without publishing the bad weights.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "common/logging.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "learner/learner_runtime.h"

ABSL_FLAG(std::string, config, "", "Experiment config (YAML); required.");
ABSL_FLAG(std::string, set, "", "Config overrides, 'key=value;key=value'.");
ABSL_FLAG(std::string, replay, "",
          "Replay shards: 'host:port,host:port' or one DNS name "
          "(overrides replay.addresses).");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 0, "LearnerService port; 0 picks a free one.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; -1 = off.");
ABSL_FLAG(std::string, logdir, "", "TensorBoard event files and CSV.");
ABSL_FLAG(std::string, checkpoint_dir, "", "Checkpoint directory.");
ABSL_FLAG(int, checkpoint_every_s, -1,
          "Seconds between checkpoints; -1 = learner.checkpoint_every_s.");
ABSL_FLAG(std::string, device, "",
          "auto, cpu or cuda (overrides learner.device).");
ABSL_FLAG(int64_t, max_steps, -1, "Learner steps; -1 = learner.max_steps.");
ABSL_FLAG(int, log_every_s, 10, "Seconds between scalar log lines.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");

namespace shoal {
namespace {

constexpr char kProgram[] = "shoal-learner";

absl::Status Run() {
  SHOAL_RETURN_IF_ERROR(InitLogging(kProgram, absl::GetFlag(FLAGS_log_level)));
  ConfigOverrides extra;
  if (!absl::GetFlag(FLAGS_replay).empty()) {
    extra.emplace_back("replay.addresses", absl::GetFlag(FLAGS_replay));
  }
  if (!absl::GetFlag(FLAGS_device).empty()) {
    extra.emplace_back("learner.device", absl::GetFlag(FLAGS_device));
  }
  if (absl::GetFlag(FLAGS_max_steps) >= 0) {
    extra.emplace_back("learner.max_steps",
                       absl::StrCat(absl::GetFlag(FLAGS_max_steps)));
  }
  if (absl::GetFlag(FLAGS_checkpoint_every_s) >= 0) {
    extra.emplace_back("learner.checkpoint_every_s",
                       absl::StrCat(absl::GetFlag(FLAGS_checkpoint_every_s)));
  }
  SHOAL_ASSIGN_OR_RETURN(
      ExperimentConfig config,
      LoadConfigWithOverrides(absl::GetFlag(FLAGS_config),
                              absl::GetFlag(FLAGS_set), extra));
  if (config.replay.addresses.empty()) {
    return absl::InvalidArgumentError(
        "no replay shards: set --replay or replay.addresses");
  }
  std::unique_ptr<MetricsServer> metrics_server;
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) {
    SHOAL_ASSIGN_OR_RETURN(
        metrics_server,
        MetricsServer::Start(absl::StrCat(absl::GetFlag(FLAGS_host), ":",
                                          absl::GetFlag(FLAGS_metrics_port))));
  }
  LearnerRuntimeOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.logdir = absl::GetFlag(FLAGS_logdir);
  options.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
  options.log_every = absl::Seconds(absl::GetFlag(FLAGS_log_every_s));
  if (metrics_server) options.registry = metrics_server->registry();
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<LearnerRuntime> learner,
                         LearnerRuntime::Start(config, std::move(options)));
  // One line each that scripts and shoalctl read.
  std::printf("%s listening on %s port %d\n", kProgram,
              absl::GetFlag(FLAGS_host).c_str(), learner->port());
  if (metrics_server) {
    std::printf("%s metrics on port %d\n", kProgram, metrics_server->port());
  }
  std::fflush(stdout);

  Trainer* trainer = learner->trainer();
  std::atomic<bool> done{false};
  absl::Status result;
  std::thread train_thread([&] {
    result = trainer->Run();
    done.store(true);
  });
  while (!done.load()) {
    if (WaitForShutdownSignal(absl::Milliseconds(200))) {
      spdlog::info("shutting down: checkpointing");
      trainer->Stop();
      break;
    }
  }
  train_thread.join();
  learner->Shutdown();
  if (!result.ok()) {
    spdlog::error("training stopped at step {}: {}", trainer->step(),
                  result.ToString());
    return result;
  }
  spdlog::info("stopped at step {}, version {}", trainer->step(),
               trainer->version());
  return absl::OkStatus();
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::BlockShutdownSignals();
  shoal::ParseFlags(
      argc, argv,
      "The learner: shoal-learner --config FILE --replay ADDRS [--port 0]");
  absl::Status status = shoal::Run();
  if (!status.ok()) shoal::ExitWithError(shoal::kProgram, status);
  return 0;
}
