// shoal-sync: the synchronous baseline in one process. An in-process replay
// shard, the learner (LearnerService, trainer) and one actor loop; one
// thread alternates env steps and the updates the update-to-data ratio
// asks for (SyncLoop). Serves LearnerService (an evaluation actor reads its
// weights) and /metrics with the actor's and the learner's metric names,
// so `shoalctl run --sync` watches it like the asynchronous cluster.
// SIGTERM/SIGINT: stop, publish, checkpoint, exit 0.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "actor/actor_runtime.h"
#include "actor/envs/env_registry.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "learner/learner_runtime.h"
#include "replay/local_shard.h"
#include "sync/sync_loop.h"

ABSL_FLAG(std::string, config, "", "Experiment config (YAML); required.");
ABSL_FLAG(std::string, set, "", "Config overrides, 'key=value;key=value'.");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 0, "LearnerService port; 0 picks a free one.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; -1 = off.");
ABSL_FLAG(std::string, logdir, "", "TensorBoard event files and CSV.");
ABSL_FLAG(std::string, checkpoint_dir, "", "Learner checkpoint directory.");
ABSL_FLAG(int, log_every_s, 10, "Seconds between scalar log lines.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");

namespace shoal {
namespace {

constexpr char kProgram[] = "shoal-sync";
constexpr absl::Duration kFlushTimeout = absl::Seconds(5);

absl::Status Run() {
  SHOAL_RETURN_IF_ERROR(InitLogging(kProgram, absl::GetFlag(FLAGS_log_level)));
  SHOAL_ASSIGN_OR_RETURN(
      ExperimentConfig loaded,
      LoadConfigWithOverrides(absl::GetFlag(FLAGS_config),
                              absl::GetFlag(FLAGS_set),
                              /*extra=*/{}, &BuiltinEnvCatalog()));
  // The ratio of the configured rate limiter, which SyncConfig replaces.
  const double updates_per_item = UpdatesPerItem(loaded);
  ExperimentConfig config = SyncConfig(std::move(loaded));
  SHOAL_RETURN_IF_ERROR(ValidateActorConfig(config));

  // Replay, in this process, on loopback.
  ReplayServerOptions replay;
  for (const TableConfig& table : config.tables) {
    replay.tables.push_back(TableOptionsFromConfig(table, /*shard=*/0));
  }
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<LocalShard> shard,
                         LocalShard::Start(std::move(replay)));
  config.replay.shards = 1;
  config.replay.addresses = shard->address();
  spdlog::info("replay shard (in this process) on {}", shard->address());

  std::unique_ptr<MetricsServer> metrics;
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) {
    SHOAL_ASSIGN_OR_RETURN(metrics, MetricsServer::Start(absl::StrCat(
                                        absl::GetFlag(FLAGS_host), ":",
                                        absl::GetFlag(FLAGS_metrics_port))));
  }
  LearnerRuntimeOptions learner_options;
  learner_options.host = absl::GetFlag(FLAGS_host);
  learner_options.port = absl::GetFlag(FLAGS_port);
  learner_options.logdir = absl::GetFlag(FLAGS_logdir);
  learner_options.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
  learner_options.log_every = absl::Seconds(absl::GetFlag(FLAGS_log_every_s));
  if (metrics) learner_options.registry = metrics->registry();
  SHOAL_ASSIGN_OR_RETURN(
      std::unique_ptr<LearnerRuntime> learner,
      LearnerRuntime::Start(config, std::move(learner_options)));
  config.learner.address = absl::StrCat("127.0.0.1:", learner->port());

  ActorLoopOptions loop_options;
  loop_options.registry = metrics ? metrics->registry().get() : nullptr;
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ActorRuntime> actor,
                         ActorRuntime::Start(config, loop_options));

  // One line each that scripts and shoalctl read.
  std::printf("%s listening on %s port %d\n", kProgram,
              absl::GetFlag(FLAGS_host).c_str(), learner->port());
  if (metrics)
    std::printf("%s metrics on port %d\n", kProgram, metrics->port());
  std::fflush(stdout);

  SyncLoopOptions sync;
  sync.updates_per_item = updates_per_item;
  sync.min_size_to_sample =
      config.FindTable(config.actor.table)->rate_limiter.min_size_to_sample;
  spdlog::info("synchronous loop: {} envs, {:.4f} updates per item",
               config.actor.num_envs, sync.updates_per_item);
  std::atomic<bool> stop{false};
  std::thread signals([&stop] {
    while (!stop.load() && !WaitForShutdownSignal(absl::Milliseconds(200))) {
    }
    stop.store(true);
  });
  absl::Status status =
      RunSyncLoop(*actor->loop(), *learner->trainer(),
                  *shard->table(config.actor.table), sync, &stop);
  stop.store(true);
  signals.join();
  actor->Finish(kFlushTimeout);
  learner->Shutdown();
  shard->Stop();
  if (!status.ok()) return status;
  spdlog::info("stopped at learner step {}, env steps {}",
               learner->trainer()->step(), actor->loop()->stats().env_steps);
  return absl::OkStatus();
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::BlockShutdownSignals();
  shoal::ParseFlags(argc, argv,
                    "The synchronous baseline: shoal-sync --config FILE "
                    "[--port 0] [--metrics_port -1]");
  absl::Status status = shoal::Run();
  if (!status.ok()) shoal::ExitWithError(shoal::kProgram, status);
  return 0;
}
