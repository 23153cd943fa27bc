#include "actor/policy_runner.h"

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "c10/core/InferenceMode.h"
#include "c10/util/Exception.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/torch/tensor_torch.h"

namespace shoal {
namespace {

std::string ShapeString(c10::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

// Copies the `n` elements of `src` (of type T) into `dst`. REQUIRES: sizes
// checked by the caller.
template <typename T>
absl::Status CopyOut(const torch::Tensor& src, torch::ScalarType type,
                     absl::Span<T> dst, const char* what) {
  if (src.scalar_type() != type ||
      src.numel() != static_cast<int64_t>(dst.size())) {
    return absl::InternalError(
        absl::StrCat("policy output ", what, ": expected ", dst.size(),
                     " elements of ", c10::toString(type), ", got ",
                     src.numel(), " of ", c10::toString(src.scalar_type())));
  }
  const torch::Tensor contiguous = src.contiguous();
  std::memcpy(dst.data(), contiguous.data_ptr<T>(), dst.size() * sizeof(T));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyRunner>> PolicyRunner::Create(
    const ExperimentConfig& config, const EnvSpec& spec,
    const PolicyRunnerOptions& options, absl::Span<const float> observations) {
  if (options.num_actors < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_actors must be >= 1, got ", options.num_actors));
  }
  if (options.actor_index < 0 || options.actor_index >= options.num_actors) {
    return absl::InvalidArgumentError(
        absl::StrCat("actor_index must be in [0, ", options.num_actors,
                     "), got ", options.actor_index));
  }
  const int64_t num_envs = config.actor.num_envs;
  const int64_t obs_size = spec.observation_size();
  if (num_envs < 1 ||
      static_cast<int64_t>(observations.size()) != num_envs * obs_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("observations: expected actor.num_envs (", num_envs,
                     ") * ", obs_size, " floats, got ", observations.size()));
  }
  const EnvShape shape = EnvShapeOf(spec);
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<ActorPolicy> initial,
                         MakePolicy(config, shape));
  SetIntraOpThreads(static_cast<int>(config.actor.inference_threads));
  torch::Tensor input;
  try {
    input = torch::from_blob(const_cast<float*>(observations.data()),
                             {num_envs, obs_size}, torch::kFloat32);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("wrapping observations: ", e.what_without_backtrace()));
  }
  return std::unique_ptr<PolicyRunner>(
      new PolicyRunner(config, shape, options, static_cast<int>(num_envs),
                       std::move(input), std::move(initial)));
}

PolicyRunner::PolicyRunner(const ExperimentConfig& config,
                           const EnvShape& shape,
                           const PolicyRunnerOptions& options, int num_envs,
                           torch::Tensor input,
                           std::shared_ptr<ActorPolicy> initial)
    : config_(config),
      shape_(shape),
      num_envs_(num_envs),
      act_options_{/*deterministic=*/options.eval,
                   /*epsilon=*/(config.algorithm.name == AlgorithmKind::kDqn &&
                                !options.eval)
                       ? ApeXEpsilon(config.algorithm.dqn.epsilon,
                                     config.algorithm.dqn.epsilon_alpha,
                                     options.actor_index, options.num_actors)
                       : 0.0},
      input_(std::move(input)),
      policy_(std::move(initial)),
      initial_(config.actor.initial_policy),
      rng_(options.seed) {}

absl::StatusOr<int64_t> PolicyRunner::Act(absl::Span<int64_t> discrete_actions,
                                          absl::Span<float> box_actions,
                                          absl::Span<float> log_probs) {
  const size_t k = static_cast<size_t>(num_envs_);
  const size_t box_size = shape_.discrete ? 0 : k * shape_.action_dim();
  if (discrete_actions.size() != (shape_.discrete ? k : 0) ||
      box_actions.size() != box_size ||
      (!log_probs.empty() && log_probs.size() != k)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Act: expected ", shape_.discrete ? k : 0,
                     " discrete actions, ", box_size, " box floats and 0 or ",
                     k, " log-probs, got ", discrete_actions.size(), ", ",
                     box_actions.size(), ", ", log_probs.size()));
  }
  if (pending_version_.load(std::memory_order_acquire) != policy_version_) {
    std::shared_ptr<ActorPolicy> old;
    {
      absl::MutexLock lock(&mu_);
      old = std::exchange(policy_, next_);
      policy_version_ = next_version_;
      policy_published_ = next_published_;
      next_.reset();
    }
    initial_ = InitialPolicy::kRandomWeights;
    // `old` is freed here, outside the lock.
  }
  if (initial_ == InitialPolicy::kUniform) {
    ActUniform(discrete_actions, box_actions, log_probs);
  } else if (initial_ == InitialPolicy::kZero) {
    ActZero(discrete_actions, box_actions, log_probs);
  } else {
    c10::InferenceMode inference;
    absl::StatusOr<ActOutput> out = policy_->Act(input_, act_options_);
    if (!out.ok()) return out.status();
    if (shape_.discrete) {
      SHOAL_RETURN_IF_ERROR(
          CopyOut(out->action, torch::kInt64, discrete_actions, "action"));
    } else {
      SHOAL_RETURN_IF_ERROR(
          CopyOut(out->action, torch::kFloat32, box_actions, "action"));
    }
    if (!log_probs.empty()) {
      SHOAL_RETURN_IF_ERROR(
          CopyOut(out->log_prob, torch::kFloat32, log_probs, "log_prob"));
    }
  }
  acting_version_.store(policy_version_, std::memory_order_relaxed);
  return policy_version_;
}

void PolicyRunner::ActZero(absl::Span<int64_t> discrete_actions,
                           absl::Span<float> box_actions,
                           absl::Span<float> log_probs) {
  std::fill(discrete_actions.begin(), discrete_actions.end(), 0);
  std::fill(box_actions.begin(), box_actions.end(), 0.0f);
  std::fill(log_probs.begin(), log_probs.end(), 0.0f);
}

void PolicyRunner::ActUniform(absl::Span<int64_t> discrete_actions,
                              absl::Span<float> box_actions,
                              absl::Span<float> log_probs) {
  float log_prob = 0.0f;
  if (shape_.discrete) {
    std::uniform_int_distribution<int64_t> pick(0, shape_.num_actions - 1);
    for (int64_t& a : discrete_actions) a = pick(rng_);
    log_prob = -std::log(static_cast<float>(shape_.num_actions));
  } else {
    const size_t dim = shape_.low.size();
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    for (size_t i = 0; i < box_actions.size(); ++i) {
      const size_t d = i % dim;
      box_actions[i] =
          shape_.low[d] + unit(rng_) * (shape_.high[d] - shape_.low[d]);
    }
    for (size_t d = 0; d < dim; ++d) {
      log_prob -= std::log(shape_.high[d] - shape_.low[d]);
    }
  }
  for (float& lp : log_probs) lp = log_prob;
}

absl::Status PolicyRunner::Load(const v1::Parameters& parameters,
                                absl::Time published) {
  absl::MutexLock load_lock(&load_mu_);
  const int64_t version = parameters.version();
  if (version <= pending_version_.load()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameters version ", version, " is not above the loaded version ",
        pending_version_.load()));
  }
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<ActorPolicy> module,
                         MakePolicy(config_, shape_));
  try {
    torch::NoGradGuard no_grad;
    absl::flat_hash_map<std::string, torch::Tensor> targets;
    for (const auto& p : module->named_parameters()) {
      targets.emplace(p.key(), p.value());
    }
    for (const auto& b : module->named_buffers()) {
      targets.emplace(b.key(), b.value());
    }
    if (static_cast<size_t>(parameters.tensors_size()) != targets.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameters version ", version, ": ", parameters.tensors_size(),
          " tensors, the policy has ", targets.size()));
    }
    absl::flat_hash_map<std::string, torch::Tensor> sources;
    for (const v1::NamedTensor& named : parameters.tensors()) {
      const std::string field = absl::StrCat("parameters version ", version,
                                             " tensor '", named.name(), "'");
      auto target = targets.find(named.name());
      if (target == targets.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": not in the policy"));
      }
      SHOAL_ASSIGN_OR_RETURN(torch::Tensor source,
                             ToTorchView(named.tensor(), field));
      if (source.sizes() != target->second.sizes() ||
          source.scalar_type() != target->second.scalar_type()) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": expected ", c10::toString(target->second.scalar_type()),
            " ", ShapeString(target->second.sizes()), ", got ",
            c10::toString(source.scalar_type()), " ",
            ShapeString(source.sizes())));
      }
      if (!sources.emplace(named.name(), std::move(source)).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": appears twice"));
      }
    }
    // Every name checked: copy.
    for (auto& [name, source] : sources) targets[name].copy_(source);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameters version ", version,
                     ": loading failed: ", e.what_without_backtrace()));
  }
  absl::MutexLock lock(&mu_);
  next_ = std::move(module);
  next_version_ = version;
  next_published_ = published;
  pending_version_.store(version, std::memory_order_release);
  return absl::OkStatus();
}

void PolicyRunner::OnParameters(
    std::shared_ptr<const v1::Parameters> parameters, absl::Time published) {
  if (parameters == nullptr) return;
  absl::Status loaded = Load(*parameters, published);
  if (!loaded.ok()) {
    rejected_.fetch_add(1);
    spdlog::warn("refused parameters (keeping version {}): {}",
                 pending_version_.load(), loaded.ToString());
  }
}

}  // namespace shoal
