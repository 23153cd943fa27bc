// MountainCarContinuous-v0 (Gymnasium classic control), bit-exact under
// NumPy 2 (NEP 50) promotion. Gymnasium stores this env's state as float32
// {position, velocity}, except right after reset, where it is float64; the
// first step therefore computes in double and later steps in float32.
// Actions: box [-1, 1]^1; the force is clipped to the box, the reward's
// action cost is not (as in Gymnasium). NaN/infinite actions are
// INVALID_ARGUMENT. Reward 100 on reaching position >= 0.45 with velocity
// >= 0 (terminated) minus 0.1 * action^2 per step; truncated on step
// max_episode_steps (default 999). Create, Reset, Step and SetState come
// from ClassicControlEnv.
//
// Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_CONTINUOUS_H_
#define SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_CONTINUOUS_H_

#include "absl/types/span.h"

#include "actor/envs/classic_control_env.h"
#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class MountainCarContinuous final
    : public ClassicControlEnv<MountainCarContinuous> {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 999;
  static constexpr int kStateSize = 2;
  static constexpr int kObservationSize = 2;

  // Step without checks, for VectorEnv's batch path. O(1), no allocation.
  // REQUIRES: an episode is running, `action.box` holds one finite value,
  // and `observation` holds kObservationSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  friend class ClassicControlEnv<MountainCarContinuous>;

  explicit MountainCarContinuous(int max_episode_steps);
  // position ~ U(-0.6, -0.4), velocity 0 (float64 state).
  void ResetState(env_internal::SeededRng* rng);
  // `state` is {position, velocity}, taken as the float64 state of a fresh
  // reset (the next step computes in double).
  void LoadState(absl::Span<const double> state);
  void WriteObservation(float* observation) const;

  // Exact float32 values once float_state_ is true.
  double position_ = 0.0;
  double velocity_ = 0.0;
  bool float_state_ = false;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_MOUNTAIN_CAR_CONTINUOUS_H_
