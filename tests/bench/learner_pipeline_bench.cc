// Measures the learner's train loop fed by its real sampling pipeline: a
// replay shard in this process (LocalShard on loopback) holds 20000
// cartpole transitions; a ShardedSampler and BatchPipeline (prefetch 4)
// feed a Trainer running DQN on the CPU with one intra-op thread. For two
// sizes, 2x256 MLP with batch 256 (the defaults) and 2x32 with batch 32
// (tiny updates, the pipeline's worst case), prints per line
//   {"bench": "learner_pipeline", "hidden": 256, "batch_size": 256,
//    "updates_per_s": ..., "bare_updates_per_s": ...,
//    "data_wait_fraction": ..., "goal": 0.05}
// where bare_updates_per_s is Update on one fixed batch (no sampling) and
// data_wait_fraction is the share of the trainer's wall time spent
// waiting for a batch. Runs for ~15 s.
#include <cstdio>
#include <memory>
#include <tuple>
#include <vector>

#include "absl/time/clock.h"
#include "torch/torch.h"

#include "common/logging.h"
#include "common/torch/networks.h"
#include "learner/batch_pipeline.h"
#include "learner/learner_testing.h"
#include "learner/parameter_store.h"
#include "learner/trainer.h"

namespace shoal {
namespace {

constexpr double kGoal = 0.05;
constexpr absl::Duration kBareTime = absl::Seconds(2);

EnvShape CartPoleShape() {
  EnvShape shape;
  shape.observation_size = 4;
  shape.discrete = true;
  shape.num_actions = 2;
  return shape;
}

absl::Status RunOne(const std::vector<v1::Item>& items, int64_t hidden,
                    int64_t batch_size, int64_t steps) {
  ExperimentConfig config = testing::CartPoleDqnConfig();
  config.network.hidden = {hidden, hidden};
  config.algorithm.batch_size = batch_size;
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<LocalShard> shard,
                         testing::StartShardWithItems(config, items));
  ShardedSamplerOptions sampler_options;
  sampler_options.addresses = shard->address();
  sampler_options.table = "transitions";
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ShardedSampler> sampler,
                         ShardedSampler::Create(sampler_options));
  BatchPipelineOptions options;
  options.table = "transitions";
  options.batch_size = static_cast<int>(batch_size);
  options.prefetch_batches = static_cast<int>(config.learner.prefetch_batches);
  SHOAL_ASSIGN_OR_RETURN(options.columns,
                         LearnerColumns(config, CartPoleShape()));
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<BatchPipeline> pipeline,
                         BatchPipeline::Create(sampler.get(), options));
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ParameterStore> store,
                         ParameterStore::Create({}));

  // Bare updates on one batch from the pipeline.
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Algorithm> bare,
                         MakeAlgorithm(config, CartPoleShape(), torch::kCPU));
  double bare_rate = 0.0;
  {
    SHOAL_ASSIGN_OR_RETURN(BatchPipeline::Lease lease,
                           pipeline->Next(absl::Now() + absl::Seconds(10)));
    const absl::Time start = absl::Now();
    int64_t n = 0;
    while (absl::Now() - start < kBareTime) {
      SHOAL_RETURN_IF_ERROR(bare->Update(lease->batch).status());
      ++n;
    }
    bare_rate = n / absl::ToDoubleSeconds(absl::Now() - start);
  }

  TrainerOptions trainer_options;
  trainer_options.max_steps = steps;
  trainer_options.publish_every_steps = config.learner.publish_every_steps;
  trainer_options.log_every = absl::Hours(1);
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Algorithm> algorithm,
                         MakeAlgorithm(config, CartPoleShape(), torch::kCPU));
  SHOAL_ASSIGN_OR_RETURN(
      std::unique_ptr<Trainer> trainer,
      Trainer::Create(trainer_options, std::move(algorithm), pipeline.get(),
                      store.get(), nullptr, nullptr, /*version=*/0));
  SHOAL_RETURN_IF_ERROR(trainer->Publish());
  SHOAL_RETURN_IF_ERROR(trainer->Run());
  const TrainerStats& stats = trainer->stats();
  std::printf(
      "{\"bench\": \"learner_pipeline\", \"hidden\": %lld, \"batch_size\": "
      "%lld, \"steps\": %lld, \"updates_per_s\": %.1f, "
      "\"bare_updates_per_s\": %.1f, \"data_wait_fraction\": %.4f, "
      "\"goal\": %.2f}\n",
      static_cast<long long>(hidden), static_cast<long long>(batch_size),
      static_cast<long long>(stats.steps), stats.updates_per_second, bare_rate,
      stats.data_wait_fraction, kGoal);
  std::fflush(stdout);
  return absl::OkStatus();
}

int Main() {
  SetIntraOpThreads(1);
  spdlog::set_level(spdlog::level::warn);
  const std::vector<v1::Item> items =
      testing::CartPoleTransitions(/*n=*/20000, /*seed=*/1);
  for (auto [hidden, batch, steps] :
       {std::tuple<int64_t, int64_t, int64_t>{256, 256, 600},
        std::tuple<int64_t, int64_t, int64_t>{32, 32, 3000}}) {
    absl::Status status = RunOne(items, hidden, batch, steps);
    if (!status.ok()) {
      std::fprintf(stderr, "learner_pipeline_bench: %s\n",
                   status.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace shoal

int main() { return shoal::Main(); }
