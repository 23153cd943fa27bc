// RegisterEnv<E>("name"): one entry of the built-in table (env_registry.h),
// for builtin_envs.cc. E is a final Env with
//   static absl::StatusOr<std::unique_ptr<E>> Create(int max_episode_steps);
// (0 = its default episode length) and, optionally, the non-virtual
//   StepResult StepUnchecked(const Action& action, float* observation);
// which VectorEnv's batch path calls once the whole batch is validated.
// Without StepUnchecked, VectorEnv steps E through Env::Step.
//
// Internal to actor/envs: only builtin_envs.cc includes it.
#ifndef SHOAL_ACTOR_ENVS_ENV_REGISTRATION_H_
#define SHOAL_ACTOR_ENVS_ENV_REGISTRATION_H_

#include <memory>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "absl/status/statusor.h"

#include "actor/envs/env.h"
#include "actor/envs/env_registry.h"
#include "actor/envs/vector_env.h"
#include "actor/envs/vector_env_batch.h"

namespace shoal {
namespace env_registration_internal {

// True when E has StepUnchecked(const Action&, float*) -> StepResult.
template <typename E, typename = void>
struct HasStepUnchecked : std::false_type {};
template <typename E>
struct HasStepUnchecked<
    E, std::enable_if_t<std::is_same_v<
           decltype(std::declval<E&>().StepUnchecked(
               std::declval<const Action&>(), std::declval<float*>())),
           StepResult>>> : std::true_type {};

template <typename E>
absl::StatusOr<std::unique_ptr<Env>> Create(int max_episode_steps) {
  absl::StatusOr<std::unique_ptr<E>> env = E::Create(max_episode_steps);
  if (!env.ok()) return env.status();
  return std::unique_ptr<Env>(*std::move(env));
}

template <typename E>
bool IsExactly(const Env& env) {
  return typeid(env) == typeid(E);
}

}  // namespace env_registration_internal

template <typename E>
BuiltinEnv RegisterEnv(const char* name) {
  static_assert(std::is_base_of_v<Env, E>, "a built-in env derives from Env");
  static_assert(std::is_final_v<E>, "a built-in env class is final");
  namespace internal = env_registration_internal;
  BuiltinEnv env;
  env.name = name;
  env.create = &internal::Create<E>;
  if constexpr (internal::HasStepUnchecked<E>::value) {
    env.is_exactly = &internal::IsExactly<E>;
    env.step_discrete = &VectorEnv::StepDiscreteAs<E>;
    env.step_box = &VectorEnv::StepBoxAs<E>;
  }
  return env;
}

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_REGISTRATION_H_
