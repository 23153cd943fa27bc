// shoal-actor: steps a vector of environments with the latest policy and
// streams experience to replay. This build validates its flags and
// experiment config; acting arrives with the actor issue.
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

#include "common/process.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, config, "", "Experiment config (YAML); required.");
ABSL_FLAG(std::string, set, "", "Config overrides, 'key=value;key=value'.");
ABSL_FLAG(int, actor_index, 0, "Index of this actor, in [0, num_actors).");
ABSL_FLAG(int, num_actors, 0, "Actors in the run; 0 = actor.num_actors.");
ABSL_FLAG(std::string, replay, "",
          "Replay shards: 'host:port,host:port' or one DNS name.");
ABSL_FLAG(std::string, learner, "", "LearnerService address.");
ABSL_FLAG(int, num_envs, 0, "Environments; 0 = actor.num_envs.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; -1 = off.");
ABSL_FLAG(int64_t, max_env_steps, 0, "Env steps to run; 0 = until stopped.");
ABSL_FLAG(int64_t, seed, -1, "Base seed; -1 = the config's seed.");
ABSL_FLAG(bool, eval, false, "Act greedily and only report episodes.");

namespace shoal {
namespace {

constexpr char kProgram[] = "shoal-actor";

absl::Status Run() {
  ConfigOverrides extra;
  if (!absl::GetFlag(FLAGS_replay).empty()) {
    extra.emplace_back("replay.addresses", absl::GetFlag(FLAGS_replay));
  }
  if (!absl::GetFlag(FLAGS_learner).empty()) {
    extra.emplace_back("learner.address", absl::GetFlag(FLAGS_learner));
  }
  if (absl::GetFlag(FLAGS_num_envs) > 0) {
    extra.emplace_back("actor.num_envs",
                       absl::StrCat(absl::GetFlag(FLAGS_num_envs)));
  }
  if (absl::GetFlag(FLAGS_num_actors) > 0) {
    extra.emplace_back("actor.num_actors",
                       absl::StrCat(absl::GetFlag(FLAGS_num_actors)));
  }
  if (absl::GetFlag(FLAGS_seed) >= 0) {
    extra.emplace_back("seed", absl::StrCat(absl::GetFlag(FLAGS_seed)));
  }
  SHOAL_ASSIGN_OR_RETURN(
      ExperimentConfig config,
      LoadConfigWithOverrides(absl::GetFlag(FLAGS_config),
                              absl::GetFlag(FLAGS_set), extra));
  const int index = absl::GetFlag(FLAGS_actor_index);
  if (index < 0 || index >= config.actor.num_actors) {
    return absl::InvalidArgumentError(
        absl::StrCat("--actor_index: must be in [0, ", config.actor.num_actors,
                     ") (actor.num_actors), got ", index));
  }
  return absl::UnimplementedError(
      "the config is valid; acting is not built yet (actor issue)");
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::ParseFlags(
      argc, argv,
      "One actor: shoal-actor --config FILE --actor_index I --replay ADDRS "
      "--learner ADDR");
  absl::Status status = shoal::Run();
  if (!status.ok()) shoal::ExitWithError(shoal::kProgram, status);
  return 0;
}
