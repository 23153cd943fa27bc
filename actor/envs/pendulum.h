// Pendulum-v1 (Gymnasium classic control), bit-exact under NumPy 2 (NEP 50)
// promotion: double state {theta, theta_dot}, float32 torque, float32
// observations {cos(theta), sin(theta), theta_dot}.
// Actions: box [-2, 2]^1, clipped to the box as Gymnasium does (NaN and
// infinite values are INVALID_ARGUMENT). Never terminates; truncated on
// step max_episode_steps (default 200). Create, Reset, Step and SetState
// come from ClassicControlEnv.
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_PENDULUM_H_
#define SHOAL_ACTOR_ENVS_PENDULUM_H_

#include "absl/types/span.h"

#include "actor/envs/classic_control_env.h"
#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class Pendulum final : public ClassicControlEnv<Pendulum> {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 200;
  static constexpr int kStateSize = 2;
  static constexpr int kObservationSize = 3;
  static constexpr float kMaxTorque = 2.0f;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.box` holds one finite value,
  // and `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  friend class ClassicControlEnv<Pendulum>;

  explicit Pendulum(int max_episode_steps);
  // theta ~ U(-pi, pi), theta_dot ~ U(-1, 1).
  void ResetState(env_internal::SeededRng* rng);
  // `state` is {theta, theta_dot}.
  void LoadState(absl::Span<const double> state);
  void WriteObservation(float* observation) const;

  double theta_ = 0.0;
  double theta_dot_ = 0.0;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_PENDULUM_H_
