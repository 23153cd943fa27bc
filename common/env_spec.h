// What an environment observes and accepts, and the part of it networks
// need, shared by the side that steps envs (actor/envs, the actor,
// shoal-env-server, shoal-sync) and the side that never builds one (the
// learner, which reads it from its table's signature).
//
//   EnvShape shape = EnvShapeOf(env->spec());                 // an actor
//   SHOAL_ASSIGN_OR_RETURN(EnvShape shape,                    // the learner
//                          EnvShapeFromSignature(*table,
//                          config.algorithm.name));
//
// Plain values; thread-compatible.
#ifndef SHOAL_COMMON_ENV_SPEC_H_
#define SHOAL_COMMON_ENV_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/config.h"

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

// What an algorithm's networks need to know about an environment.
struct EnvShape {
  int64_t observation_size = 0;
  bool discrete = true;
  int64_t num_actions = 0;  // discrete: actions are 0 .. num_actions - 1.
  std::vector<float> low;   // box: per-dimension bounds, action_dim entries.
  std::vector<float> high;

  int64_t action_dim() const {
    return discrete ? 1 : static_cast<int64_t>(low.size());
  }
};

EnvShape EnvShapeOf(const EnvSpec& spec);

// The shape of the env whose items `table` holds for `algorithm`, from the
// signature's `observation` column (for impala, [unroll_length + 1, obs...])
// and `action` column (int64 with minimum 0 and maximum n - 1: n discrete
// actions; float32 [..., dim] with minimum and maximum: a box). Errors name
// the table and column: INVALID_ARGUMENT when the signature lacks either
// column, their bounds or a fixed observation shape.
absl::StatusOr<EnvShape> EnvShapeFromSignature(const TableConfig& table,
                                               AlgorithmKind algorithm);

}  // namespace shoal

#endif  // SHOAL_COMMON_ENV_SPEC_H_
