#include "learner/algorithms/losses.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "torch/torch.h"

#include "common/torch/networks.h"

namespace shoal {

torch::Tensor HlGaussProjection(const torch::Tensor& targets, double v_min,
                                double v_max, int64_t num_bins, double sigma) {
  torch::Tensor edges = torch::linspace(v_min, v_max, num_bins + 1,
                                        targets.options().dtype(torch::kFloat));
  torch::Tensor t = targets.to(torch::kFloat).clamp(v_min, v_max).unsqueeze(-1);
  const double scale = 1.0 / (std::sqrt(2.0) * sigma);
  torch::Tensor cdf = torch::erf((edges - t) * scale);  // [B, bins + 1]
  torch::Tensor mass =
      cdf.narrow(-1, 1, num_bins) - cdf.narrow(-1, 0, num_bins);
  torch::Tensor total = cdf.narrow(-1, num_bins, 1) - cdf.narrow(-1, 0, 1);
  return mass / total;
}

torch::Tensor HlGaussProjection(const torch::Tensor& targets,
                                const ValueLossConfig& config) {
  const double width =
      (config.v_max - config.v_min) / static_cast<double>(config.num_bins);
  return HlGaussProjection(targets, config.v_min, config.v_max, config.num_bins,
                           config.sigma_ratio * width);
}

torch::Tensor HlGaussValue(const torch::Tensor& logits, double v_min,
                           double v_max) {
  ValueHead head;
  head.num_bins = logits.size(-1);
  head.v_min = v_min;
  head.v_max = v_max;
  return ValueFromOutput(logits, head);
}

torch::Tensor SoftCrossEntropy(const torch::Tensor& logits,
                               const torch::Tensor& target_probs) {
  return -(target_probs * torch::log_softmax(logits, -1)).sum(-1);
}

torch::Tensor Huber(const torch::Tensor& error, double delta) {
  torch::Tensor abs = error.abs();
  torch::Tensor quadratic = abs.clamp_max(delta);
  return 0.5 * quadratic.square() + delta * (abs - quadratic);
}

VTraceReturns VTrace(const torch::Tensor& log_rhos,
                     const torch::Tensor& discounts,
                     const torch::Tensor& rewards, const torch::Tensor& values,
                     const torch::Tensor& bootstrap_value, double rho_bar,
                     double c_bar) {
  torch::NoGradGuard no_grad;
  torch::Tensor rhos = log_rhos.detach().exp();
  torch::Tensor clipped_rhos = rhos.clamp_max(rho_bar);
  torch::Tensor cs = rhos.clamp_max(c_bar);
  torch::Tensor v = values.detach();
  torch::Tensor bootstrap = bootstrap_value.detach().unsqueeze(1);
  torch::Tensor next_values =
      torch::cat({v.narrow(1, 1, v.size(1) - 1), bootstrap}, 1);
  torch::Tensor deltas = clipped_rhos * (rewards + discounts * next_values - v);
  const int64_t steps = v.size(1);
  std::vector<torch::Tensor> vs_minus_v(steps);
  torch::Tensor acc = torch::zeros_like(bootstrap_value);
  for (int64_t t = steps - 1; t >= 0; --t) {
    acc = deltas.select(1, t) + discounts.select(1, t) * cs.select(1, t) * acc;
    vs_minus_v[t] = acc;
  }
  VTraceReturns out;
  out.vs = torch::stack(vs_minus_v, 1) + v;
  torch::Tensor next_vs =
      torch::cat({out.vs.narrow(1, 1, steps - 1), bootstrap}, 1);
  out.pg_advantages = clipped_rhos * (rewards + discounts * next_vs - v);
  return out;
}

namespace {

std::vector<torch::Tensor> StateTensors(const torch::nn::Module& module) {
  std::vector<torch::Tensor> out = module.parameters();
  for (const torch::Tensor& b : module.buffers()) {
    if (b.is_floating_point()) out.push_back(b);
  }
  return out;
}

}  // namespace

void PolyakUpdate(torch::nn::Module& target, const torch::nn::Module& online,
                  double tau) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> dst = StateTensors(target);
  std::vector<torch::Tensor> src = StateTensors(online);
  TORCH_CHECK(dst.size() == src.size(), "PolyakUpdate: ", dst.size(),
              " target tensors vs ", src.size(), " online");
  for (size_t i = 0; i < dst.size(); ++i) dst[i].lerp_(src[i], tau);
}

void HardUpdate(torch::nn::Module& target, const torch::nn::Module& online) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> dst = StateTensors(target);
  std::vector<torch::Tensor> src = StateTensors(online);
  TORCH_CHECK(dst.size() == src.size(), "HardUpdate: ", dst.size(),
              " target tensors vs ", src.size(), " online");
  for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
}

double ImportanceBeta(const DqnConfig& config, int64_t step) {
  if (config.importance_beta_steps <= 0) return config.importance_beta_end;
  const double frac =
      std::min(1.0, static_cast<double>(step) /
                        static_cast<double>(config.importance_beta_steps));
  return config.importance_beta_start +
         frac * (config.importance_beta_end - config.importance_beta_start);
}

torch::Tensor ImportanceWeights(const torch::Tensor& probabilities,
                                int64_t table_size, double beta) {
  torch::Tensor w =
      (probabilities * static_cast<double>(table_size)).pow(-beta);
  return w / w.max();
}

}  // namespace shoal
