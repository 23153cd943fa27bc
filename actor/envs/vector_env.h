// K environments of one spec stepped together in the calling thread, with
// batched inputs and outputs in buffers the caller owns.
//
// Layout: observations are float[K * observation_size] (env i's at
// i * observation_size), actions int64[K] (discrete) or float[K * dim]
// (box), and rewards / terminated / truncated / is_first one entry per env.
//
// Auto-reset (Gymnasium's "next step" mode, as in EnvPool): when sub-env
// i's episode ends on a Step (terminated or truncated), that Step's outputs
// for i hold the episode's FINAL observation, its reward and its flags, so
// a learner can bootstrap from a truncated episode's last observation. The
// next Step call resets env i instead of stepping it: action i is ignored
// (and not validated), observation i is the new episode's first
// observation, reward i is 0, both flags are false and is_first[i] is true.
// Otherwise is_first[i] is false.
//
// Seeding: sub-env i's n-th episode (n = 0, 1, ... counted over the
// VectorEnv's life, Reset() included) starts from
//   EpisodeSeed(base_seed + i, n) = base_seed + i + n * kEpisodeSeedStride,
// so the same base seed replays the same episodes and sub-envs never share
// one (episode 0 of env i uses seed base_seed + i, EnvPool's rule).
//
// Speed: when every sub-env is exactly the class of one registered
// built-in (env_registry.h) that has a non-virtual StepUnchecked, Step
// validates the whole batch and then calls that built-in's batch stepper
// (StepAll<E>, instantiated in builtin_envs.cc: one indirect call per
// batch, none per env); other envs go through Env::Step. Step allocates
// nothing.
//
// Thread-compatible: one thread at a time. Owns its sub-envs.
#ifndef SHOAL_ACTOR_ENVS_VECTOR_ENV_H_
#define SHOAL_ACTOR_ENVS_VECTOR_ENV_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "actor/envs/env_registry.h"

namespace shoal {

// Where one VectorEnv::Step writes its results. Every span has one entry
// per sub-env (observations: num_envs() * observation_size()), except
// is_first, which may be empty when the caller does not want it.
struct VectorStepOutputs {
  absl::Span<float> observations;
  absl::Span<float> rewards;
  absl::Span<bool> terminated;
  absl::Span<bool> truncated;
  absl::Span<bool> is_first;
};

class VectorEnv {
 public:
  static constexpr uint64_t kEpisodeSeedStride = 0xD1B54A32D192ED03ULL;

  static uint64_t EpisodeSeed(uint64_t env_seed, uint64_t episode) {
    return env_seed + episode * kEpisodeSeedStride;
  }

  // `num_envs` envs built by MakeEnv(options). num_envs must be > 0.
  static absl::StatusOr<std::unique_ptr<VectorEnv>> Create(
      const EnvOptions& options, int num_envs, uint64_t base_seed);
  // Takes `envs` (non-empty, non-null, all with the same observation shape
  // and action space).
  static absl::StatusOr<std::unique_ptr<VectorEnv>> Create(
      std::vector<std::unique_ptr<Env>> envs, uint64_t base_seed);

  int num_envs() const { return static_cast<int>(envs_.size()); }
  // The spec shared by every sub-env.
  const EnvSpec& spec() const { return envs_[0]->spec(); }
  int64_t observation_size() const { return observation_size_; }

  // Starts a new episode in every sub-env and writes the first
  // observations. Must be called once before Step.
  absl::Status Reset(absl::Span<float> observations);

  // Steps every sub-env (or resets those whose episode ended on the last
  // Step; see the class comment). Use the overload matching the action
  // space: `actions` is int64[num_envs()] for a discrete space and
  // float[num_envs() * dim] for a box. An invalid action (out of range,
  // NaN, wrong count) is INVALID_ARGUMENT naming the sub-env, and no
  // sub-env is stepped. O(num_envs) env steps; no allocation.
  absl::Status Step(absl::Span<const int64_t> actions,
                    const VectorStepOutputs& out);
  absl::Status Step(absl::Span<const float> actions,
                    const VectorStepOutputs& out);

 private:
  template <typename E>
  friend BuiltinEnv RegisterEnv(const char* name);

  // Gives env i's Action from a validated batch of actions.
  struct DiscreteActionAt;
  struct BoxActionAt;

  VectorEnv(std::vector<std::unique_ptr<Env>> envs, uint64_t base_seed);

  absl::Status CheckOutputs(const VectorStepOutputs& out) const;
  absl::Status ValidateDiscrete(absl::Span<const int64_t> actions) const;
  absl::Status ValidateBox(absl::Span<const float> actions) const;
  // Resets sub-env i into its next episode, writing its observation at
  // `observation`.
  absl::Status ResetOne(int i, float* observation);
  // Steps or resets every sub-env; `E` is the sub-envs' concrete type, or
  // Env for the virtual path. `action_at(i)` gives env i's Action.
  // Defined in vector_env_batch.h.
  template <typename E, typename ActionAt>
  absl::Status StepAll(const ActionAt& action_at, const VectorStepOutputs& out);
  // A built-in's batch steppers (BuiltinEnv::step_discrete/step_box): StepAll
  // with E = that built-in. REQUIRES: every sub-env is exactly an E; the
  // outputs and actions were checked.
  template <typename E>
  static absl::Status StepDiscreteAs(VectorEnv* envs,
                                     absl::Span<const int64_t> actions,
                                     const VectorStepOutputs& out);
  template <typename E>
  static absl::Status StepBoxAs(VectorEnv* envs,
                                absl::Span<const float> actions,
                                const VectorStepOutputs& out);

  // Constant after construction.
  std::vector<std::unique_ptr<Env>> envs_;
  uint64_t base_seed_;
  int64_t observation_size_;
  int action_dim_;
  // The built-in every sub-env exactly is, when it has batch steppers;
  // nullptr: the virtual path.
  const BuiltinEnv* batch_;

  // Per sub-env episode bookkeeping.
  std::vector<uint64_t> episodes_started_;
  // 1 when the sub-env's episode ended on the last Step (vector<bool> is
  // avoided for speed).
  std::vector<uint8_t> needs_reset_;
  bool started_ = false;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_VECTOR_ENV_H_
