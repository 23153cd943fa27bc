#include "actor/envs/vector_env.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"

#include "actor/envs/env_registry.h"
#include "actor/envs/env_util.h"
#include "actor/envs/vector_env_batch.h"
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

// The built-in that every env exactly is, when it has batch steppers;
// else nullptr. A wrapper (PacedEnv) or a remote env with a built-in's
// name is not one.
const BuiltinEnv* BatchableBuiltin(
    const std::vector<std::unique_ptr<Env>>& envs) {
  const BuiltinEnv* builtin = FindBuiltinEnv(envs[0]->spec().name);
  if (builtin == nullptr || builtin->is_exactly == nullptr) return nullptr;
  for (const std::unique_ptr<Env>& env : envs) {
    if (!builtin->is_exactly(*env)) return nullptr;
  }
  return builtin;
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
      batch_(BatchableBuiltin(envs_)),
      episodes_started_(envs_.size(), 0),
      needs_reset_(envs_.size(), 0) {}

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

absl::Status VectorEnv::Step(absl::Span<const int64_t> actions,
                             const VectorStepOutputs& out) {
  SHOAL_RETURN_IF_ERROR(CheckOutputs(out));
  SHOAL_RETURN_IF_ERROR(ValidateDiscrete(actions));
  if (batch_ != nullptr) return batch_->step_discrete(this, actions, out);
  return StepAll<Env>(DiscreteActionAt{actions}, out);
}

absl::Status VectorEnv::Step(absl::Span<const float> actions,
                             const VectorStepOutputs& out) {
  SHOAL_RETURN_IF_ERROR(CheckOutputs(out));
  SHOAL_RETURN_IF_ERROR(ValidateBox(actions));
  if (batch_ != nullptr) return batch_->step_box(this, actions, out);
  return StepAll<Env>(BoxActionAt{actions, action_dim_}, out);
}

}  // namespace shoal
