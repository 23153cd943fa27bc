#include "actor/envs/vector_env.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"

#include "actor/envs/acrobot.h"
#include "actor/envs/cartpole.h"
#include "actor/envs/env_util.h"
#include "actor/envs/ks.h"
#include "actor/envs/mountain_car.h"
#include "actor/envs/mountain_car_continuous.h"
#include "actor/envs/pendulum.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

bool SameSpace(const EnvSpec& a, const EnvSpec& b) {
  return a.observation_shape == b.observation_shape &&
         a.action_space.kind == b.action_space.kind &&
         a.action_space.num_actions == b.action_space.num_actions &&
         a.action_space.low == b.action_space.low &&
         a.action_space.high == b.action_space.high;
}

// True when every env is exactly an `E` (all built-in envs are final).
template <typename E>
bool AllAre(const std::vector<std::unique_ptr<Env>>& envs) {
  for (const std::unique_ptr<Env>& env : envs) {
    if (dynamic_cast<E*>(env.get()) == nullptr) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<VectorEnv>> VectorEnv::Create(
    const EnvOptions& options, int num_envs, uint64_t base_seed) {
  if (num_envs <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_envs must be > 0, got ", num_envs));
  }
  std::vector<std::unique_ptr<Env>> envs;
  envs.reserve(num_envs);
  for (int i = 0; i < num_envs; ++i) {
    SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> env, MakeEnv(options));
    envs.push_back(std::move(env));
  }
  return Create(std::move(envs), base_seed);
}

absl::StatusOr<std::unique_ptr<VectorEnv>> VectorEnv::Create(
    std::vector<std::unique_ptr<Env>> envs, uint64_t base_seed) {
  if (envs.empty()) {
    return absl::InvalidArgumentError("VectorEnv needs at least one env");
  }
  for (size_t i = 0; i < envs.size(); ++i) {
    if (envs[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("env ", i, " is null"));
    }
    if (!SameSpace(envs[i]->spec(), envs[0]->spec())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "env ", i, " (\"", envs[i]->spec().name,
          "\") has other observation or action spaces than env 0 (\"",
          envs[0]->spec().name, "\")"));
    }
  }
  return std::unique_ptr<VectorEnv>(new VectorEnv(std::move(envs), base_seed));
}

VectorEnv::VectorEnv(std::vector<std::unique_ptr<Env>> envs, uint64_t base_seed)
    : envs_(std::move(envs)),
      base_seed_(base_seed),
      observation_size_(envs_[0]->spec().observation_size()),
      action_dim_(envs_[0]->spec().action_space.dim()),
      kind_(Kind::kGeneric),
      episodes_started_(envs_.size(), 0),
      needs_reset_(envs_.size(), 0) {
  if (AllAre<CartPole>(envs_)) {
    kind_ = Kind::kCartPole;
  } else if (AllAre<Pendulum>(envs_)) {
    kind_ = Kind::kPendulum;
  } else if (AllAre<Acrobot>(envs_)) {
    kind_ = Kind::kAcrobot;
  } else if (AllAre<MountainCar>(envs_)) {
    kind_ = Kind::kMountainCar;
  } else if (AllAre<MountainCarContinuous>(envs_)) {
    kind_ = Kind::kMountainCarContinuous;
  } else if (AllAre<Ks>(envs_)) {
    kind_ = Kind::kKs;
  }
}

absl::Status VectorEnv::ResetOne(int i, float* observation) {
  const uint64_t seed =
      EpisodeSeed(base_seed_ + static_cast<uint64_t>(i), episodes_started_[i]);
  ++episodes_started_[i];
  needs_reset_[i] = 0;
  absl::Status status = envs_[i]->Reset(
      seed,
      absl::MakeSpan(observation, static_cast<size_t>(observation_size_)));
  if (ABSL_PREDICT_FALSE(!status.ok())) {
    return absl::Status(status.code(), absl::StrCat("resetting env ", i, ": ",
                                                    status.message()));
  }
  return absl::OkStatus();
}

absl::Status VectorEnv::Reset(absl::Span<float> observations) {
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observations", observations.size(), num_envs() * observation_size_));
  for (int i = 0; i < num_envs(); ++i) {
    SHOAL_RETURN_IF_ERROR(
        ResetOne(i, observations.data() + i * observation_size_));
  }
  started_ = true;
  return absl::OkStatus();
}

absl::Status VectorEnv::CheckOutputs(const VectorStepOutputs& out) const {
  if (ABSL_PREDICT_FALSE(!started_)) {
    return absl::FailedPreconditionError("VectorEnv::Step before Reset");
  }
  const int n = num_envs();
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observations", out.observations.size(), n * observation_size_));
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("rewards", out.rewards.size(), n));
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("terminated", out.terminated.size(), n));
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("truncated", out.truncated.size(), n));
  if (!out.is_first.empty()) {
    SHOAL_RETURN_IF_ERROR(
        env_internal::CheckSize("is_first", out.is_first.size(), n));
  }
  return absl::OkStatus();
}

absl::Status VectorEnv::ValidateDiscrete(
    absl::Span<const int64_t> actions) const {
  if (ABSL_PREDICT_FALSE(!spec().action_space.discrete())) {
    return absl::InvalidArgumentError(
        absl::StrCat("env \"", spec().name,
                     "\" has a box action space; pass float actions"));
  }
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("actions", actions.size(), num_envs()));
  const int64_t num_actions = spec().action_space.num_actions;
  for (int i = 0; i < num_envs(); ++i) {
    if (needs_reset_[i]) continue;
    if (ABSL_PREDICT_FALSE(actions[i] < 0 || actions[i] >= num_actions)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "env ", i, ": ",
          env_internal::DiscreteActionError(actions[i], num_actions)
              .message()));
    }
  }
  return absl::OkStatus();
}

absl::Status VectorEnv::ValidateBox(absl::Span<const float> actions) const {
  if (ABSL_PREDICT_FALSE(spec().action_space.discrete())) {
    return absl::InvalidArgumentError(
        absl::StrCat("env \"", spec().name,
                     "\" has a discrete action space; pass int64 actions"));
  }
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "actions", actions.size(), int64_t{num_envs()} * action_dim_));
  for (int i = 0; i < num_envs(); ++i) {
    if (needs_reset_[i]) continue;
    absl::Status status = env_internal::CheckBoxAction(
        actions.subspan(i * action_dim_, action_dim_), action_dim_);
    if (ABSL_PREDICT_FALSE(!status.ok())) {
      return absl::InvalidArgumentError(
          absl::StrCat("env ", i, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

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

template <typename ActionAt>
absl::Status VectorEnv::Dispatch(const ActionAt& action_at,
                                 const VectorStepOutputs& out) {
  switch (kind_) {
    case Kind::kCartPole:
      return StepAll<CartPole>(action_at, out);
    case Kind::kPendulum:
      return StepAll<Pendulum>(action_at, out);
    case Kind::kAcrobot:
      return StepAll<Acrobot>(action_at, out);
    case Kind::kMountainCar:
      return StepAll<MountainCar>(action_at, out);
    case Kind::kMountainCarContinuous:
      return StepAll<MountainCarContinuous>(action_at, out);
    case Kind::kKs:
      return StepAll<Ks>(action_at, out);
    case Kind::kGeneric:
      break;
  }
  return StepAll<Env>(action_at, out);
}

absl::Status VectorEnv::Step(absl::Span<const int64_t> actions,
                             const VectorStepOutputs& out) {
  SHOAL_RETURN_IF_ERROR(CheckOutputs(out));
  SHOAL_RETURN_IF_ERROR(ValidateDiscrete(actions));
  return Dispatch(
      [actions](int i) {
        Action action;
        action.discrete = actions[i];
        return action;
      },
      out);
}

absl::Status VectorEnv::Step(absl::Span<const float> actions,
                             const VectorStepOutputs& out) {
  SHOAL_RETURN_IF_ERROR(CheckOutputs(out));
  SHOAL_RETURN_IF_ERROR(ValidateBox(actions));
  const int dim = action_dim_;
  return Dispatch(
      [actions, dim](int i) {
        Action action;
        action.box = actions.subspan(i * dim, dim);
        return action;
      },
      out);
}

}  // namespace shoal
