#include "learner/learner_runtime.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "torch/cuda.h"

#include "common/env_spec.h"
#include "common/grpc_channel.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/torch/networks.h"

namespace shoal {
namespace {

// Episode returns averaged for the logs.
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

}  // namespace

absl::StatusOr<std::unique_ptr<LearnerRuntime>> LearnerRuntime::Start(
    const ExperimentConfig& config, LearnerRuntimeOptions options) {
  if (config.replay.addresses.empty()) {
    return absl::InvalidArgumentError(
        "no replay shards: set --replay or replay.addresses");
  }
  std::unique_ptr<LearnerRuntime> r(new LearnerRuntime());
  SHOAL_ASSIGN_OR_RETURN(r->device_, PickDevice(config.learner.device));
  SetIntraOpThreads(static_cast<int>(config.learner.num_threads));
  // The networks' sizes come from the sampled table's signature: the
  // learner never builds (or dials) an env.
  const TableConfig* table = config.FindTable(config.learner.table);
  if (table == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("learner.table: no table named ", config.learner.table));
  }
  SHOAL_ASSIGN_OR_RETURN(EnvShape shape,
                         EnvShapeFromSignature(*table, config.algorithm.name));
  SHOAL_ASSIGN_OR_RETURN(std::vector<PipelineColumn> columns,
                         LearnerColumns(config, shape));
  const torch::Device device = r->device_;
  const AlgorithmFactory make_algorithm = [&config, &shape, device] {
    return MakeAlgorithm(config, shape, device);
  };

  // Resume from the newest complete checkpoint.
  std::unique_ptr<Algorithm> algorithm;
  int64_t version = 0;
  if (!options.checkpoint_dir.empty()) {
    SHOAL_ASSIGN_OR_RETURN(r->checkpointer_, LearnerCheckpointer::Create(
                                                 {options.checkpoint_dir, 2}));
    SHOAL_ASSIGN_OR_RETURN(
        std::optional<LearnerCheckpointState> restored,
        r->checkpointer_->Restore(make_algorithm, &algorithm));
    if (restored.has_value()) {
      version = restored->version;
      spdlog::info("restored {} (step {}, version {})", restored->path,
                   restored->step, restored->version);
    }
  }
  if (algorithm == nullptr) {
    SHOAL_ASSIGN_OR_RETURN(algorithm, make_algorithm());
  }

  SHOAL_ASSIGN_OR_RETURN(r->store_, ParameterStore::Create({}));
  // Room for every configured actor index (evaluation actors reuse them),
  // and no less than the default; indices above kMaxActorIndex are refused.
  const int num_actors = static_cast<int>(
      std::min<int64_t>(config.actor.num_actors, int64_t{kMaxActorIndex} + 1));
  r->episodes_ = std::make_unique<EpisodeStats>(
      kEpisodeWindow, std::max(EpisodeStats::kDefaultMaxActors, num_actors));
  LearnerServiceOptions service_options;
  // One stream per actor, evaluation actors and a restart's overlap with
  // the stream it replaces included.
  service_options.max_watchers =
      std::max(service_options.max_watchers, 2 * num_actors);
  r->service_ = std::make_unique<LearnerServiceImpl>(
      r->store_.get(), r->episodes_.get(), service_options);
  ServerOptions server;
  server.address = absl::StrCat(options.host, ":", options.port);
  server.tls = {config.security.tls_cert, config.security.tls_key,
                config.security.tls_ca};
  server.tokens_file = config.security.tokens_file;
  server.method_roles = ShoalMethodRoles();
  SHOAL_ASSIGN_OR_RETURN(r->server_,
                         GrpcServer::Start(server, {r->service_.get()}));

  ShardedSamplerOptions sampler;
  sampler.addresses = config.replay.addresses;
  sampler.table = config.learner.table;
  sampler.seed = static_cast<uint64_t>(config.seed) + 1;
  sampler.channel = ChannelOptionsFromConfig(config, "");
  SHOAL_ASSIGN_OR_RETURN(r->sampler_, ShardedSampler::Create(sampler));
  const bool prioritized = table->sampler.kind == SelectorKind::kPrioritized;
  BatchPipelineOptions pipeline;
  pipeline.table = config.learner.table;
  pipeline.batch_size = static_cast<int>(config.algorithm.batch_size);
  pipeline.prefetch_batches = static_cast<int>(config.learner.prefetch_batches);
  pipeline.columns = std::move(columns);
  pipeline.prioritized = prioritized;
  pipeline.importance = config.algorithm.dqn;
  pipeline.pin_memory = device.is_cuda();
  SHOAL_ASSIGN_OR_RETURN(
      r->pipeline_,
      BatchPipeline::Create(r->sampler_.get(), std::move(pipeline)));

  TrainerOptions trainer;
  trainer.max_steps = config.learner.max_steps;
  trainer.publish_every_steps = config.learner.publish_every_steps;
  trainer.log_every = options.log_every;
  trainer.checkpoint_every = absl::Seconds(config.learner.checkpoint_every_s);
  trainer.device = device;
  trainer.prioritized = prioritized;
  trainer.logdir = options.logdir;
  trainer.registry = options.registry;
  SHOAL_ASSIGN_OR_RETURN(
      r->trainer_,
      Trainer::Create(trainer, std::move(algorithm), r->pipeline_.get(),
                      r->store_.get(), r->episodes_.get(),
                      r->checkpointer_.get(), version));
  SHOAL_RETURN_IF_ERROR(r->trainer_->Publish());
  spdlog::info("training {} on {} from step {}, published version {}",
               std::string(EnumName(config.algorithm.name)), device.str(),
               r->trainer_->step(), r->trainer_->version());
  return r;
}

LearnerRuntime::~LearnerRuntime() { Shutdown(); }

void LearnerRuntime::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ != nullptr) server_->SetServing(false);
  if (pipeline_ != nullptr) pipeline_->Stop();
  if (server_ != nullptr) server_->Shutdown(absl::Now() + absl::Seconds(1));
}

}  // namespace shoal
