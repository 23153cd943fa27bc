#include "learner/algorithms/dqn.h"

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

absl::StatusOr<std::unique_ptr<DqnAlgorithm>> DqnAlgorithm::Create(
    const ExperimentConfig& config, const EnvShape& shape,
    torch::Device device) {
  if (!shape.discrete || shape.num_actions < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dqn needs a discrete action space with >= 1 actions, got ",
        shape.discrete ? absl::StrCat(shape.num_actions, " actions") : "box"));
  }
  if (shape.observation_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observation_size must be > 0, got ", shape.observation_size));
  }
  try {
    return std::unique_ptr<DqnAlgorithm>(
        new DqnAlgorithm(config, shape, device));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("building dqn: ", e.what_without_backtrace()));
  }
}

DqnAlgorithm::DqnAlgorithm(const ExperimentConfig& config,
                           const EnvShape& shape, torch::Device device)
    : config_(config.algorithm),
      shape_(shape),
      device_(device),
      value_head_(MakeValueHead(config.algorithm.value_loss)) {
  q_ = QNetwork(shape.observation_size, shape.num_actions, config.network,
                config_.dqn.dueling, value_head_);
  target_q_ = QNetwork(shape.observation_size, shape.num_actions,
                       config.network, config_.dqn.dueling, value_head_);
  q_->to(device);
  target_q_->to(device);
  HardUpdate(*target_q_, *q_);
  for (torch::Tensor& p : target_q_->parameters()) p.requires_grad_(false);
  optim_ = MakeAdam(q_->parameters(), config_.optimizer.learning_rate,
                    config_.optimizer);
}

absl::StatusOr<UpdateResult> DqnAlgorithm::Update(const Batch& batch) {
  try {
    return UpdateOrThrow(batch);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("dqn update at step ", step_, ": ",
                                            e.what_without_backtrace()));
  }
}

absl::StatusOr<UpdateResult> DqnAlgorithm::UpdateOrThrow(const Batch& batch) {
  SHOAL_ASSIGN_OR_RETURN(Transitions t, GetTransitions(batch, shape_, device_));
  torch::Tensor action = t.action.unsqueeze(1);  // [B, 1]
  SHOAL_RETURN_IF_ERROR(CheckActionRange(t.action, shape_.num_actions));

  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor target_out = target_q_->forward(t.next_observation);
    torch::Tensor target_values = value_head_.distributional()
                                      ? ValueFromOutput(target_out, value_head_)
                                      : target_out;  // [B, A]
    torch::Tensor next_action =
        config_.dqn.double_q ? q_->Values(t.next_observation).argmax(1, true)
                             : target_values.argmax(1, true);
    y = t.reward + t.discount * target_values.gather(1, next_action).squeeze(1);
  }

  torch::Tensor out = q_->forward(t.observation);
  torch::Tensor item_loss, q;
  if (value_head_.distributional()) {
    const int64_t bins = value_head_.num_bins;
    torch::Tensor logits =
        out.gather(1, action.unsqueeze(2).expand({-1, 1, bins})).squeeze(1);
    q = ValueFromOutput(logits, value_head_);
    item_loss =
        SoftCrossEntropy(logits, HlGaussProjection(y, config_.value_loss));
  } else {
    q = out.gather(1, action).squeeze(1);
    item_loss = Huber(q - y, config_.dqn.huber_delta);
  }
  torch::Tensor td_abs = (q.detach() - y).abs();
  torch::Tensor loss = (t.weights * item_loss).mean();

  SHOAL_ASSIGN_OR_RETURN(UpdateResult result,
                         GatherScalars("dqn", step_,
                                       {{"loss", loss},
                                        {"q_mean", q.mean()},
                                        {"target_mean", y.mean()},
                                        {"td_abs_mean", td_abs.mean()}}));
  optim_->zero_grad();
  loss.backward();
  ClipGradients(q_->parameters(), config_.optimizer.max_grad_norm);
  optim_->step();
  ++step_;
  if (step_ % config_.dqn.target_update_period == 0) {
    HardUpdate(*target_q_, *q_);
  }
  result.new_priorities = td_abs;
  return result;
}

absl::Status DqnAlgorithm::Save(const std::string& path) {
  return WriteArchive(path, [&](torch::serialize::OutputArchive& archive) {
    WriteModule(archive, "q", *q_);
    WriteModule(archive, "target_q", *target_q_);
    WriteOptimizer(archive, "optim", *optim_);
    WriteCommon(archive, step_, device_);
  });
}

absl::Status DqnAlgorithm::Load(const std::string& path) {
  int64_t step = 0;
  SHOAL_RETURN_IF_ERROR(
      ReadArchive(path, device_, [&](torch::serialize::InputArchive& archive) {
        ReadModule(archive, "q", *q_);
        ReadModule(archive, "target_q", *target_q_);
        ReadOptimizer(archive, "optim", *optim_);
        step = ReadCommon(archive, device_);
      }));
  step_ = step;
  return absl::OkStatus();
}

}  // namespace shoal
