// Soft actor-critic (Haarnoja et al. 2018, with the learned temperature of
// the "applications" paper) for box action spaces: a tanh-squashed Gaussian
// policy, twin Q critics with Polyak-averaged targets, and a temperature
// alpha tuned towards target_entropy (or fixed at init_alpha).
//
// One Update computes all three losses from the pre-update networks, checks
// that they are finite, then steps critic, actor and alpha, and moves the
// targets by tau. Critic targets: r + d (min_i Q'_i(s', a') - alpha log
// pi(a'|s')), a' ~ pi(s'); mse regression or hl_gauss cross-entropy.
// Scalars: critic_loss, actor_loss, alpha_loss, alpha, q_mean, target_mean,
// entropy (-mean log pi).
//
// Thread-compatible (see Algorithm).
#ifndef SHOAL_LEARNER_ALGORITHMS_SAC_H_
#define SHOAL_LEARNER_ALGORITHMS_SAC_H_

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

class SacAlgorithm final : public Algorithm {
 public:
  // INVALID_ARGUMENT for a discrete action space.
  static absl::StatusOr<std::unique_ptr<SacAlgorithm>> Create(
      const ExperimentConfig& config, const EnvShape& shape,
      torch::Device device);

  absl::StatusOr<UpdateResult> Update(const Batch& batch) override;
  torch::nn::Module& policy() override { return *actor_; }
  absl::Status Save(const std::string& path) override;
  absl::Status Load(const std::string& path) override;
  int64_t step() const override { return step_; }

  // For tests and diagnostics.
  GaussianPolicy& actor() { return actor_; }
  ContinuousCritic& critic() { return critic_; }
  ContinuousCritic& target_critic() { return target_critic_; }
  double alpha() const;
  double target_entropy() const { return target_entropy_; }

 private:
  SacAlgorithm(const ExperimentConfig& config, const EnvShape& shape,
               torch::Device device);
  absl::StatusOr<UpdateResult> UpdateOrThrow(const Batch& batch);

  // Constant after construction.
  const AlgorithmConfig config_;
  const EnvShape shape_;
  const torch::Device device_;
  const double target_entropy_;
  const ValueHead value_head_;

  GaussianPolicy actor_{nullptr};
  ContinuousCritic critic_{nullptr}, target_critic_{nullptr};
  torch::Tensor log_alpha_;  // scalar; trained only with learn_alpha.
  std::unique_ptr<torch::optim::Adam> actor_optim_, critic_optim_, alpha_optim_;
  int64_t step_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_ALGORITHMS_SAC_H_
