#include "common/torch/networks.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "common/config.h"

namespace shoal {
namespace {

NetworkConfig SmallNet(bool layer_norm = false) {
  NetworkConfig net;
  net.hidden = {16, 8};
  net.layer_norm = layer_norm;
  return net;
}

std::vector<std::string> ParameterNames(const torch::nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& item : module.named_parameters())
    names.push_back(item.key());
  return names;
}

TEST(MlpTest, HasNamedLayersAndOrthogonalHiddenWeights) {
  Mlp mlp(/*input_size=*/32, /*output_size=*/3, SmallNet(/*layer_norm=*/true),
          /*output_gain=*/0.01);
  EXPECT_EQ(ParameterNames(*mlp),
            (std::vector<std::string>{
                "linear0.weight", "linear0.bias", "norm0.weight", "norm0.bias",
                "linear1.weight", "linear1.bias", "norm1.weight", "norm1.bias",
                "out.weight", "out.bias"}));
  // Rows of an orthogonal [16, 32] matrix with gain sqrt(2): W W^T = 2 I.
  torch::Tensor w = mlp->named_parameters()["linear0.weight"];
  EXPECT_TRUE(torch::allclose(w.mm(w.t()), 2.0 * torch::eye(16),
                              /*rtol=*/1e-4, /*atol=*/1e-4));
  torch::Tensor out = mlp->named_parameters()["out.weight"];  // [3, 8]
  EXPECT_TRUE(torch::allclose(out.mm(out.t()), 1e-4 * torch::eye(3),
                              /*rtol=*/1e-3, /*atol=*/1e-7));
  EXPECT_TRUE(mlp->named_parameters()["linear0.bias"].eq(0).all().item<bool>());
  EXPECT_EQ(mlp->forward(torch::randn({5, 32})).sizes(),
            (std::vector<int64_t>{5, 3}));
}

TEST(MlpTest, EveryActivationRuns) {
  for (Activation a : {Activation::kRelu, Activation::kTanh, Activation::kElu,
                       Activation::kGelu, Activation::kSilu}) {
    NetworkConfig net = SmallNet();
    net.activation = a;
    Mlp mlp(4, 2, net, 1.0);
    EXPECT_TRUE(
        mlp->forward(torch::randn({3, 4})).isfinite().all().item<bool>());
  }
}

TEST(ApeXEpsilonTest, FollowsTheLadder) {
  EXPECT_DOUBLE_EQ(ApeXEpsilon(0.4, 7.0, 0, 1), 0.4);
  EXPECT_DOUBLE_EQ(ApeXEpsilon(0.4, 7.0, 0, 8), 0.4);
  EXPECT_DOUBLE_EQ(ApeXEpsilon(0.4, 7.0, 7, 8), std::pow(0.4, 8.0));
  EXPECT_DOUBLE_EQ(ApeXEpsilon(0.4, 7.0, 1, 3), std::pow(0.4, 4.5));
}

TEST(QNetworkTest, DuelingAndHlGaussShapes) {
  ValueHead scalar;
  QNetwork plain(4, 3, SmallNet(), /*dueling=*/false, scalar);
  EXPECT_EQ(plain->forward(torch::randn({5, 4})).sizes(),
            (std::vector<int64_t>{5, 3}));
  ValueHead bins{/*num_bins=*/11, /*v_min=*/-1.0, /*v_max=*/1.0};
  QNetwork dueling(4, 3, SmallNet(), /*dueling=*/true, bins);
  torch::Tensor obs = torch::randn({5, 4});
  EXPECT_EQ(dueling->forward(obs).sizes(), (std::vector<int64_t>{5, 3, 11}));
  torch::Tensor values = dueling->Values(obs);
  EXPECT_EQ(values.sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_TRUE(values.abs().le(1.0).all().item<bool>());
}

TEST(QNetworkTest, GreedyActsOnTheArgmaxAndEpsilonOneIsUniform) {
  QNetwork q(4, 3, SmallNet(), /*dueling=*/false, ValueHead{});
  torch::Tensor obs = torch::randn({2000, 4});
  absl::StatusOr<ActOutput> greedy = q->Act(obs, {/*deterministic=*/true, 0.0});
  ASSERT_TRUE(greedy.ok()) << greedy.status();
  EXPECT_TRUE(torch::equal(greedy->action, q->Values(obs).argmax(-1)));
  absl::StatusOr<ActOutput> random = q->Act(obs, {false, /*epsilon=*/1.0});
  ASSERT_TRUE(random.ok());
  torch::Tensor counts = torch::bincount(random->action, {}, 3);
  EXPECT_TRUE(counts.gt(550).all().item<bool>()) << counts;
}

TEST(GaussianPolicyTest, ActionsStayInBoundsAndLogProbHasTanhCorrection) {
  GaussianPolicy pi(3, /*low=*/std::vector<float>{-2.0f, 0.0f},
                    /*high=*/std::vector<float>{2.0f, 1.0f}, SmallNet());
  torch::Tensor obs = torch::randn({64, 3});
  torch::Tensor noise = torch::randn({64, 2});
  GaussianPolicyImpl::Sample s = pi->forward(obs, noise);
  torch::Tensor lo = torch::tensor({-2.0f, 0.0f}),
                hi = torch::tensor({2.0f, 1.0f});
  EXPECT_TRUE(s.action.ge(lo).all().item<bool>());
  EXPECT_TRUE(s.action.le(hi).all().item<bool>());
  // Recompute: u = mean + std * noise, density of a = tanh(u) scale + offset.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out =
      pi->named_children()["mlp"]->as<MlpImpl>()->forward(obs).chunk(2, -1);
  torch::Tensor log_std = -5.0 + 3.5 * (torch::tanh(out[1]) + 1);
  torch::Tensor u = out[0] + log_std.exp() * noise;
  torch::Tensor scale = (hi - lo) / 2;
  torch::Tensor normal_log_prob =
      -0.5 * noise.square() - log_std - 0.5 * std::log(2 * M_PI);
  torch::Tensor expected =
      (normal_log_prob - (scale * (1 - torch::tanh(u).square())).log()).sum(-1);
  EXPECT_TRUE(torch::allclose(s.log_prob, expected, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(s.mean_action,
                              torch::tanh(out[0]) * scale + (hi + lo) / 2));
  EXPECT_EQ(pi->named_buffers().size(), 2u);
}

TEST(CategoricalPolicyTest, ActReturnsTheActionsLogProb) {
  ValueHead head;
  CategoricalPolicy pi(4, 5, SmallNet(), head);
  torch::Tensor obs = torch::randn({8, 4});
  absl::StatusOr<ActOutput> act = pi->Act(obs, ActOptions{});
  ASSERT_TRUE(act.ok());
  auto [logits, value] = pi->forward(obs);
  EXPECT_EQ(value.sizes(), (std::vector<int64_t>{8, 1}));
  torch::Tensor expected = torch::log_softmax(logits, -1)
                               .gather(1, act->action.unsqueeze(1))
                               .squeeze(1);
  EXPECT_TRUE(torch::allclose(act->log_prob, expected));
}

TEST(ActorPolicyTest, MisShapedObservationIsInvalidArgument) {
  QNetwork q(4, 2, SmallNet(), false, ValueHead{});
  EXPECT_EQ(q->Act(torch::randn({3, 5}), ActOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Act(torch::randn({4}), ActOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ContinuousCriticTest, TwinHeadsAreIndependent) {
  ContinuousCritic critic(3, 1, SmallNet(), ValueHead{});
  auto [q1, q2] = critic->forward(torch::randn({6, 3}), torch::randn({6, 1}));
  EXPECT_EQ(q1.sizes(), (std::vector<int64_t>{6, 1}));
  EXPECT_FALSE(torch::allclose(q1, q2));
}

TEST(MakePolicyTest, RejectsAnAlgorithmThatDoesNotFitTheActionSpace) {
  ExperimentConfig config;
  config.algorithm.name = AlgorithmKind::kSac;
  EnvShape discrete{/*observation_size=*/4,
                    /*discrete=*/true,
                    /*num_actions=*/2,
                    {},
                    {}};
  EXPECT_EQ(MakePolicy(config, discrete).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.algorithm.name = AlgorithmKind::kDqn;
  absl::StatusOr<std::shared_ptr<ActorPolicy>> q = MakePolicy(config, discrete);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_NE(std::dynamic_pointer_cast<QNetworkImpl>(*q), nullptr);
}

}  // namespace
}  // namespace shoal
