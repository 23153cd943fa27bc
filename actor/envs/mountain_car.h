// MountainCar-v0 (Gymnasium classic control), bit-exact: double state
// {position, velocity}, float32 observations of the same.
// Actions: discrete {0 = push left, 1 = none, 2 = push right}. Reward -1
// per step; terminated at position >= 0.5 with velocity >= 0; truncated on
// step max_episode_steps (default 200). Create, Reset, Step and SetState
// come from ClassicControlEnv.
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_H_
#define SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_H_

#include "absl/types/span.h"

#include "actor/envs/classic_control_env.h"
#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class MountainCar final : public ClassicControlEnv<MountainCar> {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 200;
  static constexpr int kStateSize = 2;
  static constexpr int kObservationSize = 2;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.discrete` is in [0, 3), and
  // `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  friend class ClassicControlEnv<MountainCar>;

  explicit MountainCar(int max_episode_steps);
  // position ~ U(-0.6, -0.4), velocity 0.
  void ResetState(env_internal::SeededRng* rng);
  // `state` is {position, velocity}.
  void LoadState(absl::Span<const double> state);
  void WriteObservation(float* observation) const;

  double position_ = 0.0;
  double velocity_ = 0.0;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_H_
