// The built-in environments: the one list MakeEnv, VectorEnv, the config
// loader, shoal-env-server and the docs check read (env_registry.h). A new
// env is its own file plus one line here (README "Adding an environment").
// The order is the order configs and help texts list them in.
#include "actor/envs/acrobot.h"
#include "actor/envs/cartpole.h"
#include "actor/envs/env_registration.h"
#include "actor/envs/env_registry.h"
#include "actor/envs/ks.h"
#include "actor/envs/mountain_car.h"
#include "actor/envs/mountain_car_continuous.h"
#include "actor/envs/pendulum.h"

namespace shoal {

absl::Span<const BuiltinEnv> BuiltinEnvs() {
  static const BuiltinEnv kEnvs[] = {
      RegisterEnv<CartPole>("cartpole"),
      RegisterEnv<Pendulum>("pendulum"),
      RegisterEnv<Acrobot>("acrobot"),
      RegisterEnv<MountainCar>("mountain_car"),
      RegisterEnv<MountainCarContinuous>("mountain_car_continuous"),
      RegisterEnv<Ks>("ks"),
  };
  return kEnvs;
}

}  // namespace shoal
