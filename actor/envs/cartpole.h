// CartPole-v1 (Gymnasium classic control), bit-exact: double state, Euler
// integration, float32 observations {x, x_dot, theta, theta_dot}.
// Actions: discrete {0 = push left, 1 = push right}. Reward 1 per step,
// terminated when |x| > 2.4 or |theta| > 12 degrees, truncated on step
// max_episode_steps (default 500).
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_CARTPOLE_H_
#define SHOAL_ACTOR_ENVS_CARTPOLE_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class CartPole final : public Env {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 500;
  static constexpr int kStateSize = 4;
  static constexpr int kObservationSize = 4;

  // `max_episode_steps` 0 means kDefaultMaxEpisodeSteps; negative is
  // INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<CartPole>> Create(
      int max_episode_steps = 0);

  const EnvSpec& spec() const override { return spec_; }
  // Initial state ~ U(-0.05, 0.05)^4 drawn from `seed`.
  absl::Status Reset(uint64_t seed, absl::Span<float> observation) override;
  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) override;
  // `state` is {x, x_dot, theta, theta_dot}.
  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) override;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.discrete` is 0 or 1, and
  // `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  explicit CartPole(int max_episode_steps);
  void WriteObservation(float* observation) const;

  EnvSpec spec_;
  env_internal::EpisodeClock clock_;
  double x_ = 0.0;
  double x_dot_ = 0.0;
  double theta_ = 0.0;
  double theta_dot_ = 0.0;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_CARTPOLE_H_
