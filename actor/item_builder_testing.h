// Test helpers for the item builders: configs, env specs, a scripted
// stand-in for VectorEnv that follows its auto-reset rules exactly, and
// column readers. For tests only.
#ifndef SHOAL_ACTOR_ITEM_BUILDER_TESTING_H_
#define SHOAL_ACTOR_ITEM_BUILDER_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.pb.h"

#include "actor/envs/env.h"
#include "actor/item_builder.h"
#include "common/config.h"
#include "common/tensor_codec.h"

namespace shoal {
namespace testing_internal {

inline constexpr int64_t kObsSize = 2;
// The action the scripted envs send on auto-reset steps; never in an item.
inline constexpr int64_t kResetAction = 99;
inline constexpr float kResetReward = -1000.0f;

inline EnvSpec MakeDiscreteSpec() {
  EnvSpec spec;
  spec.name = "scripted";
  spec.observation_shape = {kObsSize};
  spec.action_space.kind = ActionSpace::Kind::kDiscrete;
  spec.action_space.num_actions = 100;
  return spec;
}

inline EnvSpec MakeBoxSpec() {
  EnvSpec spec = MakeDiscreteSpec();
  spec.action_space.kind = ActionSpace::Kind::kBox;
  spec.action_space.low = {-1000.0f, -1000.0f};
  spec.action_space.high = {1000.0f, 1000.0f};
  return spec;
}

inline ExperimentConfig MakeConfig(AlgorithmKind algorithm, int num_envs,
                                   double discount) {
  ExperimentConfig config;
  config.experiment = "items";
  config.algorithm.name = algorithm;
  config.algorithm.discount = discount;
  config.actor.num_envs = num_envs;
  config.actor.table = config.tables[0].name;
  return config;
}

// How a scripted episode ends after its `length` steps.
enum class End { kTerminated, kTruncated, kRunning };
struct Episode {
  int length;
  End end;
};

// Env i's observation on step s of its episode e: {1000 i + 100 e + s,
// 0.5}. Its action on that step is 10 e + s, its reward s + 1 + 10 e.
inline std::vector<float> Obs(int i, int e, int s) {
  return {static_cast<float>(1000 * i + 100 * e + s), 0.5f};
}
inline int64_t Act(int e, int s) { return 10 * e + s; }
inline float Rew(int e, int s) { return static_cast<float>(s + 1 + 10 * e); }

// K scripted envs stepped like a VectorEnv. Batch() describes the next
// vector step; its spans point into this object.
class ScriptedEnvs {
 public:
  // episodes[i] is env i's sequence of episodes; after the last it stays
  // in it (the last should be kRunning with a large length).
  explicit ScriptedEnvs(std::vector<std::vector<Episode>> episodes)
      : episodes_(std::move(episodes)),
        k_(static_cast<int>(episodes_.size())),
        episode_(k_, 0),
        step_(k_, 0),
        needs_reset_(k_, false),
        observations_(k_ * kObsSize),
        next_observations_(k_ * kObsSize),
        actions_(k_),
        box_actions_(k_ * 2),
        rewards_(k_),
        log_probs_(k_),
        terminated_(new bool[k_]),
        truncated_(new bool[k_]),
        is_first_(new bool[k_]) {}

  // Advances every env by one vector step and returns it.
  StepBatch Step(int64_t policy_version = 0) {
    for (int i = 0; i < k_; ++i) {
      const int e = episode_[i];
      const int s = step_[i];
      float* obs = &observations_[i * kObsSize];
      float* next = &next_observations_[i * kObsSize];
      terminated_[i] = truncated_[i] = false;
      is_first_[i] = needs_reset_[i];
      if (needs_reset_[i]) {
        Write(Obs(i, e - 1, episodes_[i][e - 1].length), obs);
        Write(Obs(i, e, 0), next);
        actions_[i] = kResetAction;
        box_actions_[2 * i] = box_actions_[2 * i + 1] = kResetReward;
        rewards_[i] = 0.0f;
        log_probs_[i] = kResetReward;
        needs_reset_[i] = false;
        continue;
      }
      Write(Obs(i, e, s), obs);
      Write(Obs(i, e, s + 1), next);
      actions_[i] = Act(e, s);
      box_actions_[2 * i] = static_cast<float>(Act(e, s));
      box_actions_[2 * i + 1] = -static_cast<float>(Act(e, s));
      rewards_[i] = Rew(e, s);
      log_probs_[i] = -0.01f * static_cast<float>(Act(e, s));
      const Episode& ep = episodes_[i][e];
      if (s + 1 == ep.length && ep.end != End::kRunning) {
        terminated_[i] = ep.end == End::kTerminated;
        truncated_[i] = ep.end == End::kTruncated;
        needs_reset_[i] = true;
        ++episode_[i];
        step_[i] = 0;
      } else {
        ++step_[i];
      }
    }
    StepBatch batch;
    batch.observations = observations_;
    batch.discrete_actions = actions_;
    batch.rewards = rewards_;
    batch.terminated = absl::MakeConstSpan(terminated_.get(), k_);
    batch.truncated = absl::MakeConstSpan(truncated_.get(), k_);
    batch.is_first = absl::MakeConstSpan(is_first_.get(), k_);
    batch.next_observations = next_observations_;
    batch.behaviour_log_probs = log_probs_;
    batch.policy_version = policy_version;
    return batch;
  }

  // The same step with box actions instead of discrete ones.
  StepBatch AsBox(StepBatch batch) const {
    batch.discrete_actions = {};
    batch.box_actions = box_actions_;
    return batch;
  }

 private:
  static void Write(const std::vector<float>& v, float* out) {
    for (size_t j = 0; j < v.size(); ++j) out[j] = v[j];
  }

  std::vector<std::vector<Episode>> episodes_;
  int k_;
  std::vector<int> episode_;
  std::vector<int> step_;
  std::vector<bool> needs_reset_;
  std::vector<float> observations_;
  std::vector<float> next_observations_;
  std::vector<int64_t> actions_;
  std::vector<float> box_actions_;
  std::vector<float> rewards_;
  std::vector<float> log_probs_;
  std::unique_ptr<bool[]> terminated_;
  std::unique_ptr<bool[]> truncated_;
  std::unique_ptr<bool[]> is_first_;
};

// The column `name` of `item`, located through `signature` (the order the
// builder used).
inline const v1::Tensor& ColumnNamed(const v1::Item& item,
                                     const std::vector<v1::TensorSpec>& sig,
                                     absl::string_view name) {
  for (size_t j = 0; j < sig.size(); ++j) {
    if (sig[j].name() == name) return item.columns(static_cast<int>(j));
  }
  ADD_FAILURE() << "no column " << name;
  static const v1::Tensor* const kEmpty = new v1::Tensor();
  return *kEmpty;
}

template <typename T>
std::vector<T> Values(const v1::Item& item,
                      const std::vector<v1::TensorSpec>& sig,
                      absl::string_view name) {
  absl::StatusOr<std::vector<T>> v =
      DecodeTensor<T>(ColumnNamed(item, sig, name), name);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : std::vector<T>();
}

inline std::vector<int64_t> Shape(const v1::Item& item,
                                  const std::vector<v1::TensorSpec>& sig,
                                  absl::string_view name) {
  const v1::Tensor& t = ColumnNamed(item, sig, name);
  return std::vector<int64_t>(t.shape().begin(), t.shape().end());
}

// Concatenation of observations, for whole-unroll expectations.
inline std::vector<float> Rows(std::vector<std::vector<float>> rows) {
  std::vector<float> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

}  // namespace testing_internal
}  // namespace shoal

#endif  // SHOAL_ACTOR_ITEM_BUILDER_TESTING_H_
