// Double DQN (van Hasselt et al. 2016) with n-step targets folded into the
// batch, prioritized-replay importance weights and an optional dueling head,
// for discrete action spaces. The target network is copied from the online
// one every target_update_period steps.
//
// Target: y = r + d Q'(s', argmax_a Q(s', a)) (argmax over Q' itself
// without double_q). Loss per item, times its importance weight: Huber(Q -
// y, huber_delta) for mse, cross-entropy against HlGaussProjection(y) for
// hl_gauss. new_priorities = |Q - y| (|E[Q] - y| for hl_gauss).
// Scalars: loss, q_mean, target_mean, td_abs_mean.
//
// Thread-compatible (see Algorithm).
#ifndef SHOAL_LEARNER_ALGORITHMS_DQN_H_
#define SHOAL_LEARNER_ALGORITHMS_DQN_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "torch/optim/adam.h"
#include "torch/types.h"

#include "common/config.h"
#include "common/torch/networks.h"
#include "learner/algorithms/algorithm.h"

namespace shoal {

class DqnAlgorithm final : public Algorithm {
 public:
  // INVALID_ARGUMENT for a box action space.
  static absl::StatusOr<std::unique_ptr<DqnAlgorithm>> Create(
      const ExperimentConfig& config, const EnvShape& shape,
      torch::Device device);

  absl::StatusOr<UpdateResult> Update(const Batch& batch) override;
  torch::nn::Module& policy() override { return *q_; }
  absl::Status Save(const std::string& path) override;
  absl::Status Load(const std::string& path) override;
  int64_t step() const override { return step_; }

  // For tests and diagnostics.
  QNetwork& q_network() { return q_; }
  QNetwork& target_network() { return target_q_; }

 private:
  DqnAlgorithm(const ExperimentConfig& config, const EnvShape& shape,
               torch::Device device);
  absl::StatusOr<UpdateResult> UpdateOrThrow(const Batch& batch);

  // Constant after construction.
  const AlgorithmConfig config_;
  const EnvShape shape_;
  const torch::Device device_;
  const ValueHead value_head_;

  QNetwork q_{nullptr}, target_q_{nullptr};
  std::unique_ptr<torch::optim::Adam> optim_;
  int64_t step_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_ALGORITHMS_DQN_H_
