// Acrobot-v1 (Gymnasium classic control, "book" dynamics, no torque noise),
// bit-exact: double state {theta1, theta2, dtheta1, dtheta2} integrated by
// one RK4 step of 0.2 s, float32 observations {cos(theta1), sin(theta1),
// cos(theta2), sin(theta2), dtheta1, dtheta2}.
// Actions: discrete {0, 1, 2} = torque {-1, 0, +1}. Reward -1 per step and
// 0 on the terminating step (tip above the bar); truncated on step
// max_episode_steps (default 500). Create, Reset, Step and SetState come
// from ClassicControlEnv.
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_ACROBOT_H_
#define SHOAL_ACTOR_ENVS_ACROBOT_H_

#include "absl/types/span.h"

#include "actor/envs/classic_control_env.h"
#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class Acrobot final : public ClassicControlEnv<Acrobot> {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 500;
  static constexpr int kStateSize = 4;
  static constexpr int kObservationSize = 6;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.discrete` is in [0, 3), and
  // `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  friend class ClassicControlEnv<Acrobot>;

  explicit Acrobot(int max_episode_steps);
  // State ~ U(-0.1, 0.1)^4, rounded to float32 as Gymnasium's reset does.
  void ResetState(env_internal::SeededRng* rng);
  // `state` is {theta1, theta2, dtheta1, dtheta2}.
  void LoadState(absl::Span<const double> state);
  void WriteObservation(float* observation) const;

  double state_[kStateSize] = {};
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ACROBOT_H_
