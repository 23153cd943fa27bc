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

namespace shoal {

// The actions an environment accepts.
struct ActionSpace {
  enum class Kind { kDiscrete, kBox };
  Kind kind = Kind::kDiscrete;
  // kDiscrete: actions are 0 .. num_actions - 1.
  int64_t num_actions = 0;
  // kBox: per-dimension bounds; both have dim() entries.
  std::vector<float> low;
  std::vector<float> high;

  bool discrete() const { return kind == Kind::kDiscrete; }
  // Floats per action: 1 for discrete (the index), low.size() for a box.
  int dim() const { return discrete() ? 1 : static_cast<int>(low.size()); }
};

// What an environment observes and accepts. Constant for an Env's life.
struct EnvSpec {
  // Registered name, e.g. "cartpole".
  std::string name;
  // Observation shape; observations are float32, row-major.
  std::vector<int64_t> observation_shape;
  ActionSpace action_space;
  // The step on which an episode is truncated (Gymnasium's TimeLimit);
  // 0 = never.
  int max_episode_steps = 0;

  int64_t observation_size() const {
    int64_t n = 1;
    for (int64_t d : observation_shape) n *= d;
    return n;
  }
};

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
