#include "learner/batch_pipeline.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "learner/learner_testing.h"

namespace shoal {
namespace {

using testing::CartPoleDqnConfig;
using testing::CartPoleTransitions;
using ::testing::HasSubstr;
using testing::StartShardWithItems;

EnvShape CartPoleShape() {
  EnvShape shape;
  shape.observation_size = 4;
  shape.discrete = true;
  shape.num_actions = 2;
  return shape;
}

std::unique_ptr<ShardedSampler> MakeSampler(const LocalShard& shard) {
  ShardedSamplerOptions options;
  options.addresses = shard.address();
  options.table = "transitions";
  options.seed = 7;
  absl::StatusOr<std::unique_ptr<ShardedSampler>> sampler =
      ShardedSampler::Create(options);
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  return *std::move(sampler);
}

BatchPipelineOptions MakeOptions(const ExperimentConfig& config) {
  BatchPipelineOptions options;
  options.table = config.learner.table;
  options.batch_size = static_cast<int>(config.algorithm.batch_size);
  options.prefetch_batches = static_cast<int>(config.learner.prefetch_batches);
  absl::StatusOr<std::vector<PipelineColumn>> columns =
      LearnerColumns(config, CartPoleShape());
  EXPECT_TRUE(columns.ok()) << columns.status();
  if (columns.ok()) options.columns = *columns;
  options.prioritized =
      config.tables[0].sampler.kind == SelectorKind::kPrioritized;
  options.importance = config.algorithm.dqn;
  return options;
}

TEST(BatchPipelineTest, BatchesHaveTheAlgorithmsShapesAndDtypes) {
  const ExperimentConfig config = CartPoleDqnConfig();
  auto shard = StartShardWithItems(
      config, CartPoleTransitions(/*n=*/500, /*seed=*/1, /*policy_version=*/3));
  ASSERT_TRUE(shard.ok()) << shard.status();
  std::unique_ptr<ShardedSampler> sampler = MakeSampler(**shard);
  auto pipeline = BatchPipeline::Create(sampler.get(), MakeOptions(config));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();

  for (int i = 0; i < 5; ++i) {
    auto batch = (*pipeline)->Next(absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(batch.ok()) << batch.status();
    const auto& columns = (*batch)->batch.columns;
    ASSERT_EQ(columns.size(), 5u);
    EXPECT_EQ(columns.at("observation").sizes(), torch::IntArrayRef({32, 4}));
    EXPECT_EQ(columns.at("observation").dtype(), torch::kFloat32);
    EXPECT_EQ(columns.at("action").sizes(), torch::IntArrayRef({32}));
    EXPECT_EQ(columns.at("action").dtype(), torch::kInt64);
    EXPECT_EQ(columns.at("reward").sizes(), torch::IntArrayRef({32}));
    EXPECT_EQ(columns.at("discount").sizes(), torch::IntArrayRef({32}));
    EXPECT_EQ(columns.at("next_observation").sizes(),
              torch::IntArrayRef({32, 4}));
    // Random cartpole play: actions 0/1, reward 1 per step.
    EXPECT_TRUE(columns.at("action")
                    .ge(0)
                    .logical_and(columns.at("action").le(1))
                    .all()
                    .item<bool>());
    EXPECT_TRUE(columns.at("reward").eq(1.0f).all().item<bool>());
    EXPECT_GT(columns.at("observation").abs().sum().item<float>(), 0.0f);
    EXPECT_FALSE((*batch)->batch.importance_weights.defined());
    EXPECT_EQ((*batch)->keys.size(), 32u);
    EXPECT_THAT((*batch)->policy_versions, ::testing::Each(3));
    EXPECT_EQ((*batch)->replay_size, 500);
  }
  const BatchPipelineStats stats = (*pipeline)->stats();
  EXPECT_EQ(stats.batches, 5);
  EXPECT_GT(stats.wall_seconds, 0.0);
  EXPECT_GE(stats.data_wait_fraction, 0.0);
  EXPECT_LE(stats.data_wait_fraction, 1.0);
}

TEST(BatchPipelineTest,
     PrioritizedBatchesCarryImportanceWeightsAndSendPriorities) {
  const ExperimentConfig config = CartPoleDqnConfig(/*prioritized=*/true);
  auto shard = StartShardWithItems(config, CartPoleTransitions(300, 2));
  ASSERT_TRUE(shard.ok()) << shard.status();
  std::unique_ptr<ShardedSampler> sampler = MakeSampler(**shard);
  auto pipeline = BatchPipeline::Create(sampler.get(), MakeOptions(config));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();

  auto batch = (*pipeline)->Next(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(batch.ok()) << batch.status();
  const torch::Tensor w = (*batch)->batch.importance_weights;
  ASSERT_TRUE(w.defined());
  EXPECT_EQ(w.sizes(), torch::IntArrayRef({32}));
  EXPECT_EQ(w.dtype(), torch::kFloat32);
  EXPECT_FLOAT_EQ(w.max().item<float>(), 1.0f);
  EXPECT_GT(w.min().item<float>(), 0.0f);

  (*pipeline)->UpdatePrioritiesAsync((*batch)->keys,
                                     std::vector<double>(32, 5.0));
  batch->reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*pipeline)->stats().priority_updates < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*pipeline)->stats().priority_updates, 1);
  EXPECT_EQ((*pipeline)->stats().priority_update_errors, 0);
}

TEST(BatchPipelineTest, AColumnOfTheWrongDtypeStopsItWithAnErrorNamingIt) {
  // The shard's table stores float actions; the dqn learner (whose config
  // leaves the signature unchecked) needs int64 ones.
  ExperimentConfig shard_config = CartPoleDqnConfig();
  shard_config.tables[0].signature[1].dtype = v1::DTYPE_FLOAT32;
  std::vector<v1::Item> items = CartPoleTransitions(100, 3);
  for (v1::Item& item : items) {
    *item.mutable_columns(1) = testing::FloatTensor({1.0f}, {});
  }
  auto shard = StartShardWithItems(shard_config, items);
  ASSERT_TRUE(shard.ok()) << shard.status();

  ExperimentConfig learner_config = CartPoleDqnConfig();
  learner_config.tables[0].signature.clear();
  std::unique_ptr<ShardedSampler> sampler = MakeSampler(**shard);
  auto pipeline =
      BatchPipeline::Create(sampler.get(), MakeOptions(learner_config));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  auto batch = (*pipeline)->Next(absl::Now() + absl::Seconds(10));
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(batch.status().message(), HasSubstr("column 'action'"));
  EXPECT_THAT(batch.status().message(), HasSubstr("float32"));
  // It stays stopped.
  EXPECT_FALSE((*pipeline)->Next(absl::Now() + absl::Seconds(1)).ok());
}

TEST(LearnerColumnsTest, ASignatureColumnOfTheWrongShapeIsNamed) {
  ExperimentConfig config = CartPoleDqnConfig();
  config.tables[0].signature[4].shape = {3};
  auto columns = LearnerColumns(config, CartPoleShape());
  ASSERT_FALSE(columns.ok());
  EXPECT_THAT(columns.status().message(),
              HasSubstr("table 'transitions' column 'next_observation'"));
}

TEST(LearnerColumnsTest, FollowsTheSignatureOrder) {
  ExperimentConfig config = CartPoleDqnConfig();
  std::swap(config.tables[0].signature[0], config.tables[0].signature[4]);
  auto columns = LearnerColumns(config, CartPoleShape());
  ASSERT_TRUE(columns.ok()) << columns.status();
  EXPECT_EQ((*columns)[0].name, "observation");
  EXPECT_EQ((*columns)[0].position, 4);
  EXPECT_EQ((*columns)[4].name, "next_observation");
  EXPECT_EQ((*columns)[4].position, 0);
}

TEST(LearnerColumnsTest, ImpalaReadsUnrollsWithTheOptionalMask) {
  ExperimentConfig config = CartPoleDqnConfig();
  config.algorithm.name = AlgorithmKind::kImpala;
  config.algorithm.impala.unroll_length = 5;
  config.tables[0].signature.clear();
  auto columns = LearnerColumns(config, CartPoleShape());
  ASSERT_TRUE(columns.ok()) << columns.status();
  ASSERT_EQ(columns->size(), 6u);
  EXPECT_EQ((*columns)[0].shape, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ((*columns)[5].name, "mask");
  EXPECT_EQ((*columns)[5].position, 5);
}

TEST(BatchPipelineTest, ReportsWaitingForAnEmptyReplayAsDataWait) {
  const ExperimentConfig config = CartPoleDqnConfig();
  auto shard = StartShardWithItems(config, {});
  ASSERT_TRUE(shard.ok()) << shard.status();
  std::unique_ptr<ShardedSampler> sampler = MakeSampler(**shard);
  auto pipeline = BatchPipeline::Create(sampler.get(), MakeOptions(config));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  auto batch = (*pipeline)->Next(absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kDeadlineExceeded);
  const BatchPipelineStats stats = (*pipeline)->stats();
  EXPECT_GT(stats.data_wait_fraction, 0.9);
  EXPECT_GE(stats.wait_seconds, 0.29);
}

}  // namespace
}  // namespace shoal
