#include "actor/envs/env_factory.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

#include "actor/envs/acrobot.h"
#include "actor/envs/cartpole.h"
#include "actor/envs/ks.h"
#include "actor/envs/mountain_car.h"
#include "actor/envs/mountain_car_continuous.h"
#include "actor/envs/paced_env.h"
#include "actor/envs/pendulum.h"
#include "actor/envs/remote_env.h"
#include "common/quote.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

constexpr char kRemoteName[] = "remote";

// Upcasts StatusOr<unique_ptr<T>> to StatusOr<unique_ptr<Env>>.
template <typename T>
absl::StatusOr<std::unique_ptr<Env>> Upcast(
    absl::StatusOr<std::unique_ptr<T>> env) {
  if (!env.ok()) return env.status();
  return std::unique_ptr<Env>(std::move(env).value());
}

absl::StatusOr<std::unique_ptr<Env>> MakeUnpacedEnv(const EnvOptions& options) {
  const std::string& name = options.name;
  const int max_steps = options.max_episode_steps;
  if (name == "acrobot") return Upcast(Acrobot::Create(max_steps));
  if (name == "cartpole") return Upcast(CartPole::Create(max_steps));
  if (name == "ks") return Upcast(Ks::Create(max_steps));
  if (name == "mountain_car") return Upcast(MountainCar::Create(max_steps));
  if (name == "mountain_car_continuous") {
    return Upcast(MountainCarContinuous::Create(max_steps));
  }
  if (name == "pendulum") return Upcast(Pendulum::Create(max_steps));
  if (name == kRemoteName) {
    SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> remote, MakeRemoteEnv(options));
    return remote;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown env name ", Quote(name),
      "; known: ", absl::StrJoin(KnownEnvNames(), ", "), ", ", kRemoteName));
}

}  // namespace

const std::vector<std::string>& KnownEnvNames() {
  static const auto* const kNames = new std::vector<std::string>{
      "acrobot", "cartpole", "ks", "mountain_car", "mountain_car_continuous",
      "pendulum"};
  return *kNames;
}

absl::StatusOr<std::unique_ptr<Env>> MakeEnv(const EnvOptions& options) {
  if (options.step_cost_us < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("step_cost_us must be >= 0, got ", options.step_cost_us));
  }
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> env, MakeUnpacedEnv(options));
  if (options.step_cost_us == 0) return env;
  return Upcast(PacedEnv::Create(std::move(env),
                                 absl::Microseconds(options.step_cost_us)));
}

}  // namespace shoal
