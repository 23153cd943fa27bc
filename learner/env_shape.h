// The learner's view of the environment: observation size and action space,
// learned without stepping an env. Built-in envs are created once and their
// spec read; a remote env is opened once (its EnvService answers the spec).
//
//   SHOAL_ASSIGN_OR_RETURN(EnvShape shape, EnvShapeFromConfig(config));
//
// Thread-safe (no shared state).
#ifndef SHOAL_LEARNER_ENV_SHAPE_H_
#define SHOAL_LEARNER_ENV_SHAPE_H_

#include "absl/status/statusor.h"

#include "actor/envs/env.h"
#include "common/config.h"
#include "common/torch/networks.h"

namespace shoal {

// The EnvShape of `spec`.
EnvShape EnvShapeFromSpec(const EnvSpec& spec);

// Makes config.env once and returns its shape. Errors from MakeEnv (an
// unreachable remote env: UNAVAILABLE naming its address) pass through.
absl::StatusOr<EnvShape> EnvShapeFromConfig(const ExperimentConfig& config);

}  // namespace shoal

#endif  // SHOAL_LEARNER_ENV_SHAPE_H_
