// ClassicControlEnv<Derived>: the skeleton the Gymnasium classic-control
// ports (CartPole, Pendulum, Acrobot, MountainCar, MountainCarContinuous)
// share. It owns the EnvSpec and the EpisodeClock, implements Create (with
// the TimeLimit default), Reset, SetState and Step, checks every argument,
// and hands over to Derived's physics only once the arguments are valid.
//
// A CRTP base: Derived is a final class with
//   static constexpr int kDefaultMaxEpisodeSteps, kStateSize,
//       kObservationSize;
//   explicit Derived(int max_episode_steps);  // passes its spec here
//   // Draws an initial state from `rng`.
//   void ResetState(env_internal::SeededRng* rng);
//   // Replaces the state. REQUIRES: `state` has kStateSize values.
//   void LoadState(absl::Span<const double> state);
//   // Steps the physics, then clock().Tick(terminated), then writes the
//   // observation. REQUIRES: an episode is running and `action` is valid.
//   StepResult StepUnchecked(const Action& action, float* observation);
//   void WriteObservation(float* observation) const;
// (all but StepUnchecked may be private if Derived befriends this class).
// Every call into Derived is resolved at compile time, so Step costs no
// virtual call beyond its own, and VectorEnv can call the public, non-virtual
// Derived::StepUnchecked directly after validating a batch.
//
// Thread-compatible (see Env). No allocation after Create.
#ifndef SHOAL_ACTOR_ENVS_CLASSIC_CONTROL_ENV_H_
#define SHOAL_ACTOR_ENVS_CLASSIC_CONTROL_ENV_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/env_util.h"
#include "common/status_macros.h"

namespace shoal {

template <typename Derived>
class ClassicControlEnv : public Env {
 public:
  // `max_episode_steps` 0 means Derived::kDefaultMaxEpisodeSteps; negative
  // is INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<Derived>> Create(
      int max_episode_steps = 0) {
    if (max_episode_steps < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "max_episode_steps must be >= 0, got ", max_episode_steps));
    }
    return std::unique_ptr<Derived>(
        new Derived(max_episode_steps == 0 ? Derived::kDefaultMaxEpisodeSteps
                                           : max_episode_steps));
  }

  const EnvSpec& spec() const final { return spec_; }

  absl::Status Reset(uint64_t seed, absl::Span<float> observation) final {
    SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
        "observation", observation.size(), Derived::kObservationSize));
    env_internal::SeededRng rng(seed);
    derived().ResetState(&rng);
    clock_.Start();
    derived().WriteObservation(observation.data());
    return absl::OkStatus();
  }

  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) final {
    SHOAL_RETURN_IF_ERROR(clock_.CheckActive());
    if (spec_.action_space.discrete()) {
      SHOAL_RETURN_IF_ERROR(env_internal::CheckDiscreteAction(
          action.discrete, spec_.action_space.num_actions));
    } else {
      SHOAL_RETURN_IF_ERROR(
          env_internal::CheckBoxAction(action.box, spec_.action_space.dim()));
    }
    SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
        "observation", observation.size(), Derived::kObservationSize));
    return derived().StepUnchecked(action, observation.data());
  }

  // `state` is Derived's state vector (kStateSize values).
  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) final {
    SHOAL_RETURN_IF_ERROR(
        env_internal::CheckSize("state", state.size(), Derived::kStateSize));
    SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
        "observation", observation.size(), Derived::kObservationSize));
    derived().LoadState(state);
    clock_.Start();
    derived().WriteObservation(observation.data());
    return absl::OkStatus();
  }

 protected:
  // An action space of `num_actions` indices.
  static ActionSpace DiscreteSpace(int64_t num_actions) {
    ActionSpace space;
    space.kind = ActionSpace::Kind::kDiscrete;
    space.num_actions = num_actions;
    return space;
  }
  // The one-dimensional box [low, high].
  static ActionSpace BoxSpace(float low, float high) {
    ActionSpace space;
    space.kind = ActionSpace::Kind::kBox;
    space.low = {low};
    space.high = {high};
    return space;
  }

  // `name` is the registered name; the observation shape is
  // {Derived::kObservationSize}.
  ClassicControlEnv(const char* name, ActionSpace action_space,
                    int max_episode_steps)
      : clock_(max_episode_steps) {
    spec_.name = name;
    spec_.observation_shape = {Derived::kObservationSize};
    spec_.action_space = std::move(action_space);
    spec_.max_episode_steps = max_episode_steps;
  }

  // The TimeLimit counter; Derived::StepUnchecked ticks it once per step.
  env_internal::EpisodeClock& clock() { return clock_; }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  EnvSpec spec_;
  env_internal::EpisodeClock clock_;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_CLASSIC_CONTROL_ENV_H_
