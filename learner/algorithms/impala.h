// IMPALA (Espeholt et al. 2018): an actor-critic trained on unrolls with
// V-trace off-policy corrections, for discrete action spaces. One network
// (CategoricalPolicy) carries the policy and value heads.
//
// Loss = pg_loss + baseline_cost * baseline_loss - entropy_cost * entropy,
// all means over B x T (times the item's importance weight): pg_loss =
// -log pi(a_t|x_t) * pg_advantage_t (rho-clipped, V-trace); baseline_loss =
// 0.5 (vs_t - V(x_t))^2 for mse, cross-entropy against
// HlGaussProjection(vs_t) for hl_gauss. Scalars: loss, pg_loss,
// baseline_loss, entropy, value_mean, vs_mean, rho_mean.
//
// Thread-compatible (see Algorithm).
#ifndef SHOAL_LEARNER_ALGORITHMS_IMPALA_H_
#define SHOAL_LEARNER_ALGORITHMS_IMPALA_H_

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

class ImpalaAlgorithm final : public Algorithm {
 public:
  // INVALID_ARGUMENT for a box action space.
  static absl::StatusOr<std::unique_ptr<ImpalaAlgorithm>> Create(
      const ExperimentConfig& config, const EnvShape& shape,
      torch::Device device);

  absl::StatusOr<UpdateResult> Update(const Batch& batch) override;
  torch::nn::Module& policy() override { return *net_; }
  absl::Status Save(const std::string& path) override;
  absl::Status Load(const std::string& path) override;
  int64_t step() const override { return step_; }

  CategoricalPolicy& network() { return net_; }

 private:
  ImpalaAlgorithm(const ExperimentConfig& config, const EnvShape& shape,
                  torch::Device device);
  absl::StatusOr<UpdateResult> UpdateOrThrow(const Batch& batch);

  // Constant after construction.
  const AlgorithmConfig config_;
  const EnvShape shape_;
  const torch::Device device_;
  const ValueHead value_head_;

  CategoricalPolicy net_{nullptr};
  std::unique_ptr<torch::optim::Adam> optim_;
  int64_t step_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_ALGORITHMS_IMPALA_H_
