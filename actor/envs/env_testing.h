// Helpers for the env unit tests (header-only, not part of shoal_envs'
// API): building envs and actions, running an episode to its end, and the
// checks every env test repeats (Reset determinism, the TimeLimit).
#ifndef SHOAL_ACTOR_ENVS_ENV_TESTING_H_
#define SHOAL_ACTOR_ENVS_ENV_TESTING_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"

#include "actor/envs/env.h"

namespace shoal {
namespace env_testing {

// E::Create(max_episode_steps) for a built-in env type E, failing the test
// if it fails.
template <typename E>
std::unique_ptr<E> CreateEnv(int max_episode_steps = 0) {
  absl::StatusOr<std::unique_ptr<E>> env = E::Create(max_episode_steps);
  EXPECT_TRUE(env.ok()) << env.status();
  return *std::move(env);
}

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

// Expects Reset(seed) to write observation_size() floats, the same ones
// twice, and Reset(other_seed) other ones. Returns Reset(seed)'s.
inline std::vector<float> ExpectDeterministicReset(Env& env, uint64_t seed,
                                                   uint64_t other_seed) {
  const std::vector<float> first = ResetObservation(env, seed);
  EXPECT_EQ(static_cast<int64_t>(first.size()), env.spec().observation_size());
  EXPECT_EQ(first, ResetObservation(env, seed));
  EXPECT_NE(first, ResetObservation(env, other_seed));
  return first;
}

// Resets `env` with `seed`, steps it with `action` and expects the episode
// to be truncated, not terminated, on step `steps` and not before. Returns
// the run.
inline EpisodeSummary ExpectTruncatedAfter(Env& env, uint64_t seed,
                                           const Action& action, int steps) {
  if (ResetObservation(env, seed).empty()) {
    ADD_FAILURE() << "Reset(" << seed << ") failed";
    return EpisodeSummary();
  }
  const EpisodeSummary run = RunEpisode(env, action, /*max_steps=*/steps + 1);
  EXPECT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.steps, steps);
  EXPECT_TRUE(run.last.truncated);
  EXPECT_FALSE(run.last.terminated);
  return run;
}

}  // namespace env_testing
}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_TESTING_H_
