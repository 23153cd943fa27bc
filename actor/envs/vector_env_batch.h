// VectorEnv's step loop, as templates: StepAll<E> steps a batch without
// virtual calls when E is the sub-envs' concrete class (Env: through
// Env::Step). Included by vector_env.cc and env_registration.h, so each
// built-in registered in builtin_envs.cc gets its own instantiation.
// Internal to actor/envs.
//
// Thread-compatible, as VectorEnv.
#ifndef SHOAL_ACTOR_ENVS_VECTOR_ENV_BATCH_H_
#define SHOAL_ACTOR_ENVS_VECTOR_ENV_BATCH_H_

#include <cstdint>
#include <type_traits>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/vector_env.h"
#include "common/status_macros.h"

namespace shoal {

struct VectorEnv::DiscreteActionAt {
  absl::Span<const int64_t> actions;

  Action operator()(int i) const {
    Action action;
    action.discrete = actions[i];
    return action;
  }
};

struct VectorEnv::BoxActionAt {
  absl::Span<const float> actions;
  int dim;

  Action operator()(int i) const {
    Action action;
    action.box = actions.subspan(static_cast<size_t>(i) * dim, dim);
    return action;
  }
};

template <typename E, typename ActionAt>
absl::Status VectorEnv::StepAll(const ActionAt& action_at,
                                const VectorStepOutputs& out) {
  const int n = num_envs();
  const bool want_first = !out.is_first.empty();
  for (int i = 0; i < n; ++i) {
    float* observation = out.observations.data() + i * observation_size_;
    const bool reset = needs_reset_[i] != 0;
    if (want_first) out.is_first[i] = reset;
    if (reset) {
      SHOAL_RETURN_IF_ERROR(ResetOne(i, observation));
      out.rewards[i] = 0.0f;
      out.terminated[i] = false;
      out.truncated[i] = false;
      continue;
    }
    StepResult result;
    if constexpr (std::is_same_v<E, Env>) {
      absl::StatusOr<StepResult> stepped = envs_[i]->Step(
          action_at(i),
          absl::MakeSpan(observation, static_cast<size_t>(observation_size_)));
      if (ABSL_PREDICT_FALSE(!stepped.ok())) {
        return absl::Status(
            stepped.status().code(),
            absl::StrCat("env ", i, ": ", stepped.status().message()));
      }
      result = *stepped;
    } else {
      result = static_cast<E*>(envs_[i].get())
                   ->StepUnchecked(action_at(i), observation);
    }
    out.rewards[i] = static_cast<float>(result.reward);
    out.terminated[i] = result.terminated;
    out.truncated[i] = result.truncated;
    needs_reset_[i] = result.terminated || result.truncated;
  }
  return absl::OkStatus();
}

template <typename E>
absl::Status VectorEnv::StepDiscreteAs(VectorEnv* envs,
                                       absl::Span<const int64_t> actions,
                                       const VectorStepOutputs& out) {
  return envs->StepAll<E>(DiscreteActionAt{actions}, out);
}

template <typename E>
absl::Status VectorEnv::StepBoxAs(VectorEnv* envs,
                                  absl::Span<const float> actions,
                                  const VectorStepOutputs& out) {
  return envs->StepAll<E>(BoxActionAt{actions, envs->action_dim_}, out);
}

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_VECTOR_ENV_BATCH_H_
