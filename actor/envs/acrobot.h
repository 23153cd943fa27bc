// Acrobot-v1 (Gymnasium classic control, "book" dynamics, no torque noise),
// bit-exact: double state {theta1, theta2, dtheta1, dtheta2} integrated by
// one RK4 step of 0.2 s, float32 observations {cos(theta1), sin(theta1),
// cos(theta2), sin(theta2), dtheta1, dtheta2}.
// Actions: discrete {0, 1, 2} = torque {-1, 0, +1}. Reward -1 per step and
// 0 on the terminating step (tip above the bar); truncated on step
// max_episode_steps (default 500).
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_ACROBOT_H_
#define SHOAL_ACTOR_ENVS_ACROBOT_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class Acrobot final : public Env {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 500;
  static constexpr int kStateSize = 4;
  static constexpr int kObservationSize = 6;

  // `max_episode_steps` 0 means kDefaultMaxEpisodeSteps; negative is
  // INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<Acrobot>> Create(
      int max_episode_steps = 0);

  const EnvSpec& spec() const override { return spec_; }
  // State ~ U(-0.1, 0.1)^4 drawn from `seed`, rounded to float32 as
  // Gymnasium's reset does.
  absl::Status Reset(uint64_t seed, absl::Span<float> observation) override;
  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) override;
  // `state` is {theta1, theta2, dtheta1, dtheta2}.
  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) override;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.discrete` is in [0, 3), and
  // `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  explicit Acrobot(int max_episode_steps);
  void WriteObservation(float* observation) const;

  EnvSpec spec_;
  env_internal::EpisodeClock clock_;
  double state_[kStateSize] = {};
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ACROBOT_H_
