#include "learner/algorithms/sac.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "common/config.h"
#include "learner/algorithms/algorithm.h"
#include "learner/algorithms/algorithm_testing.h"

namespace shoal {
namespace {

using testing::BoxShape;
using testing::MakeSmallConfig;
using testing::MakeTransitionBatch;
using testing::ManualMlp;

EnvShape PendulumLike() { return BoxShape(3, {-2.0f}, {2.0f}); }

std::unique_ptr<SacAlgorithm> MakeSac(const ExperimentConfig& config) {
  absl::StatusOr<std::unique_ptr<SacAlgorithm>> sac =
      SacAlgorithm::Create(config, PendulumLike(), torch::kCPU);
  EXPECT_TRUE(sac.ok()) << sac.status();
  return std::move(sac).value();
}

// The tanh-Gaussian policy written out: returns {action, log_prob}.
std::pair<torch::Tensor, torch::Tensor> ManualPolicy(SacAlgorithm& sac,
                                                     torch::Tensor obs,
                                                     torch::Tensor noise) {
  torch::Tensor out = ManualMlp(*sac.actor(), "mlp.", 2, obs);
  torch::Tensor mean = out.narrow(1, 0, 1), raw = out.narrow(1, 1, 1);
  torch::Tensor log_std = -5.0 + 3.5 * (torch::tanh(raw) + 1.0);
  torch::Tensor u = mean + log_std.exp() * noise;
  const double scale = 2.0;
  torch::Tensor log_prob = -0.5 * noise.square() - log_std -
                           0.5 * std::log(2.0 * M_PI) -
                           (scale * (1.0 - torch::tanh(u).square())).log();
  return {scale * torch::tanh(u), log_prob.sum(1)};
}

torch::Tensor ManualQ(torch::nn::Module& critic, const std::string& head,
                      torch::Tensor obs, torch::Tensor action) {
  return ManualMlp(critic, head + ".", 2, torch::cat({obs, action}, 1))
      .squeeze(1);
}

// Recomputes the three SAC losses with explicit tensor math from the
// networks' weights and the same standard-normal draws the update makes
// (next-state sample first, then the current-state sample).
TEST(SacTest, LossesMatchAnIndependentComputation) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kSac);
  config.algorithm.sac.init_alpha = 0.3;
  std::unique_ptr<SacAlgorithm> sac = MakeSac(config);
  const int64_t b = 6;
  Batch batch = MakeTransitionBatch(PendulumLike(), b, /*seed=*/11);
  torch::Tensor obs = batch.columns["observation"];
  torch::Tensor next = batch.columns["next_observation"];
  torch::Tensor action = batch.columns["action"];

  torch::manual_seed(99);
  torch::Tensor noise_next = torch::randn({b, 1});
  torch::Tensor noise_now = torch::randn({b, 1});
  const double alpha = 0.3;
  torch::Tensor critic_loss, actor_loss, alpha_loss;
  {
    torch::NoGradGuard no_grad;
    auto [next_a, next_logp] = ManualPolicy(*sac, next, noise_next);
    torch::Tensor next_q =
        torch::min(ManualQ(*sac->target_critic(), "q1", next, next_a),
                   ManualQ(*sac->target_critic(), "q2", next, next_a));
    torch::Tensor y = batch.columns["reward"] +
                      batch.columns["discount"] * (next_q - alpha * next_logp);
    critic_loss = ((ManualQ(*sac->critic(), "q1", obs, action) - y).square() +
                   (ManualQ(*sac->critic(), "q2", obs, action) - y).square())
                      .mean();
    auto [a, logp] = ManualPolicy(*sac, obs, noise_now);
    torch::Tensor q = torch::min(ManualQ(*sac->critic(), "q1", obs, a),
                                 ManualQ(*sac->critic(), "q2", obs, a));
    actor_loss = (alpha * logp - q).mean();
    alpha_loss = -(std::log(alpha) * (logp + sac->target_entropy())).mean();
  }
  torch::manual_seed(99);
  absl::StatusOr<UpdateResult> result = sac->Update(batch);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->scalars["critic_loss"], critic_loss.item<double>(), 1e-4);
  EXPECT_NEAR(result->scalars["actor_loss"], actor_loss.item<double>(), 1e-4);
  EXPECT_NEAR(result->scalars["alpha_loss"], alpha_loss.item<double>(), 1e-4);
  EXPECT_NEAR(result->scalars["alpha"], alpha, 1e-6);
  EXPECT_EQ(sac->target_entropy(), -1.0);
  EXPECT_EQ(sac->step(), 1);
  EXPECT_FALSE(result->new_priorities.defined());
}

TEST(SacTest, TargetsTrailTheCriticByTau) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kSac);
  config.algorithm.sac.tau = 0.5;
  std::unique_ptr<SacAlgorithm> sac = MakeSac(config);
  auto before = testing::Snapshot(*sac->target_critic());
  ASSERT_TRUE(sac->Update(MakeTransitionBatch(PendulumLike(), 8, 1)).ok());
  auto critic = sac->critic()->parameters();
  auto target = sac->target_critic()->parameters();
  for (size_t i = 0; i < target.size(); ++i) {
    EXPECT_TRUE(torch::allclose(
        target[i], 0.5 * before[i].second + 0.5 * critic[i], 1e-5, 1e-6));
  }
}

TEST(SacTest, FixedAlphaStaysFixedAndLearnedAlphaMoves) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kSac);
  config.algorithm.sac.learn_alpha = false;
  std::unique_ptr<SacAlgorithm> fixed = MakeSac(config);
  config.algorithm.sac.learn_alpha = true;
  std::unique_ptr<SacAlgorithm> learned = MakeSac(config);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(fixed->Update(MakeTransitionBatch(PendulumLike(), 8, i)).ok());
    ASSERT_TRUE(
        learned->Update(MakeTransitionBatch(PendulumLike(), 8, i)).ok());
  }
  EXPECT_NEAR(fixed->alpha(), 0.2, 1e-7);  // float32 log_alpha.
  EXPECT_GT(std::abs(learned->alpha() - 0.2), 1e-4);
}

TEST(SacTest, HlGaussCriticTrains) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kSac);
  config.algorithm.value_loss.kind = ValueLossKind::kHlGauss;
  config.algorithm.value_loss.num_bins = 21;
  std::unique_ptr<SacAlgorithm> sac = MakeSac(config);
  absl::StatusOr<UpdateResult> result =
      sac->Update(MakeTransitionBatch(PendulumLike(), 8, 5));
  ASSERT_TRUE(result.ok()) << result.status();
  // Cross-entropy of two heads, each at most log(21) away from uniform-ish.
  EXPECT_GT(result->scalars["critic_loss"], 0.0);
  EXPECT_LT(result->scalars["critic_loss"], 4 * std::log(21.0));
}

TEST(SacTest, RejectsADiscreteActionSpace) {
  EXPECT_EQ(SacAlgorithm::Create(MakeSmallConfig(AlgorithmKind::kSac),
                                 testing::DiscreteShape(4, 2), torch::kCPU)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoal
