#include "actor/envs/env_factory.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

#include "actor/envs/env_registry.h"
#include "actor/envs/paced_env.h"
#include "actor/envs/remote_env.h"
#include "common/config.h"
#include "common/quote.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

// Upcasts StatusOr<unique_ptr<T>> to StatusOr<unique_ptr<Env>>.
template <typename T>
absl::StatusOr<std::unique_ptr<Env>> Upcast(
    absl::StatusOr<std::unique_ptr<T>> env) {
  if (!env.ok()) return env.status();
  return std::unique_ptr<Env>(std::move(env).value());
}

absl::StatusOr<std::unique_ptr<Env>> MakeUnpacedEnv(const EnvOptions& options) {
  if (options.name == kRemoteEnvName) {
    SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> remote, MakeRemoteEnv(options));
    return remote;
  }
  const BuiltinEnv* builtin = FindBuiltinEnv(options.name);
  if (builtin == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown env name ", Quote(options.name), "; known: ",
        absl::StrJoin(KnownEnvNames(), ", "), ", ", kRemoteEnvName));
  }
  return builtin->create(options.max_episode_steps);
}

}  // namespace

const std::vector<std::string>& KnownEnvNames() {
  static const auto* const kNames = [] {
    auto* names = new std::vector<std::string>(BuiltinEnvNames());
    std::sort(names->begin(), names->end());
    return names;
  }();
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
