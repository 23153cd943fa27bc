// The networks that actors and the learner share, built from the experiment
// config: an MLP torso (orthogonal init, optional LayerNorm) and the heads
// each algorithm needs.
//
//   QNetwork           dqn: Q(s, .) for discrete actions, optional dueling.
//   GaussianPolicy     sac: tanh-squashed Gaussian rescaled to [low, high].
//   CategoricalPolicy  impala: softmax policy and a value head on one torso.
//   ContinuousCritic   sac: twin Q(s, a).
//
// With value_loss.kind == hl_gauss every value/Q output is `num_bins` logits
// over a fixed support (HL-Gauss) and the scalar value is sum(softmax *
// support); with mse it is one number.
//
// An actor builds its policy with MakePolicy(config, shape); the learner's
// Algorithm::policy() is the same module type, so named parameters and
// buffers match one to one and can be copied across.
//
// Thread-compatible: a module is used by one thread at a time. Forward calls
// may throw c10::Error on mis-shaped input; ActorPolicy::Act catches it.
#ifndef SHOAL_COMMON_TORCH_NETWORKS_H_
#define SHOAL_COMMON_TORCH_NETWORKS_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "torch/nn/module.h"
#include "torch/nn/modules/linear.h"
#include "torch/nn/modules/normalization.h"
#include "torch/types.h"

#include "common/config.h"
#include "common/env_spec.h"

namespace shoal {

// Output gains of the orthogonal init: hidden layers use sqrt(2), policy
// heads a small gain (near-uniform initial policy), value heads 1.
inline constexpr double kHiddenGain = 1.4142135623730951;
inline constexpr double kPolicyHeadGain = 0.01;
inline constexpr double kValueHeadGain = 1.0;

// Ape-X's epsilon ladder: actor i of n explores with
// epsilon^(1 + alpha * i / (n - 1)); a single actor uses epsilon.
double ApeXEpsilon(double epsilon, double alpha, int64_t actor_index,
                   int64_t num_actors);

// Sets LibTorch's intra-op threads to `n` (at::set_num_threads) and, when
// the BLAS in use is OpenBLAS, its own thread pool too: Debian's LibTorch
// calls libblas.so.3, whose pthread OpenBLAS ignores at::set_num_threads
// and otherwise spins one thread per core (measured: SAC updates per CPU
// second 58 -> 92 on 2 shared cores). Process-wide; call once at start-up.
void SetIntraOpThreads(int n);

// Linear layers with `config.hidden` widths, each followed by LayerNorm (if
// set) and the activation, then a linear output layer of `output_size`
// initialised with `output_gain`. Parameters: "linear<i>", "norm<i>", "out".
// With output_size 0 there is no output layer: forward returns the last
// hidden features (features() of them).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t input_size, int64_t output_size, const NetworkConfig& config,
          double output_gain);
  torch::Tensor forward(torch::Tensor x);
  int64_t output_size() const { return output_size_; }
  int64_t features() const { return features_; }

 private:
  Activation activation_;
  int64_t output_size_;
  int64_t features_;  // width of the last hidden layer (or the input).
  std::vector<torch::nn::Linear> hidden_;
  std::vector<torch::nn::LayerNorm> norms_;  // empty without layer_norm.
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(Mlp);

// How the value outputs of a network are read.
struct ValueHead {
  int64_t num_bins = 1;  // 1 for mse (a scalar), value_loss.num_bins else.
  double v_min = 0.0;    // hl_gauss support; unused for mse.
  double v_max = 0.0;
  bool distributional() const { return num_bins > 1; }
};
ValueHead MakeValueHead(const ValueLossConfig& config);

// Options for ActorPolicy::Act.
struct ActOptions {
  bool deterministic = false;  // greedy / mean action.
  double epsilon = 0.0;        // QNetwork only: epsilon-greedy exploration.
};

// An action batch: `action` is [N] int64 (discrete) or [N, dim] float32 in
// the env's bounds; `log_prob` is [N] (behaviour log-probs; zeros where the
// policy has none, e.g. epsilon-greedy).
struct ActOutput {
  torch::Tensor action;
  torch::Tensor log_prob;
};

// The scalar values of a value output: `out` [..., 1] squeezed for mse, or
// sum(softmax(out) * support) over the last dim for hl_gauss.
torch::Tensor ValueFromOutput(const torch::Tensor& out, const ValueHead& head);

// The hl_gauss bin centres: v_min + (i + 0.5) * (v_max - v_min) / num_bins.
torch::Tensor HlGaussSupport(double v_min, double v_max, int64_t num_bins,
                             const torch::TensorOptions& options);

// What an actor runs. Implementations: QNetworkImpl, GaussianPolicyImpl,
// CategoricalPolicyImpl.
class ActorPolicy : public torch::nn::Module {
 public:
  // Actions for `observation` [N, obs]; INVALID_ARGUMENT for a mis-shaped
  // batch. Draws from torch's default generator. Runs without autograd.
  absl::StatusOr<ActOutput> Act(const torch::Tensor& observation,
                                const ActOptions& options);

 protected:
  virtual ActOutput ActImpl(const torch::Tensor& observation,
                            const ActOptions& options) = 0;
};

// dqn's Q(s, .). forward: [B, A] (mse) or [B, A, bins] logits (hl_gauss).
// Dueling: a shared torso, then V and A heads combined as V + A - mean(A)
// (in logit space for hl_gauss, as Rainbow does). Parameters: "mlp", or
// "torso", "value", "advantage" when dueling.
class QNetworkImpl : public ActorPolicy {
 public:
  QNetworkImpl(int64_t observation_size, int64_t num_actions,
               const NetworkConfig& config, bool dueling,
               const ValueHead& value_head);
  torch::Tensor forward(const torch::Tensor& observation);
  // Q values [B, A] (expectations for hl_gauss).
  torch::Tensor Values(const torch::Tensor& observation);
  const ValueHead& value_head() const { return value_head_; }

 protected:
  ActOutput ActImpl(const torch::Tensor& observation,
                    const ActOptions& options) override;

 private:
  int64_t num_actions_;
  ValueHead value_head_;
  Mlp mlp_{nullptr};    // not dueling
  Mlp torso_{nullptr};  // dueling
  torch::nn::Linear value_{nullptr}, advantage_{nullptr};
};
TORCH_MODULE(QNetwork);

// sac's policy: u ~ N(mean(s), std(s)), a = tanh(u) * scale + offset with
// scale = (high - low) / 2 and offset = (high + low) / 2 held as buffers
// "action_scale" and "action_offset". log std is squashed into [-5, 2].
class GaussianPolicyImpl : public ActorPolicy {
 public:
  struct Sample {
    torch::Tensor action;       // [B, dim], in [low, high].
    torch::Tensor log_prob;     // [B], with the tanh and scale corrections.
    torch::Tensor mean_action;  // [B, dim]: tanh(mean) * scale + offset.
  };
  GaussianPolicyImpl(int64_t observation_size, const std::vector<float>& low,
                     const std::vector<float>& high,
                     const NetworkConfig& config);
  // Reparameterised sample (differentiable), drawn from `noise` [B, dim] of
  // standard normals, or from torch's default generator when undefined.
  Sample forward(const torch::Tensor& observation,
                 const torch::Tensor& noise = {});

 protected:
  ActOutput ActImpl(const torch::Tensor& observation,
                    const ActOptions& options) override;

 private:
  int64_t action_dim_;
  Mlp mlp_{nullptr};  // outputs [mean, log_std].
  torch::Tensor action_scale_, action_offset_;
};
TORCH_MODULE(GaussianPolicy);

// impala's actor-critic: one torso, a softmax policy head "policy" and a
// value head "value" ([B] for mse, [B, bins] logits for hl_gauss).
class CategoricalPolicyImpl : public ActorPolicy {
 public:
  CategoricalPolicyImpl(int64_t observation_size, int64_t num_actions,
                        const NetworkConfig& config,
                        const ValueHead& value_head);
  // {policy logits [..., A], value output [..., 1 or bins]} for [..., obs].
  std::pair<torch::Tensor, torch::Tensor> forward(
      const torch::Tensor& observation);
  const ValueHead& value_head() const { return value_head_; }

 protected:
  ActOutput ActImpl(const torch::Tensor& observation,
                    const ActOptions& options) override;

 private:
  ValueHead value_head_;
  Mlp torso_{nullptr};
  torch::nn::Linear policy_{nullptr}, value_{nullptr};
};
TORCH_MODULE(CategoricalPolicy);

// sac's twin critic: two independent MLPs "q1", "q2" over concat(s, a).
// forward returns their raw outputs, [B, 1] (mse) or [B, bins] logits.
class ContinuousCriticImpl : public torch::nn::Module {
 public:
  ContinuousCriticImpl(int64_t observation_size, int64_t action_dim,
                       const NetworkConfig& config,
                       const ValueHead& value_head);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& obs,
                                                  const torch::Tensor& action);
  const ValueHead& value_head() const { return value_head_; }

 private:
  ValueHead value_head_;
  Mlp q1_{nullptr}, q2_{nullptr};
};
TORCH_MODULE(ContinuousCritic);

// Builds the policy module that Algorithm::policy() returns for `config`:
// QNetwork for dqn, GaussianPolicy for sac, CategoricalPolicy for impala.
// INVALID_ARGUMENT when the algorithm does not fit the action space.
absl::StatusOr<std::shared_ptr<ActorPolicy>> MakePolicy(
    const ExperimentConfig& config, const EnvShape& shape);

}  // namespace shoal

#endif  // SHOAL_COMMON_TORCH_NETWORKS_H_
