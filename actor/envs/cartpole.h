// CartPole-v1 (Gymnasium classic control), bit-exact: double state, Euler
// integration, float32 observations {x, x_dot, theta, theta_dot}.
// Actions: discrete {0 = push left, 1 = push right}. Reward 1 per step,
// terminated when |x| > 2.4 or |theta| > 12 degrees, truncated on step
// max_episode_steps (default 500). Create, Reset, Step and SetState come
// from ClassicControlEnv.
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_CARTPOLE_H_
#define SHOAL_ACTOR_ENVS_CARTPOLE_H_

#include "absl/types/span.h"

#include "actor/envs/classic_control_env.h"
#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class CartPole final : public ClassicControlEnv<CartPole> {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 500;
  static constexpr int kStateSize = 4;
  static constexpr int kObservationSize = 4;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.discrete` is 0 or 1, and
  // `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  friend class ClassicControlEnv<CartPole>;

  explicit CartPole(int max_episode_steps);
  // Initial state ~ U(-0.05, 0.05)^4.
  void ResetState(env_internal::SeededRng* rng);
  // `state` is {x, x_dot, theta, theta_dot}.
  void LoadState(absl::Span<const double> state);
  void WriteObservation(float* observation) const;

  double x_ = 0.0;
  double x_dot_ = 0.0;
  double theta_ = 0.0;
  double theta_dot_ = 0.0;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_CARTPOLE_H_
