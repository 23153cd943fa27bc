#include "common/torch/networks.h"

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

#include <dlfcn.h>

namespace shoal {
namespace {

constexpr double kLogStdMin = -5.0;
constexpr double kLogStdMax = 2.0;
constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2

torch::nn::Linear MakeLinear(int64_t in, int64_t out, double gain) {
  torch::nn::Linear linear(in, out);
  torch::NoGradGuard no_grad;
  torch::nn::init::orthogonal_(linear->weight, gain);
  torch::nn::init::zeros_(linear->bias);
  return linear;
}

torch::Tensor Activate(Activation activation, const torch::Tensor& x) {
  switch (activation) {
    case Activation::kRelu:
      return torch::relu(x);
    case Activation::kTanh:
      return torch::tanh(x);
    case Activation::kElu:
      return torch::elu(x);
    case Activation::kGelu:
      return torch::gelu(x);
    case Activation::kSilu:
      return torch::silu(x);
  }
  return x;
}

// log(1 - tanh(u)^2), computed stably as 2 * (log 2 - u - softplus(-2u)).
torch::Tensor LogOneMinusTanhSquared(const torch::Tensor& u) {
  return 2.0 * (std::log(2.0) - u - torch::nn::functional::softplus(-2.0 * u));
}

}  // namespace

void SetIntraOpThreads(int n) {
  at::set_num_threads(n);
  using SetThreads = void (*)(int);
  if (void* fn = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) {
    reinterpret_cast<SetThreads>(fn)(n);
  }
}

double ApeXEpsilon(double epsilon, double alpha, int64_t actor_index,
                   int64_t num_actors) {
  if (num_actors <= 1) return epsilon;
  const double exponent = 1.0 + alpha * static_cast<double>(actor_index) /
                                    static_cast<double>(num_actors - 1);
  return std::pow(epsilon, exponent);
}

MlpImpl::MlpImpl(int64_t input_size, int64_t output_size,
                 const NetworkConfig& config, double output_gain)
    : activation_(config.activation),
      output_size_(output_size),
      features_(input_size) {
  for (size_t i = 0; i < config.hidden.size(); ++i) {
    const int64_t width = config.hidden[i];
    hidden_.push_back(register_module(
        absl::StrCat("linear", i), MakeLinear(features_, width, kHiddenGain)));
    if (config.layer_norm) {
      norms_.push_back(register_module(
          absl::StrCat("norm", i),
          torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}))));
    }
    features_ = width;
  }
  if (output_size > 0) {
    out_ =
        register_module("out", MakeLinear(features_, output_size, output_gain));
  }
}

torch::Tensor MlpImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < hidden_.size(); ++i) {
    x = hidden_[i]->forward(x);
    if (!norms_.empty()) x = norms_[i]->forward(x);
    x = Activate(activation_, x);
  }
  return out_ ? out_->forward(x) : x;
}

ValueHead MakeValueHead(const ValueLossConfig& config) {
  ValueHead head;
  if (config.kind == ValueLossKind::kHlGauss) {
    head.num_bins = config.num_bins;
    head.v_min = config.v_min;
    head.v_max = config.v_max;
  }
  return head;
}

torch::Tensor HlGaussSupport(double v_min, double v_max, int64_t num_bins,
                             const torch::TensorOptions& options) {
  const double width = (v_max - v_min) / static_cast<double>(num_bins);
  return torch::arange(num_bins, options).mul(width).add(v_min + 0.5 * width);
}

torch::Tensor ValueFromOutput(const torch::Tensor& out, const ValueHead& head) {
  if (!head.distributional()) return out.squeeze(-1);
  torch::Tensor support =
      HlGaussSupport(head.v_min, head.v_max, out.size(-1), out.options());
  return torch::softmax(out, -1).mul(support).sum(-1);
}

absl::StatusOr<ActOutput> ActorPolicy::Act(const torch::Tensor& observation,
                                           const ActOptions& options) {
  if (!observation.defined() || observation.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("observation must be [N, obs], got ",
                     observation.defined() ? observation.dim() : -1, " dims"));
  }
  try {
    torch::NoGradGuard no_grad;
    return ActImpl(observation, options);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy forward failed: ", e.what_without_backtrace()));
  }
}

// ---------------------------------------------------------------- QNetwork

QNetworkImpl::QNetworkImpl(int64_t observation_size, int64_t num_actions,
                           const NetworkConfig& config, bool dueling,
                           const ValueHead& value_head)
    : num_actions_(num_actions), value_head_(value_head) {
  const int64_t bins = value_head.num_bins;
  if (!dueling) {
    mlp_ = register_module("mlp", Mlp(observation_size, num_actions * bins,
                                      config, kValueHeadGain));
    return;
  }
  torso_ = register_module("torso", Mlp(observation_size, 0, config, 0.0));
  value_ = register_module(
      "value", MakeLinear(torso_->features(), bins, kValueHeadGain));
  advantage_ = register_module(
      "advantage",
      MakeLinear(torso_->features(), num_actions * bins, kValueHeadGain));
}

torch::Tensor QNetworkImpl::forward(const torch::Tensor& observation) {
  const int64_t bins = value_head_.num_bins;
  torch::Tensor q;
  if (mlp_) {
    q = mlp_->forward(observation).view({-1, num_actions_, bins});
  } else {
    torch::Tensor features = torso_->forward(observation);
    torch::Tensor v = value_->forward(features).view({-1, 1, bins});
    torch::Tensor a =
        advantage_->forward(features).view({-1, num_actions_, bins});
    q = v + a - a.mean(1, /*keepdim=*/true);
  }
  return value_head_.distributional() ? q : q.squeeze(-1);
}

torch::Tensor QNetworkImpl::Values(const torch::Tensor& observation) {
  torch::Tensor out = forward(observation);
  return value_head_.distributional() ? ValueFromOutput(out, value_head_) : out;
}

ActOutput QNetworkImpl::ActImpl(const torch::Tensor& observation,
                                const ActOptions& options) {
  torch::Tensor greedy = Values(observation).argmax(-1);
  const int64_t n = greedy.size(0);
  if (!options.deterministic && options.epsilon > 0.0) {
    torch::Tensor random = torch::randint(num_actions_, {n}, greedy.options());
    torch::Tensor explore =
        torch::rand({n}, observation.options()).lt(options.epsilon);
    greedy = torch::where(explore, random, greedy);
  }
  return {greedy, torch::zeros({n}, observation.options())};
}

// ---------------------------------------------------------- GaussianPolicy

GaussianPolicyImpl::GaussianPolicyImpl(int64_t observation_size,
                                       const std::vector<float>& low,
                                       const std::vector<float>& high,
                                       const NetworkConfig& config)
    : action_dim_(static_cast<int64_t>(low.size())) {
  mlp_ = register_module(
      "mlp", Mlp(observation_size, 2 * action_dim_, config, kPolicyHeadGain));
  torch::Tensor lo = torch::tensor(low, torch::kFloat32);
  torch::Tensor hi = torch::tensor(high, torch::kFloat32);
  action_scale_ = register_buffer("action_scale", (hi - lo) / 2.0);
  action_offset_ = register_buffer("action_offset", (hi + lo) / 2.0);
}

GaussianPolicyImpl::Sample GaussianPolicyImpl::forward(
    const torch::Tensor& observation, const torch::Tensor& noise) {
  std::vector<torch::Tensor> out = mlp_->forward(observation).chunk(2, -1);
  torch::Tensor mean = out[0];
  torch::Tensor log_std =
      kLogStdMin + 0.5 * (kLogStdMax - kLogStdMin) * (torch::tanh(out[1]) + 1);
  torch::Tensor eps = noise.defined() ? noise : torch::randn_like(mean);
  torch::Tensor u = mean + log_std.exp() * eps;
  // log N(u; mean, std) - log|d a / d u| per dimension, summed.
  torch::Tensor log_prob = (-0.5 * eps.square() - log_std - kHalfLog2Pi -
                            LogOneMinusTanhSquared(u) - action_scale_.log())
                               .sum(-1);
  Sample sample;
  sample.action = torch::tanh(u) * action_scale_ + action_offset_;
  sample.log_prob = log_prob;
  sample.mean_action = torch::tanh(mean) * action_scale_ + action_offset_;
  return sample;
}

ActOutput GaussianPolicyImpl::ActImpl(const torch::Tensor& observation,
                                      const ActOptions& options) {
  Sample sample = forward(observation);
  if (options.deterministic) {
    return {sample.mean_action, torch::zeros_like(sample.log_prob)};
  }
  return {sample.action, sample.log_prob};
}

// ------------------------------------------------------- CategoricalPolicy

CategoricalPolicyImpl::CategoricalPolicyImpl(int64_t observation_size,
                                             int64_t num_actions,
                                             const NetworkConfig& config,
                                             const ValueHead& value_head)
    : value_head_(value_head) {
  torso_ = register_module("torso", Mlp(observation_size, 0, config, 0.0));
  policy_ = register_module(
      "policy", MakeLinear(torso_->features(), num_actions, kPolicyHeadGain));
  value_ = register_module(
      "value",
      MakeLinear(torso_->features(), value_head.num_bins, kValueHeadGain));
}

std::pair<torch::Tensor, torch::Tensor> CategoricalPolicyImpl::forward(
    const torch::Tensor& observation) {
  torch::Tensor features = torso_->forward(observation);
  return {policy_->forward(features), value_->forward(features)};
}

ActOutput CategoricalPolicyImpl::ActImpl(const torch::Tensor& observation,
                                         const ActOptions& options) {
  torch::Tensor logits = policy_->forward(torso_->forward(observation));
  torch::Tensor log_probs = torch::log_softmax(logits, -1);
  torch::Tensor action =
      options.deterministic
          ? logits.argmax(-1)
          : torch::multinomial(log_probs.exp(), /*num_samples=*/1).squeeze(-1);
  return {action, log_probs.gather(-1, action.unsqueeze(-1)).squeeze(-1)};
}

// -------------------------------------------------------- ContinuousCritic

ContinuousCriticImpl::ContinuousCriticImpl(int64_t observation_size,
                                           int64_t action_dim,
                                           const NetworkConfig& config,
                                           const ValueHead& value_head)
    : value_head_(value_head) {
  const int64_t in = observation_size + action_dim;
  q1_ = register_module("q1",
                        Mlp(in, value_head.num_bins, config, kValueHeadGain));
  q2_ = register_module("q2",
                        Mlp(in, value_head.num_bins, config, kValueHeadGain));
}

std::pair<torch::Tensor, torch::Tensor> ContinuousCriticImpl::forward(
    const torch::Tensor& obs, const torch::Tensor& action) {
  torch::Tensor x = torch::cat({obs, action}, -1);
  return {q1_->forward(x), q2_->forward(x)};
}

// ------------------------------------------------------------- MakePolicy

absl::StatusOr<std::shared_ptr<ActorPolicy>> MakePolicy(
    const ExperimentConfig& config, const EnvShape& shape) {
  const AlgorithmKind kind = config.algorithm.name;
  if (shape.observation_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observation_size must be > 0, got ", shape.observation_size));
  }
  if (shape.discrete == (kind == AlgorithmKind::kSac)) {
    return absl::InvalidArgumentError(absl::StrCat(
        EnumName(kind), " needs a ", shape.discrete ? "box" : "discrete",
        " action space, got a ", shape.discrete ? "discrete" : "box", " one"));
  }
  if (shape.discrete && shape.num_actions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_actions must be >= 1, got ", shape.num_actions));
  }
  if (!shape.discrete &&
      (shape.low.empty() || shape.low.size() != shape.high.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "box bounds must be non-empty and equal in size, got ",
        shape.low.size(), " low and ", shape.high.size(), " high"));
  }
  const ValueHead head = MakeValueHead(config.algorithm.value_loss);
  try {
    switch (kind) {
      case AlgorithmKind::kDqn:
        return std::shared_ptr<ActorPolicy>(std::make_shared<QNetworkImpl>(
            shape.observation_size, shape.num_actions, config.network,
            config.algorithm.dqn.dueling, head));
      case AlgorithmKind::kSac:
        return std::shared_ptr<ActorPolicy>(
            std::make_shared<GaussianPolicyImpl>(
                shape.observation_size, shape.low, shape.high, config.network));
      case AlgorithmKind::kImpala:
        return std::shared_ptr<ActorPolicy>(
            std::make_shared<CategoricalPolicyImpl>(shape.observation_size,
                                                    shape.num_actions,
                                                    config.network, head));
    }
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "building the policy failed: ", e.what_without_backtrace()));
  }
  return absl::InvalidArgumentError("unknown algorithm");
}

}  // namespace shoal
