// Helpers for the env unit tests (header-only, not part of shoal_envs'
// API): building envs and actions, and running an episode to its end.
#ifndef SHOAL_ACTOR_ENVS_ENV_TESTING_H_
#define SHOAL_ACTOR_ENVS_ENV_TESTING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"

namespace shoal {
namespace env_testing {

inline Action DiscreteAction(int64_t a) {
  Action action;
  action.discrete = a;
  return action;
}

// REQUIRES: `values` outlives the returned Action.
inline Action BoxAction(const std::vector<float>& values) {
  Action action;
  action.box = values;
  return action;
}

// The observation of a fresh Reset(seed).
inline std::vector<float> ResetObservation(Env& env, uint64_t seed) {
  std::vector<float> obs(env.spec().observation_size());
  if (!env.Reset(seed, absl::MakeSpan(obs)).ok()) obs.clear();
  return obs;
}

// What happened over an episode run with one fixed action.
struct EpisodeSummary {
  int steps = 0;
  double total_reward = 0.0;
  // Steps before the last that reported terminated or truncated.
  int early_flags = 0;
  StepResult last;
  absl::Status status;
};

// Steps `env` with `action` until terminated or truncated, at most
// `max_steps` steps. REQUIRES: an episode is running.
inline EpisodeSummary RunEpisode(Env& env, const Action& action,
                                 int max_steps) {
  EpisodeSummary summary;
  std::vector<float> obs(env.spec().observation_size());
  while (summary.steps < max_steps) {
    absl::StatusOr<StepResult> result = env.Step(action, absl::MakeSpan(obs));
    if (!result.ok()) {
      summary.status = result.status();
      return summary;
    }
    ++summary.steps;
    summary.total_reward += result->reward;
    summary.last = *result;
    if (result->terminated || result->truncated) return summary;
  }
  return summary;
}

}  // namespace env_testing
}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_TESTING_H_
