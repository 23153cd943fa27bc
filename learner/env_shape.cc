#include "learner/env_shape.h"

#include <memory>
#include <string>

#include "actor/envs/env_factory.h"
#include "common/status_macros.h"

namespace shoal {

EnvShape EnvShapeFromSpec(const EnvSpec& spec) {
  EnvShape shape;
  shape.observation_size = spec.observation_size();
  shape.discrete = spec.action_space.discrete();
  shape.num_actions = spec.action_space.num_actions;
  shape.low = spec.action_space.low;
  shape.high = spec.action_space.high;
  return shape;
}

absl::StatusOr<EnvShape> EnvShapeFromConfig(const ExperimentConfig& config) {
  EnvOptions options;
  options.name = std::string(EnumName(config.env.name));
  options.max_episode_steps = static_cast<int>(config.env.max_episode_steps);
  options.remote_address = config.env.remote.address;
  options.remote_env = config.env.remote.env;
  options.remote_timeout_ms = config.env.remote.timeout_ms;
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> env, MakeEnv(options));
  return EnvShapeFromSpec(env->spec());
}

}  // namespace shoal
