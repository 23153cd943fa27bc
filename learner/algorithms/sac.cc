#include "learner/algorithms/sac.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "torch/torch.h"

#include "common/status_macros.h"
#include "learner/algorithms/algorithm_util.h"
#include "learner/algorithms/losses.h"

namespace shoal {
namespace {

// Per-item critic loss of one Q head's raw output against targets `y` [B].
torch::Tensor CriticItemLoss(const torch::Tensor& out, const torch::Tensor& y,
                             const torch::Tensor& target_probs,
                             const ValueHead& head) {
  if (head.distributional()) return SoftCrossEntropy(out, target_probs);
  return (out.squeeze(-1) - y).square();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SacAlgorithm>> SacAlgorithm::Create(
    const ExperimentConfig& config, const EnvShape& shape,
    torch::Device device) {
  if (shape.discrete || shape.low.empty() ||
      shape.low.size() != shape.high.size()) {
    return absl::InvalidArgumentError(
        "sac needs a box action space with matching low/high bounds");
  }
  if (shape.observation_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observation_size must be > 0, got ", shape.observation_size));
  }
  try {
    return std::unique_ptr<SacAlgorithm>(
        new SacAlgorithm(config, shape, device));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("building sac: ", e.what_without_backtrace()));
  }
}

SacAlgorithm::SacAlgorithm(const ExperimentConfig& config,
                           const EnvShape& shape, torch::Device device)
    : config_(config.algorithm),
      shape_(shape),
      device_(device),
      target_entropy_(config.algorithm.sac.target_entropy.value_or(
          -static_cast<double>(shape.action_dim()))),
      value_head_(MakeValueHead(config.algorithm.value_loss)) {
  const SacConfig& sac = config_.sac;
  actor_ = GaussianPolicy(shape.observation_size, shape.low, shape.high,
                          config.network);
  critic_ = ContinuousCritic(shape.observation_size, shape.action_dim(),
                             config.network, value_head_);
  target_critic_ = ContinuousCritic(shape.observation_size, shape.action_dim(),
                                    config.network, value_head_);
  actor_->to(device);
  critic_->to(device);
  target_critic_->to(device);
  HardUpdate(*target_critic_, *critic_);
  for (torch::Tensor& p : target_critic_->parameters()) p.requires_grad_(false);
  log_alpha_ = torch::full({}, std::log(sac.init_alpha),
                           torch::dtype(torch::kFloat32).device(device))
                   .requires_grad_(sac.learn_alpha);
  actor_optim_ = MakeAdam(actor_->parameters(), sac.actor_learning_rate,
                          config_.optimizer);
  critic_optim_ = MakeAdam(critic_->parameters(), sac.critic_learning_rate,
                           config_.optimizer);
  alpha_optim_ =
      MakeAdam({log_alpha_}, sac.alpha_learning_rate, config_.optimizer);
}

double SacAlgorithm::alpha() const {
  return std::exp(log_alpha_.detach().cpu().item<double>());
}

absl::StatusOr<UpdateResult> SacAlgorithm::Update(const Batch& batch) {
  try {
    return UpdateOrThrow(batch);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sac update at step ", step_, ": ",
                                            e.what_without_backtrace()));
  }
}

absl::StatusOr<UpdateResult> SacAlgorithm::UpdateOrThrow(const Batch& batch) {
  SHOAL_ASSIGN_OR_RETURN(Transitions t, GetTransitions(batch, shape_, device_));
  torch::Tensor alpha = log_alpha_.detach().exp();

  // Critic targets from the target critic and a fresh next action.
  torch::Tensor y, target_probs;
  {
    torch::NoGradGuard no_grad;
    GaussianPolicyImpl::Sample next = actor_->forward(t.next_observation);
    auto [tq1, tq2] = target_critic_->forward(t.next_observation, next.action);
    torch::Tensor next_v = torch::min(ValueFromOutput(tq1, value_head_),
                                      ValueFromOutput(tq2, value_head_));
    y = t.reward + t.discount * (next_v - alpha * next.log_prob);
    if (value_head_.distributional()) {
      target_probs = HlGaussProjection(y, config_.value_loss);
    }
  }
  auto [q1, q2] = critic_->forward(t.observation, t.action);
  torch::Tensor critic_loss =
      (t.weights * (CriticItemLoss(q1, y, target_probs, value_head_) +
                    CriticItemLoss(q2, y, target_probs, value_head_)))
          .mean();

  // Actor loss through the (pre-update) critic.
  GaussianPolicyImpl::Sample pi = actor_->forward(t.observation);
  auto [pq1, pq2] = critic_->forward(t.observation, pi.action);
  torch::Tensor pi_q = torch::min(ValueFromOutput(pq1, value_head_),
                                  ValueFromOutput(pq2, value_head_));
  torch::Tensor actor_loss = (alpha * pi.log_prob - pi_q).mean();

  torch::Tensor alpha_loss =
      -(log_alpha_ * (pi.log_prob.detach() + target_entropy_)).mean();

  SHOAL_ASSIGN_OR_RETURN(
      UpdateResult result,
      GatherScalars("sac", step_,
                    {{"critic_loss", critic_loss},
                     {"actor_loss", actor_loss},
                     {"alpha_loss", alpha_loss},
                     {"alpha", alpha},
                     {"q_mean", ValueFromOutput(q1, value_head_).mean()},
                     {"target_mean", y.mean()},
                     {"entropy", -pi.log_prob.mean()}}));

  // Actor gradients only reach the actor's parameters.
  std::vector<torch::Tensor> actor_params = actor_->parameters();
  std::vector<torch::Tensor> actor_grads =
      torch::autograd::grad({actor_loss}, actor_params);
  for (size_t i = 0; i < actor_params.size(); ++i) {
    actor_params[i].mutable_grad() = actor_grads[i];
  }
  critic_optim_->zero_grad();
  critic_loss.backward();
  ClipGradients(actor_params, config_.optimizer.max_grad_norm);
  ClipGradients(critic_->parameters(), config_.optimizer.max_grad_norm);
  critic_optim_->step();
  actor_optim_->step();
  if (config_.sac.learn_alpha) {
    alpha_optim_->zero_grad();
    alpha_loss.backward();
    alpha_optim_->step();
  }
  PolyakUpdate(*target_critic_, *critic_, config_.sac.tau);
  ++step_;
  return result;
}

absl::Status SacAlgorithm::Save(const std::string& path) {
  return WriteArchive(path, [&](torch::serialize::OutputArchive& archive) {
    WriteModule(archive, "actor", *actor_);
    WriteModule(archive, "critic", *critic_);
    WriteModule(archive, "target_critic", *target_critic_);
    archive.write("log_alpha", log_alpha_.detach());
    WriteOptimizer(archive, "actor_optim", *actor_optim_);
    WriteOptimizer(archive, "critic_optim", *critic_optim_);
    WriteOptimizer(archive, "alpha_optim", *alpha_optim_);
    WriteCommon(archive, step_, device_);
  });
}

absl::Status SacAlgorithm::Load(const std::string& path) {
  int64_t step = 0;
  SHOAL_RETURN_IF_ERROR(
      ReadArchive(path, device_, [&](torch::serialize::InputArchive& archive) {
        ReadModule(archive, "actor", *actor_);
        ReadModule(archive, "critic", *critic_);
        ReadModule(archive, "target_critic", *target_critic_);
        ReadInto(archive, "log_alpha", log_alpha_);
        ReadOptimizer(archive, "actor_optim", *actor_optim_);
        ReadOptimizer(archive, "critic_optim", *critic_optim_);
        ReadOptimizer(archive, "alpha_optim", *alpha_optim_);
        step = ReadCommon(archive, device_);
      }));
  step_ = step;
  return absl::OkStatus();
}

}  // namespace shoal
