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
#include "torch/cuda.h"

#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "common/torch/networks.h"
#include "learner/batch_pipeline.h"
#include "learner/env_shape.h"
#include "learner/episode_stats.h"
#include "learner/learner_checkpoint.h"
#include "learner/learner_service.h"
#include "learner/parameter_store.h"
#include "learner/trainer.h"
#include "replay/client/sharded_sampler.h"

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
constexpr int kEpisodeWindow = 100;

absl::StatusOr<torch::Device> PickDevice(DeviceKind kind) {
  const bool cuda = torch::cuda::is_available();
  if (kind == DeviceKind::kCuda && !cuda) {
    return absl::FailedPreconditionError(
        "learner.device is cuda, but no CUDA device is available");
  }
  if (kind == DeviceKind::kCpu || !cuda) return torch::Device(torch::kCPU);
  return torch::Device(torch::kCUDA);
}

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
  SHOAL_ASSIGN_OR_RETURN(torch::Device device,
                         PickDevice(config.learner.device));
  SetIntraOpThreads(static_cast<int>(config.learner.num_threads));
  SHOAL_ASSIGN_OR_RETURN(EnvShape shape, EnvShapeFromConfig(config));
  SHOAL_ASSIGN_OR_RETURN(std::vector<PipelineColumn> columns,
                         LearnerColumns(config, shape));
  const AlgorithmFactory make_algorithm = [&config, &shape, device] {
    return MakeAlgorithm(config, shape, device);
  };

  // Resume from the newest complete checkpoint.
  std::unique_ptr<LearnerCheckpointer> checkpointer;
  std::unique_ptr<Algorithm> algorithm;
  int64_t version = 0;
  if (!absl::GetFlag(FLAGS_checkpoint_dir).empty()) {
    SHOAL_ASSIGN_OR_RETURN(
        checkpointer,
        LearnerCheckpointer::Create({absl::GetFlag(FLAGS_checkpoint_dir), 2}));
    SHOAL_ASSIGN_OR_RETURN(std::optional<LearnerCheckpointState> restored,
                           checkpointer->Restore(make_algorithm, &algorithm));
    if (restored.has_value()) {
      version = restored->version;
      spdlog::info("restored {} (step {}, version {})", restored->path,
                   restored->step, restored->version);
    }
  }
  if (algorithm == nullptr) {
    SHOAL_ASSIGN_OR_RETURN(algorithm, make_algorithm());
  }

  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ParameterStore> store,
                         ParameterStore::Create({}));
  EpisodeStats episodes(kEpisodeWindow);
  auto service = std::make_unique<LearnerServiceImpl>(store.get(), &episodes);
  ServerOptions grpc_options;
  grpc_options.address =
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  grpc_options.tls = {config.security.tls_cert, config.security.tls_key,
                      config.security.tls_ca};
  grpc_options.tokens_file = config.security.tokens_file;
  grpc_options.method_roles = ShoalMethodRoles();
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<GrpcServer> grpc_server,
                         GrpcServer::Start(grpc_options, {service.get()}));
  // One line each that scripts and shoalctl read.
  std::printf("%s listening on %s port %d\n", kProgram,
              absl::GetFlag(FLAGS_host).c_str(), grpc_server->port());
  if (metrics_server) {
    std::printf("%s metrics on port %d\n", kProgram, metrics_server->port());
  }
  std::fflush(stdout);

  ShardedSamplerOptions sampler_options;
  sampler_options.addresses = config.replay.addresses;
  sampler_options.table = config.learner.table;
  sampler_options.seed = static_cast<uint64_t>(config.seed) + 1;
  sampler_options.channel.tls.ca_file = config.security.tls_ca;
  if (!config.security.tls_ca.empty()) {
    sampler_options.channel.tls.cert_file = config.security.tls_cert;
    sampler_options.channel.tls.key_file = config.security.tls_key;
  }
  sampler_options.channel.token_file = config.security.token_file;
  sampler_options.channel.max_receive_message_bytes =
      config.replay.max_message_bytes;
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ShardedSampler> sampler,
                         ShardedSampler::Create(sampler_options));
  const TableConfig* table = config.FindTable(config.learner.table);
  BatchPipelineOptions pipeline_options;
  pipeline_options.table = config.learner.table;
  pipeline_options.batch_size = static_cast<int>(config.algorithm.batch_size);
  pipeline_options.prefetch_batches =
      static_cast<int>(config.learner.prefetch_batches);
  pipeline_options.columns = std::move(columns);
  pipeline_options.prioritized =
      table->sampler.kind == SelectorKind::kPrioritized;
  pipeline_options.importance = config.algorithm.dqn;
  pipeline_options.pin_memory = device.is_cuda();
  SHOAL_ASSIGN_OR_RETURN(
      std::unique_ptr<BatchPipeline> pipeline,
      BatchPipeline::Create(sampler.get(), std::move(pipeline_options)));

  TrainerOptions trainer_options;
  trainer_options.max_steps = config.learner.max_steps;
  trainer_options.publish_every_steps = config.learner.publish_every_steps;
  trainer_options.log_every = absl::Seconds(absl::GetFlag(FLAGS_log_every_s));
  trainer_options.checkpoint_every =
      absl::Seconds(config.learner.checkpoint_every_s);
  trainer_options.device = device;
  trainer_options.prioritized =
      table->sampler.kind == SelectorKind::kPrioritized;
  trainer_options.logdir = absl::GetFlag(FLAGS_logdir);
  if (metrics_server) trainer_options.registry = metrics_server->registry();
  SHOAL_ASSIGN_OR_RETURN(
      std::unique_ptr<Trainer> trainer,
      Trainer::Create(trainer_options, std::move(algorithm), pipeline.get(),
                      store.get(), &episodes, checkpointer.get(), version));
  SHOAL_RETURN_IF_ERROR(trainer->Publish());
  spdlog::info("training {} on {} from step {}, published version {}",
               std::string(EnumName(config.algorithm.name)), device.str(),
               trainer->step(), trainer->version());

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
  grpc_server->SetServing(false);
  pipeline->Stop();
  grpc_server->Shutdown(absl::Now() + absl::Seconds(1));
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
