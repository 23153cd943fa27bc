#include "actor/actor_loop.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

#include "replay/local_shard.h"
#include "replay/table.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

// dqn on cartpole, 1-step transitions into "transitions" with its checked
// signature, 4 envs, a small network.
ExperimentConfig MakeConfig() {
  ExperimentConfig config;
  config.experiment = "actor-loop-test";
  config.seed = 5;
  config.algorithm.n_step = 1;
  config.network.hidden = {16, 16};
  TableConfig& table = config.tables[0];
  table.max_size = 1000000;
  table.rate_limiter.min_size_to_sample = 1;
  table.signature = {
      {"observation", v1::DTYPE_FLOAT32, {4}, false, {}, {}},
      {"action", v1::DTYPE_INT64, {}, false, {0}, {1}},
      {"reward", v1::DTYPE_FLOAT32, {}, false, {}, {}},
      {"discount", v1::DTYPE_FLOAT32, {}, false, {}, {}},
      {"next_observation", v1::DTYPE_FLOAT32, {4}, false, {}, {}}};
  config.actor.num_envs = 4;
  return config;
}

// Whether `registry` has a metric family named `name`, of `type` if given.
bool HasFamily(prometheus::Registry& registry, const std::string& name,
               std::optional<prometheus::MetricType> type = std::nullopt) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name == name) return !type.has_value() || family.type == *type;
  }
  return false;
}

TEST(ActorLoopTest, RunsToMaxEnvStepsAndEveryItemReachesTheTable) {
  const ExperimentConfig config = MakeConfig();
  ReplayServerOptions shard_options;
  shard_options.tables = {TableOptionsFromConfig(config.tables[0], 0)};
  auto shard = LocalShard::Start(std::move(shard_options));
  ASSERT_TRUE(shard.ok()) << shard.status();
  ReplayWriterOptions writer_options;
  writer_options.addresses = (*shard)->address();
  auto writer = ReplayWriter::Create(writer_options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  prometheus::Registry registry;
  ActorLoopOptions options;
  options.writer = writer->get();
  options.max_env_steps = 2000;
  options.registry = &registry;
  auto loop = ActorLoop::Create(config, options);
  ASSERT_TRUE(loop.ok()) << loop.status();

  ASSERT_TRUE((*loop)->Run().ok());
  ASSERT_TRUE((*writer)->Flush(absl::Now() + absl::Seconds(10)).ok());
  const ActorLoopStats stats = (*loop)->stats();
  EXPECT_GE(stats.env_steps, 2000);
  EXPECT_LT(stats.env_steps, 2000 + config.actor.num_envs);
  EXPECT_GT(stats.episodes, 0);
  // 1-step transitions: one item per env step.
  EXPECT_EQ(stats.items_appended, stats.env_steps);
  EXPECT_EQ((*writer)->stats().items_acked, stats.items_appended);
  EXPECT_EQ((*shard)->table("transitions")->Info().size(),
            stats.items_appended);
  EXPECT_FALSE(registry.Collect().empty());
  // Monotonic counts are counters named _total (Prometheus's naming
  // practice), whatever keeps the count.
  for (const char* name :
       {"shoal_actor_env_steps_total", "shoal_actor_items_sent_total",
        "shoal_actor_items_acked_total", "shoal_actor_items_resent_total",
        "shoal_actor_replay_reconnects_total",
        "shoal_actor_replay_failovers_total"}) {
    EXPECT_TRUE(HasFamily(registry, name, prometheus::MetricType::Counter))
        << name;
  }
  // A training actor exports no eval_* series (no fake eval return of 0).
  EXPECT_FALSE(HasFamily(registry, "shoal_actor_eval_return"));
  EXPECT_FALSE(HasFamily(registry, "shoal_actor_eval_rounds_total"));
}

TEST(ActorLoopTest, EvalLoopNeedsNoWriterAndCountsEpisodes) {
  ActorLoopOptions options;
  options.eval = true;
  options.max_env_steps = 3000;
  auto loop = ActorLoop::Create(MakeConfig(), options);
  ASSERT_TRUE(loop.ok()) << loop.status();
  ASSERT_TRUE((*loop)->Run().ok());
  EXPECT_GT((*loop)->stats().episodes, 0);
  EXPECT_EQ((*loop)->stats().items_appended, 0);
}

TEST(ActorLoopTest, EvalLoopRunsRoundsOfOneEpisodePerEnv) {
  prometheus::Registry registry;
  ActorLoopOptions options;
  options.eval = true;
  options.max_env_steps = 5000;
  options.registry = &registry;
  ExperimentConfig config = MakeConfig();
  const int64_t k = config.actor.num_envs;
  auto loop = ActorLoop::Create(config, options);
  ASSERT_TRUE(loop.ok()) << loop.status();
  ASSERT_TRUE((*loop)->Run().ok());
  const ActorLoopStats stats = (*loop)->stats();
  ASSERT_GE(stats.eval_rounds, 1);
  // Complete rounds count k episodes each; the last round may be partial.
  EXPECT_GE(stats.episodes, stats.eval_rounds * k);
  EXPECT_LT(stats.episodes, (stats.eval_rounds + 1) * k);
  // Cartpole pays 1 per step and lasts at least 8 steps.
  EXPECT_GE(stats.eval_return, 8.0);
  EXPECT_TRUE(HasFamily(registry, "shoal_actor_eval_return"));
  EXPECT_TRUE(HasFamily(registry, "shoal_actor_eval_policy_version"));
}

TEST(ActorLoopTest, TableSignatureThatDoesNotFitTheEnvIsRefused) {
  ExperimentConfig config = MakeConfig();
  config.tables[0].signature[0].shape = {3};
  ActorLoopOptions options;
  options.eval = true;
  absl::Status created = ActorLoop::Create(config, options).status();
  EXPECT_TRUE(absl::IsInvalidArgument(created)) << created;
  EXPECT_THAT(created.message(), HasSubstr("observation"));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateActorConfig(config)));
  // A replay writer is needed to insert.
  options.eval = false;
  EXPECT_TRUE(absl::IsInvalidArgument(
      ActorLoop::Create(MakeConfig(), options).status()));
}

}  // namespace
}  // namespace shoal
