// Loss building blocks shared by the learner's algorithms: HL-Gauss
// projection (Farebrother et al. 2024, "Stop Regressing"), V-trace (Espeholt
// et al. 2018), Polyak averaging, Huber, and prioritized-replay importance
// weights.
//
// Stateless and thread-safe. Tensor functions follow LibTorch: a shape or
// device mismatch throws c10::Error, which the calling algorithm (learner/
// torch adapter) converts to a Status.
#ifndef SHOAL_LEARNER_ALGORITHMS_LOSSES_H_
#define SHOAL_LEARNER_ALGORITHMS_LOSSES_H_

#include <cstdint>

#include "torch/nn/module.h"
#include "torch/types.h"

#include "common/config.h"

namespace shoal {

// Target distributions [B, num_bins] for scalar `targets` [B]: each target
// is clamped into [v_min, v_max], and bin i gets the mass of N(target,
// sigma^2) between its edges v_min + i*w and v_min + (i+1)*w (w = bin
// width), normalised over [v_min, v_max]. REQUIRES: v_min < v_max,
// num_bins >= 2, sigma > 0.
torch::Tensor HlGaussProjection(const torch::Tensor& targets, double v_min,
                                double v_max, int64_t num_bins, double sigma);

// HlGaussProjection with sigma = config.sigma_ratio * bin width.
torch::Tensor HlGaussProjection(const torch::Tensor& targets,
                                const ValueLossConfig& config);

// sum(softmax(logits) * bin centres) over the last dim: [..., bins] -> [...].
torch::Tensor HlGaussValue(const torch::Tensor& logits, double v_min,
                           double v_max);

// Cross-entropy of `logits` [B, bins] against target probabilities [B, bins],
// per item: [B].
torch::Tensor SoftCrossEntropy(const torch::Tensor& logits,
                               const torch::Tensor& target_probs);

// Elementwise Huber loss of `error`: 0.5 e^2 for |e| <= delta, else
// delta (|e| - 0.5 delta).
torch::Tensor Huber(const torch::Tensor& error, double delta);

struct VTraceReturns {
  torch::Tensor vs;             // [B, T] value targets.
  torch::Tensor pg_advantages;  // [B, T] rho-clipped policy advantages.
};

// V-trace targets for unrolls laid out [B, T] (time is dim 1). `log_rhos` =
// log pi(a|x) - log mu(a|x); `discounts` = gamma, 0 at termination; `values`
// = V(x_t); `bootstrap_value` [B] = V(x_T). Computed without gradients:
//   delta_t = min(rho_bar, rho_t) (r_t + d_t V(x_{t+1}) - V(x_t))
//   vs_t - V(x_t) = delta_t + d_t min(c_bar, rho_t) (vs_{t+1} - V(x_{t+1}))
//   pg_adv_t = min(rho_bar, rho_t) (r_t + d_t vs_{t+1} - V(x_t))
VTraceReturns VTrace(const torch::Tensor& log_rhos,
                     const torch::Tensor& discounts,
                     const torch::Tensor& rewards, const torch::Tensor& values,
                     const torch::Tensor& bootstrap_value, double rho_bar,
                     double c_bar);

// target <- (1 - tau) target + tau online, over parameters and floating
// buffers in registration order. REQUIRES: same architecture.
void PolyakUpdate(torch::nn::Module& target, const torch::nn::Module& online,
                  double tau);

// target <- online exactly (PolyakUpdate with tau = 1, without arithmetic).
void HardUpdate(torch::nn::Module& target, const torch::nn::Module& online);

// The prioritized-replay importance exponent at learner `step`, annealed
// linearly from importance_beta_start to importance_beta_end over
// importance_beta_steps.
double ImportanceBeta(const DqnConfig& config, int64_t step);

// Importance weights (N P(i))^-beta / max_j (N P(j))^-beta for sampling
// `probabilities` [B] from a table of `table_size` items: [B], max 1.
torch::Tensor ImportanceWeights(const torch::Tensor& probabilities,
                                int64_t table_size, double beta);

}  // namespace shoal

#endif  // SHOAL_LEARNER_ALGORITHMS_LOSSES_H_
