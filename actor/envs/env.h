// The environment interface every actor steps (EnvPool's shape: a spec, then
// Reset and Step writing into a buffer the caller owns).
//
// Observations are float32 vectors of spec().observation_size() values;
// an environment that computes in double (as Gymnasium does) rounds to float
// on output. Actions arrive as an Action view: an index for a discrete
// space, a float32 vector for a box space.
//
// Thread-compatible: one Env is stepped by one thread at a time. Envs own
// no caller memory; spans passed in must stay valid only for the call.
#ifndef SHOAL_ACTOR_ENVS_ENV_H_
#define SHOAL_ACTOR_ENVS_ENV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "common/env_spec.h"

namespace shoal {

// One action. `discrete` is read for a discrete space; `box` (exactly
// spec().action_space.dim() values) for a box space.
struct Action {
  int64_t discrete = 0;
  absl::Span<const float> box;
};

// The outcome of one Step besides the observation.
struct StepResult {
  double reward = 0.0;
  // The episode reached a terminal state: do not bootstrap.
  bool terminated = false;
  // The episode was cut by the time limit: bootstrap from the observation.
  bool truncated = false;
};

class Env {
 public:
  virtual ~Env() = default;

  virtual const EnvSpec& spec() const = 0;

  // Starts an episode whose initial state is drawn from `seed`, and writes
  // the first observation into `observation` (observation_size() floats).
  virtual absl::Status Reset(uint64_t seed, absl::Span<float> observation) = 0;

  // Applies `action` and writes the next observation into `observation`.
  // An invalid action (out of range, NaN, wrong size) is INVALID_ARGUMENT
  // and leaves the state unchanged. REQUIRES: Reset() was called and the
  // episode has not ended.
  virtual absl::StatusOr<StepResult> Step(const Action& action,
                                          absl::Span<float> observation) = 0;

  // Replaces the internal state (the env's own state vector, e.g. CartPole's
  // x, x_dot, theta, theta_dot) and restarts the step count, so tests can
  // start from a recorded state. Writes the matching observation.
  virtual absl::Status SetState(absl::Span<const double> state,
                                absl::Span<float> observation) = 0;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_H_
