// MountainCar-v0 (Gymnasium classic control), bit-exact: double state
// {position, velocity}, float32 observations of the same.
// Actions: discrete {0 = push left, 1 = none, 2 = push right}. Reward -1
// per step; terminated at position >= 0.5 with velocity >= 0; truncated on
// step max_episode_steps (default 200).
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_H_
#define SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class MountainCar final : public Env {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 200;
  static constexpr int kStateSize = 2;
  static constexpr int kObservationSize = 2;

  // `max_episode_steps` 0 means kDefaultMaxEpisodeSteps; negative is
  // INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<MountainCar>> Create(
      int max_episode_steps = 0);

  const EnvSpec& spec() const override { return spec_; }
  // position ~ U(-0.6, -0.4) drawn from `seed`, velocity 0.
  absl::Status Reset(uint64_t seed, absl::Span<float> observation) override;
  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) override;
  // `state` is {position, velocity}.
  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) override;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.discrete` is in [0, 3), and
  // `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  explicit MountainCar(int max_episode_steps);
  void WriteObservation(float* observation) const;

  EnvSpec spec_;
  env_internal::EpisodeClock clock_;
  double position_ = 0.0;
  double velocity_ = 0.0;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_H_
