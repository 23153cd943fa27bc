// The built-in environments by name: the one table that MakeEnv,
// VectorEnv's devirtualised batch path, the config loader (through
// BuiltinEnvCatalog), shoal-env-server and the tests read. The table is
// builtin_envs.cc; adding an env is its class plus one line there:
//
//   RegisterEnv<CartPole>("cartpole"),
//
// The table is a plain array in a function that MakeEnv calls, so every
// binary that can build an env links every entry (no static registrar
// objects, which a static library would drop when nothing refers to their
// object file, and no static initialisation order to get wrong).
//
// Thread-safe: the table is built on first use (a function-local static)
// and constant afterwards.
#ifndef SHOAL_ACTOR_ENVS_ENV_REGISTRY_H_
#define SHOAL_ACTOR_ENVS_ENV_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "common/config.h"

namespace shoal {

class VectorEnv;
struct VectorStepOutputs;

// One built-in env. Made by RegisterEnv<E> (env_registration.h).
struct BuiltinEnv {
  // The name env.name, EnvOptions::name and OpenRequest.env use; the env's
  // spec().name is the same (env_registry_test checks).
  const char* name = nullptr;
  // E::Create(max_episode_steps); 0 = the env's default.
  absl::StatusOr<std::unique_ptr<Env>> (*create)(int max_episode_steps) =
      nullptr;
  // VectorEnv's batch path, when E has a non-virtual StepUnchecked (else
  // all three are null and VectorEnv steps E through Env::Step):
  // is_exactly(env) is true when env's dynamic type is exactly E; the
  // steppers step a validated batch of Es (VectorEnv::StepBatchAs).
  bool (*is_exactly)(const Env& env) = nullptr;
  absl::Status (*step_discrete)(VectorEnv* envs,
                                absl::Span<const int64_t> actions,
                                const VectorStepOutputs& out) = nullptr;
  absl::Status (*step_box)(VectorEnv* envs, absl::Span<const float> actions,
                           const VectorStepOutputs& out) = nullptr;
};

// Every built-in env, in builtin_envs.cc's order. Names are unique.
absl::Span<const BuiltinEnv> BuiltinEnvs();

// The built-in named `name`, or nullptr. O(number of built-ins).
const BuiltinEnv* FindBuiltinEnv(absl::string_view name);

// The built-ins' names, in table order.
std::vector<std::string> BuiltinEnvNames();

// The spec of `env` with its default episode length (builds one).
absl::StatusOr<EnvSpec> BuiltinEnvSpec(const BuiltinEnv& env);

// The built-ins as the config loader sees them (name, action space), for
// LoadExperimentConfig/LoadConfigWithOverrides. Built once (each env is
// created once to read its spec); aborts naming the env if one cannot be
// created with its defaults, which env_registry_test rules out.
const EnvCatalog& BuiltinEnvCatalog();

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_REGISTRY_H_
