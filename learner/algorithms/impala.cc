#include "learner/algorithms/impala.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "torch/torch.h"

#include "common/status_macros.h"
#include "learner/algorithms/algorithm_util.h"
#include "learner/algorithms/losses.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<ImpalaAlgorithm>> ImpalaAlgorithm::Create(
    const ExperimentConfig& config, const EnvShape& shape,
    torch::Device device) {
  if (!shape.discrete || shape.num_actions < 1) {
    return absl::InvalidArgumentError(
        "impala needs a discrete action space with >= 1 actions");
  }
  if (shape.observation_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observation_size must be > 0, got ", shape.observation_size));
  }
  try {
    return std::unique_ptr<ImpalaAlgorithm>(
        new ImpalaAlgorithm(config, shape, device));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("building impala: ", e.what_without_backtrace()));
  }
}

ImpalaAlgorithm::ImpalaAlgorithm(const ExperimentConfig& config,
                                 const EnvShape& shape, torch::Device device)
    : config_(config.algorithm),
      shape_(shape),
      device_(device),
      value_head_(MakeValueHead(config.algorithm.value_loss)) {
  net_ = CategoricalPolicy(shape.observation_size, shape.num_actions,
                           config.network, value_head_);
  net_->to(device);
  optim_ = MakeAdam(net_->parameters(), config_.optimizer.learning_rate,
                    config_.optimizer);
}

absl::StatusOr<UpdateResult> ImpalaAlgorithm::Update(const Batch& batch) {
  try {
    return UpdateOrThrow(batch);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("impala update at step ", step_,
                                            ": ", e.what_without_backtrace()));
  }
}

absl::StatusOr<UpdateResult> ImpalaAlgorithm::UpdateOrThrow(
    const Batch& batch) {
  const int64_t obs_size = shape_.observation_size;
  SHOAL_ASSIGN_OR_RETURN(torch::Tensor obs,
                         GetColumn(batch, "observation", torch::kFloat32,
                                   {-1, -1, obs_size}, device_));
  const int64_t b = obs.size(0);
  const int64_t steps = obs.size(1) - 1;
  if (steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "column 'observation' must hold T+1 >= 2 steps, got ", obs.size(1)));
  }
  SHOAL_ASSIGN_OR_RETURN(
      torch::Tensor action,
      GetColumn(batch, "action", torch::kInt64, {b, steps}, device_));
  SHOAL_ASSIGN_OR_RETURN(
      torch::Tensor reward,
      GetColumn(batch, "reward", torch::kFloat32, {b, steps}, device_));
  SHOAL_ASSIGN_OR_RETURN(
      torch::Tensor discount,
      GetColumn(batch, "discount", torch::kFloat32, {b, steps}, device_));
  SHOAL_ASSIGN_OR_RETURN(torch::Tensor behaviour_log_prob,
                         GetColumn(batch, "behaviour_log_prob", torch::kFloat32,
                                   {b, steps}, device_));
  SHOAL_ASSIGN_OR_RETURN(torch::Tensor weights,
                         GetImportanceWeights(batch, b, device_));
  SHOAL_RETURN_IF_ERROR(CheckActionRange(action, shape_.num_actions));
  // `mask` (optional) is 1 on real steps and 0 on the padding after an
  // episode that ended inside the unroll (actor/unroll_builder.h).
  torch::Tensor mask = torch::ones({b, steps}, reward.options());
  if (batch.columns.contains("mask")) {
    SHOAL_ASSIGN_OR_RETURN(
        mask, GetColumn(batch, "mask", torch::kFloat32, {b, steps}, device_));
  }
  // Loss terms are averaged over real steps only.
  weights = weights.unsqueeze(1) * mask;  // [B, T]
  const torch::Tensor real_steps = mask.sum().clamp_min(1.0);

  auto [all_logits, value_out] = net_->forward(obs);
  torch::Tensor values = ValueFromOutput(value_out, value_head_);  // [B, T+1]
  torch::Tensor log_probs =
      torch::log_softmax(all_logits.narrow(1, 0, steps), -1);  // [B, T, A]
  torch::Tensor action_log_prob =
      log_probs.gather(2, action.unsqueeze(2)).squeeze(2);  // [B, T]
  // rho = c = 0 on padding: vs = V there, and nothing flows back from it.
  torch::Tensor log_rhos = (action_log_prob.detach() - behaviour_log_prob)
                               .masked_fill(mask == 0, -1e30);
  VTraceReturns vtrace = VTrace(
      log_rhos, discount, reward, values.narrow(1, 0, steps),
      values.select(1, steps), config_.impala.rho_bar, config_.impala.c_bar);

  torch::Tensor pg_loss =
      -(weights * action_log_prob * vtrace.pg_advantages).sum() / real_steps;
  torch::Tensor baseline_item;
  if (value_head_.distributional()) {
    torch::Tensor logits = value_out.narrow(1, 0, steps);
    baseline_item = SoftCrossEntropy(
        logits.reshape({b * steps, -1}),
        HlGaussProjection(vtrace.vs.reshape({b * steps}), config_.value_loss));
    baseline_item = baseline_item.view({b, steps});
  } else {
    baseline_item = 0.5 * (vtrace.vs - values.narrow(1, 0, steps)).square();
  }
  torch::Tensor baseline_loss = (weights * baseline_item).sum() / real_steps;
  torch::Tensor entropy =
      (weights * -(log_probs.exp() * log_probs).sum(-1)).sum() / real_steps;
  torch::Tensor loss = pg_loss + config_.impala.baseline_cost * baseline_loss -
                       config_.impala.entropy_cost * entropy;

  SHOAL_ASSIGN_OR_RETURN(
      UpdateResult result,
      GatherScalars(
          "impala", step_,
          {{"loss", loss},
           {"pg_loss", pg_loss},
           {"baseline_loss", baseline_loss},
           {"entropy", entropy},
           {"value_mean", values.mean()},
           {"vs_mean", vtrace.vs.mean()},
           {"rho_mean", (log_rhos.exp() * mask).sum() / real_steps}}));
  optim_->zero_grad();
  loss.backward();
  ClipGradients(net_->parameters(), config_.optimizer.max_grad_norm);
  optim_->step();
  ++step_;
  return result;
}

absl::Status ImpalaAlgorithm::Save(const std::string& path) {
  return WriteArchive(path, [&](torch::serialize::OutputArchive& archive) {
    WriteModule(archive, "net", *net_);
    WriteOptimizer(archive, "optim", *optim_);
    WriteCommon(archive, step_, device_);
  });
}

absl::Status ImpalaAlgorithm::Load(const std::string& path) {
  int64_t step = 0;
  SHOAL_RETURN_IF_ERROR(
      ReadArchive(path, device_, [&](torch::serialize::InputArchive& archive) {
        ReadModule(archive, "net", *net_);
        ReadOptimizer(archive, "optim", *optim_);
        step = ReadCommon(archive, device_);
      }));
  step_ = step;
  return absl::OkStatus();
}

}  // namespace shoal
