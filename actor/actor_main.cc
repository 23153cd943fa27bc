// shoal-actor: steps a vector of environments with the latest policy and
// streams experience to replay (ActorLoop). Weights come from the learner
// (ParameterWatcher), finished episodes go back to it (EpisodeReporter);
// a learner that is away is retried in the background while the actor acts
// with its initial policy. SIGTERM: stop stepping, flush replay (bounded),
// exit 0.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

#include "actor/actor_loop.h"
#include "actor/actor_runtime.h"
#include "actor/envs/env_registry.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, config, "", "Experiment config (YAML); required.");
ABSL_FLAG(std::string, set, "", "Config overrides, 'key=value;key=value'.");
ABSL_FLAG(int, actor_index, 0, "Index of this actor, in [0, num_actors).");
ABSL_FLAG(int, num_actors, 0, "Actors in the run; 0 = actor.num_actors.");
ABSL_FLAG(std::string, replay, "",
          "Replay shards: 'host:port,host:port' or one DNS name.");
ABSL_FLAG(std::string, learner, "", "LearnerService address.");
ABSL_FLAG(int, num_envs, 0,
          "Environments; 0 = actor.num_envs (eval.episodes with --eval).");
ABSL_FLAG(std::string, host, "0.0.0.0",
          "Address the /metrics server listens on.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; -1 = off.");
ABSL_FLAG(int64_t, max_env_steps, 0, "Env steps to run; 0 = until stopped.");
ABSL_FLAG(int64_t, seed, -1, "Base seed; -1 = the config's seed.");
ABSL_FLAG(bool, eval, false,
          "Evaluate: act greedily in rounds of eval.episodes envs (one "
          "episode each) every eval.every_s; no items.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");

namespace shoal {
namespace {

constexpr char kProgram[] = "shoal-actor";
// How long SIGTERM waits for replay to acknowledge what was sent.
constexpr absl::Duration kFlushTimeout = absl::Seconds(5);
// Time for the stepping thread to notice Stop before the writer is closed
// under it (it may be blocked on a full buffer).
constexpr absl::Duration kStopGrace = absl::Seconds(1);

absl::Status Run() {
  SHOAL_RETURN_IF_ERROR(InitLogging(kProgram, absl::GetFlag(FLAGS_log_level)));
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
  SHOAL_ASSIGN_OR_RETURN(ExperimentConfig config,
                         LoadConfigWithOverrides(absl::GetFlag(FLAGS_config),
                                                 absl::GetFlag(FLAGS_set),
                                                 extra, &BuiltinEnvCatalog()));
  const int index = absl::GetFlag(FLAGS_actor_index);
  if (index < 0 || index >= config.actor.num_actors) {
    return absl::InvalidArgumentError(
        absl::StrCat("--actor_index: must be in [0, ", config.actor.num_actors,
                     ") (actor.num_actors), got ", index));
  }
  const bool eval = absl::GetFlag(FLAGS_eval);
  if (absl::GetFlag(FLAGS_max_env_steps) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_env_steps: must be >= 0, got ",
                     absl::GetFlag(FLAGS_max_env_steps)));
  }
  if (!eval && config.replay.addresses.empty()) {
    return absl::InvalidArgumentError(
        "--replay (replay.addresses): required unless --eval");
  }

  if (eval && absl::GetFlag(FLAGS_num_envs) == 0 && config.eval.episodes > 0) {
    config.actor.num_envs = config.eval.episodes;  // one round = one batch
  }
  SHOAL_RETURN_IF_ERROR(ValidateActorConfig(config));

  std::unique_ptr<MetricsServer> metrics;
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) {
    SHOAL_ASSIGN_OR_RETURN(metrics, MetricsServer::Start(absl::StrCat(
                                        absl::GetFlag(FLAGS_host), ":",
                                        absl::GetFlag(FLAGS_metrics_port))));
  }

  ActorLoopOptions loop_options;
  loop_options.actor_index = index;
  loop_options.num_actors = static_cast<int>(config.actor.num_actors);
  loop_options.eval = eval;
  loop_options.eval_every = absl::Seconds(config.eval.every_s);
  loop_options.max_env_steps = absl::GetFlag(FLAGS_max_env_steps);
  loop_options.registry = metrics ? metrics->registry().get() : nullptr;
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ActorRuntime> actor,
                         ActorRuntime::Start(config, loop_options));
  ActorLoop* loop = actor->loop();
  spdlog::info("actor {} of {}{}: {} envs of {}, replay {}, learner {}", index,
               config.actor.num_actors, eval ? " (eval)" : "",
               config.actor.num_envs, config.env.name,
               eval ? "-" : config.replay.addresses,
               config.learner.address.empty() ? "-" : config.learner.address);
  if (metrics) {
    std::printf("%s metrics on port %d\n", kProgram, metrics->port());
    std::fflush(stdout);
  }

  absl::Status loop_status;
  absl::Notification loop_done;
  std::thread stepping([&] {
    loop_status = loop->Run();
    loop_done.Notify();
  });
  while (!loop_done.HasBeenNotified()) {
    if (WaitForShutdownSignal(absl::Milliseconds(200))) {
      spdlog::info("shutting down: stop stepping, flush replay");
      loop->Stop();
      break;
    }
  }
  if (!eval && !loop_done.WaitForNotificationWithTimeout(kStopGrace)) {
    // Blocked on a full buffer: Close flushes what it can and wakes it.
    actor->CloseWriter(kFlushTimeout);
  }
  stepping.join();
  actor->Finish(kFlushTimeout);
  return loop_status;
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::BlockShutdownSignals();
  shoal::ParseFlags(
      argc, argv,
      "One actor: shoal-actor --config FILE --actor_index I --replay ADDRS "
      "--learner ADDR");
  absl::Status status = shoal::Run();
  if (!status.ok()) shoal::ExitWithError(shoal::kProgram, status);
  return 0;
}
