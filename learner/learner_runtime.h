// LearnerRuntime: everything a learner process runs, built from an
// experiment config: the device, the algorithm (restored from the newest
// complete checkpoint when there is one), the ParameterStore with the
// LearnerService serving it (gRPC, with the config's TLS and tokens), the
// sharded sampler over config.replay.addresses, the batch pipeline and the
// Trainer, which has published its first version when Start returns.
// shoal-learner drives trainer()->Run() on a thread; the synchronous
// baseline (sync/) drives trainer()->TrainStep() between env steps.
//
//   SHOAL_ASSIGN_OR_RETURN(auto learner, LearnerRuntime::Start(config,
//   options)); std::printf("... listening on %s port %d\n", host,
//   learner->port()); SHOAL_RETURN_IF_ERROR(learner->trainer()->Run());
//   learner->Shutdown();
//
// Thread-compatible; the trainer and served parts are as documented there.
#ifndef SHOAL_LEARNER_LEARNER_RUNTIME_H_
#define SHOAL_LEARNER_LEARNER_RUNTIME_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"

#include "common/config.h"
#include "common/grpc_server.h"
#include "learner/batch_pipeline.h"
#include "learner/episode_stats.h"
#include "learner/learner_checkpoint.h"
#include "learner/learner_service.h"
#include "learner/parameter_store.h"
#include "learner/trainer.h"
#include "replay/client/sharded_sampler.h"

namespace shoal {

struct LearnerRuntimeOptions {
  // Where LearnerService listens; port 0 picks a free one.
  std::string host = "0.0.0.0";
  int port = 0;
  // TensorBoard files and scalars.csv; "" = none.
  std::string logdir;
  // Resume from and write checkpoints here; "" = none.
  std::string checkpoint_dir;
  absl::Duration log_every = absl::Seconds(10);
  // Prometheus gauges go here; null = none.
  std::shared_ptr<prometheus::Registry> registry;
};

class LearnerRuntime {
 public:
  // INVALID_ARGUMENT without replay addresses; FAILED_PRECONDITION for
  // learner.device cuda without CUDA; the parts' errors otherwise.
  static absl::StatusOr<std::unique_ptr<LearnerRuntime>> Start(
      const ExperimentConfig& config, LearnerRuntimeOptions options);
  ~LearnerRuntime();

  LearnerRuntime(const LearnerRuntime&) = delete;
  LearnerRuntime& operator=(const LearnerRuntime&) = delete;

  // The LearnerService port.
  int port() const { return server_->port(); }
  Trainer* trainer() { return trainer_.get(); }
  const torch::Device& device() const { return device_; }

  // Stops serving and sampling. Call after training ended. Idempotent.
  void Shutdown();

 private:
  LearnerRuntime() = default;

  torch::Device device_ = torch::kCPU;
  // Declared in dependency order: destroyed trainer first, store last.
  std::unique_ptr<ParameterStore> store_;
  std::unique_ptr<EpisodeStats> episodes_;
  std::unique_ptr<LearnerServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<LearnerCheckpointer> checkpointer_;
  std::unique_ptr<ShardedSampler> sampler_;
  std::unique_ptr<BatchPipeline> pipeline_;
  std::unique_ptr<Trainer> trainer_;
  bool shut_down_ = false;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_LEARNER_RUNTIME_H_
