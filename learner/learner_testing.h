// Helpers for the learner's tests and benchmarks: cartpole transitions from
// random play in the item format actors write, the experiment config that
// trains dqn on them, and an in-process replay shard holding them.
// Header-only; not for production use.
#ifndef SHOAL_LEARNER_LEARNER_TESTING_H_
#define SHOAL_LEARNER_LEARNER_TESTING_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shoal/v1/replay.pb.h"

#include "actor/envs/env_factory.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "replay/client/local_shard.h"

namespace shoal {
namespace testing {

inline v1::Tensor FloatTensor(const std::vector<float>& values,
                              std::vector<int64_t> shape) {
  v1::Tensor t;
  t.set_dtype(v1::DTYPE_FLOAT32);
  for (int64_t d : shape) t.add_shape(d);
  t.set_data(values.data(), values.size() * sizeof(float));
  return t;
}

inline v1::Tensor Int64Scalar(int64_t value) {
  v1::Tensor t;
  t.set_dtype(v1::DTYPE_INT64);
  t.set_data(&value, sizeof(value));
  return t;
}

// The transition signature for cartpole: observation [4] f32, action []
// i64, reward [] f32, discount [] f32, next_observation [4] f32.
inline std::vector<ColumnConfig> CartPoleSignature() {
  return {{"observation", v1::DTYPE_FLOAT32, {4}, false},
          {"action", v1::DTYPE_INT64, {}, false},
          {"reward", v1::DTYPE_FLOAT32, {}, false},
          {"discount", v1::DTYPE_FLOAT32, {}, false},
          {"next_observation", v1::DTYPE_FLOAT32, {4}, false}};
}

// A dqn config on cartpole with a small network, sampling table
// "transitions" (uniform, or prioritized) of CartPoleSignature().
inline ExperimentConfig CartPoleDqnConfig(bool prioritized = false) {
  ExperimentConfig config;
  config.experiment = "learner-test";
  config.seed = 1;
  config.algorithm.name = AlgorithmKind::kDqn;
  config.algorithm.batch_size = 32;
  config.algorithm.n_step = 1;
  config.network.hidden = {32, 32};
  TableConfig& table = config.tables[0];
  table.name = "transitions";
  table.max_size = 100000;
  table.rate_limiter.min_size_to_sample = 1;
  table.signature = CartPoleSignature();
  if (prioritized) {
    table.sampler.kind = SelectorKind::kPrioritized;
    table.sampler.priority_exponent = 0.6;
  }
  config.learner.table = "transitions";
  config.learner.publish_every_steps = 50;
  config.learner.prefetch_batches = 4;
  config.learner.device = DeviceKind::kCpu;
  return config;
}

// `n` 1-step transitions from uniformly random cartpole play.
inline std::vector<v1::Item> CartPoleTransitions(int n, uint64_t seed,
                                                 int64_t policy_version = 0) {
  EnvOptions options;
  options.name = "cartpole";
  std::unique_ptr<Env> env = MakeEnv(options).value();
  std::mt19937_64 rng(seed);
  std::vector<float> obs(4), next(4);
  uint64_t episode = 0;
  (void)env->Reset(seed * 1000 + episode, absl::MakeSpan(obs));
  std::vector<v1::Item> items;
  while (static_cast<int>(items.size()) < n) {
    Action action;
    action.discrete = static_cast<int64_t>(rng() % 2);
    StepResult step = env->Step(action, absl::MakeSpan(next)).value();
    v1::Item item;
    item.set_table("transitions");
    item.set_priority(1.0);
    item.set_policy_version(policy_version);
    *item.add_columns() = FloatTensor(obs, {4});
    *item.add_columns() = Int64Scalar(action.discrete);
    *item.add_columns() = FloatTensor({static_cast<float>(step.reward)}, {});
    *item.add_columns() = FloatTensor({step.terminated ? 0.0f : 0.99f}, {});
    *item.add_columns() = FloatTensor(next, {4});
    items.push_back(std::move(item));
    obs = next;
    if (step.terminated || step.truncated) {
      (void)env->Reset(seed * 1000 + ++episode, absl::MakeSpan(obs));
    }
  }
  return items;
}

// A replay shard (index 0) serving `config`'s tables on loopback, holding
// `items` in table items[i].table().
inline absl::StatusOr<std::unique_ptr<LocalShard>> StartShardWithItems(
    const ExperimentConfig& config, const std::vector<v1::Item>& items) {
  ReplayServerOptions options;
  options.shard_index = 0;
  for (const TableConfig& table : config.tables) {
    options.tables.push_back(TableOptionsFromConfig(table, 0));
  }
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<LocalShard> shard,
                         LocalShard::Start(options));
  for (size_t i = 0; i < items.size(); ++i) {
    Table* table = shard->table(items[i].table());
    if (table == nullptr) {
      return absl::NotFoundError(absl::StrCat("no table ", items[i].table()));
    }
    SHOAL_RETURN_IF_ERROR(table->Validate(items[i], "item"));
    SHOAL_RETURN_IF_ERROR(table
                              ->Insert(items[i], /*writer_id=*/1,
                                       /*sequence=*/i + 1,
                                       absl::Now() + absl::Seconds(10))
                              .status());
  }
  return shard;
}

}  // namespace testing
}  // namespace shoal

#endif  // SHOAL_LEARNER_LEARNER_TESTING_H_
