// Helpers for the learner's tests and benchmarks: cartpole-shaped
// transitions in the item format actors write, the experiment config that
// trains dqn on them, and an in-process replay shard holding them. No env
// is stepped (the learner and its tests never build one): the transitions
// are random states, actions, rewards and episode ends.
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

#include "common/config.h"
#include "common/status_macros.h"
#include "replay/local_shard.h"

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
// i64 in [0, 1], reward [] f32, discount [] f32, next_observation [4] f32.
inline std::vector<ColumnConfig> CartPoleSignature() {
  return {{"observation", v1::DTYPE_FLOAT32, {4}, false, {}, {}},
          {"action", v1::DTYPE_INT64, {}, false, {0}, {1}},
          {"reward", v1::DTYPE_FLOAT32, {}, false, {}, {}},
          {"discount", v1::DTYPE_FLOAT32, {}, false, {}, {}},
          {"next_observation", v1::DTYPE_FLOAT32, {4}, false, {}, {}}};
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

// `n` 1-step cartpole-shaped transitions: states drawn within cartpole's
// bounds, uniform actions, reward 1, and an episode end (discount 0) one
// step in twenty, as random play gives.
inline std::vector<v1::Item> CartPoleTransitions(int n, uint64_t seed,
                                                 int64_t policy_version = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> state(-0.2f, 0.2f);
  std::vector<float> obs(4), next(4);
  for (float& x : obs) x = state(rng);
  std::vector<v1::Item> items;
  while (static_cast<int>(items.size()) < n) {
    const int64_t action = static_cast<int64_t>(rng() % 2);
    for (float& x : next) x = state(rng);
    const bool terminated = rng() % 20 == 0;
    v1::Item item;
    item.set_table("transitions");
    item.set_priority(1.0);
    item.set_policy_version(policy_version);
    *item.add_columns() = FloatTensor(obs, {4});
    *item.add_columns() = Int64Scalar(action);
    *item.add_columns() = FloatTensor({1.0f}, {});
    *item.add_columns() = FloatTensor({terminated ? 0.0f : 0.99f}, {});
    *item.add_columns() = FloatTensor(next, {4});
    items.push_back(std::move(item));
    obs = next;
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
