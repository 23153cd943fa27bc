// shoal-learner: samples from every replay shard, trains, publishes weights.
// This build validates its flags and experiment config; training arrives
// with the learner issue.
#include <string>

#include "absl/flags/flag.h"

#include "common/process.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, config, "", "Experiment config (YAML); required.");
ABSL_FLAG(std::string, set, "", "Config overrides, 'key=value;key=value'.");
ABSL_FLAG(std::string, replay, "",
          "Replay shards: 'host:port,host:port' or one DNS name "
          "(overrides replay.addresses).");
ABSL_FLAG(int, port, 0, "LearnerService port; 0 picks a free one.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; -1 = off.");
ABSL_FLAG(std::string, logdir, "", "TensorBoard event files and CSV.");
ABSL_FLAG(std::string, checkpoint_dir, "", "Checkpoint directory.");
ABSL_FLAG(int, checkpoint_every_s, -1,
          "Seconds between checkpoints; -1 = learner.checkpoint_every_s.");
ABSL_FLAG(std::string, device, "",
          "auto, cpu or cuda (overrides learner.device).");
ABSL_FLAG(int64_t, max_steps, -1, "Learner steps; -1 = learner.max_steps.");

namespace shoal {
namespace {

constexpr char kProgram[] = "shoal-learner";

absl::Status Run() {
  ConfigOverrides extra;
  if (!absl::GetFlag(FLAGS_replay).empty()) {
    extra.emplace_back("replay.addresses", absl::GetFlag(FLAGS_replay));
  }
  if (!absl::GetFlag(FLAGS_device).empty()) {
    extra.emplace_back("learner.device", absl::GetFlag(FLAGS_device));
  }
  SHOAL_ASSIGN_OR_RETURN(
      ExperimentConfig config,
      LoadConfigWithOverrides(absl::GetFlag(FLAGS_config),
                              absl::GetFlag(FLAGS_set), extra));
  (void)config;
  return absl::UnimplementedError(
      "the config is valid; training is not built yet (learner issue)");
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::ParseFlags(
      argc, argv,
      "The learner: shoal-learner --config FILE --replay ADDRS [--port 0]");
  absl::Status status = shoal::Run();
  if (!status.ok()) shoal::ExitWithError(shoal::kProgram, status);
  return 0;
}
