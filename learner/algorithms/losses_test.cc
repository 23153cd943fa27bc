#include "learner/algorithms/losses.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "torch/torch.h"

#include "common/config.h"
#include "common/torch/networks.h"

namespace shoal {
namespace {

std::vector<float> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous().to(torch::kFloat32).cpu();
  return std::vector<float>(c.data_ptr<float>(),
                            c.data_ptr<float>() + c.numel());
}

void ExpectNear(const torch::Tensor& actual, const std::vector<float>& expected,
                double tolerance) {
  std::vector<float> got = ToVector(actual);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], tolerance) << "at " << i;
  }
}

// The numbers of row 0 are worked out by hand (rho_bar = c_bar = 1):
//   rhos = [0.5, 2, 1] -> clipped [0.5, 1, 1]; next values [1, 1.5, 3].
//   deltas = [0.5 (1 + 0.9*1 - 0.5), 1 (0 + 0.9*1.5 - 1), 1 (2 + 0 - 1.5)]
//          = [0.7, 0.35, 0.5]
//   vs - V: t2 = 0.5; t1 = 0.35 + 0.9*1*0.5 = 0.8; t0 = 0.7 + 0.9*0.5*0.8
//          = 1.06  ->  vs = [1.56, 1.8, 2.0]
//   pg_adv = [0.5 (1 + 0.9*1.8 - 0.5), 1 (0 + 0.9*2 - 1), 1 (2 - 1.5)]
//          = [1.06, 0.8, 0.5]
// Row 1 is on-policy (rhos = 1), where vs is the n-step return
// 1 + 0.5 + 0.25 + 0.125*4 = 2.25, then 2.5, 3.
TEST(VTraceTest, MatchesHandComputedSmallCase) {
  torch::Tensor log_rhos = torch::tensor(
      {{std::log(0.5f), std::log(2.0f), 0.0f}, {0.0f, 0.0f, 0.0f}});
  torch::Tensor discounts =
      torch::tensor({{0.9f, 0.9f, 0.0f}, {0.5f, 0.5f, 0.5f}});
  torch::Tensor rewards =
      torch::tensor({{1.0f, 0.0f, 2.0f}, {1.0f, 1.0f, 1.0f}});
  torch::Tensor values =
      torch::tensor({{0.5f, 1.0f, 1.5f}, {0.0f, 0.0f, 0.0f}});
  torch::Tensor bootstrap = torch::tensor({3.0f, 4.0f});
  VTraceReturns out = VTrace(log_rhos, discounts, rewards, values, bootstrap,
                             /*rho_bar=*/1.0, /*c_bar=*/1.0);
  ExpectNear(out.vs, {1.56f, 1.8f, 2.0f, 2.25f, 2.5f, 3.0f}, 1e-5);
  ExpectNear(out.pg_advantages, {1.06f, 0.8f, 0.5f, 2.25f, 2.5f, 3.0f}, 1e-5);
}

TEST(VTraceTest, RhoBarClipsTheAdvantageWeight) {
  torch::Tensor log_rhos = torch::full({1, 1}, std::log(4.0f));
  torch::Tensor out = VTrace(log_rhos, torch::zeros({1, 1}),
                             torch::ones({1, 1}), torch::zeros({1, 1}),
                             torch::zeros({1}), /*rho_bar=*/2.0, /*c_bar=*/1.0)
                          .pg_advantages;
  EXPECT_FLOAT_EQ(out.item<float>(), 2.0f);
}

TEST(HlGaussProjectionTest, MassSumsToOneAndExpectationIsTheTarget) {
  const double v_min = -10, v_max = 10;
  const int64_t bins = 51;
  const double width = (v_max - v_min) / bins;
  torch::Tensor targets = torch::tensor({-5.3f, 0.0f, 2.71f, 7.77f, -8.1f});
  torch::Tensor probs =
      HlGaussProjection(targets, v_min, v_max, bins, 0.75 * width);
  ASSERT_EQ(probs.sizes(), (std::vector<int64_t>{5, bins}));
  EXPECT_TRUE(probs.ge(0).all().item<bool>());
  ExpectNear(probs.sum(-1), std::vector<float>(5, 1.0f), 1e-5);
  torch::Tensor support = HlGaussSupport(v_min, v_max, bins, torch::kFloat32);
  ExpectNear((probs * support).sum(-1), ToVector(targets), 1e-3 * width);
  // HlGaussValue of log-probabilities is the same expectation.
  ExpectNear(HlGaussValue(probs.log(), v_min, v_max), ToVector(targets),
             1e-3 * width);
}

TEST(HlGaussProjectionTest, TargetsOutsideTheSupportAreClamped) {
  torch::Tensor probs =
      HlGaussProjection(torch::tensor({25.0f, 10.0f, -30.0f, -10.0f}),
                        /*v_min=*/-10, /*v_max=*/10, /*num_bins=*/21,
                        /*sigma=*/0.7);
  EXPECT_TRUE(torch::allclose(probs[0], probs[1]));
  EXPECT_TRUE(torch::allclose(probs[2], probs[3]));
  EXPECT_GT(probs[0][20].item<float>(), probs[0][19].item<float>());
  EXPECT_NEAR(probs[0].sum().item<float>(), 1.0f, 1e-5);
}

TEST(HlGaussProjectionTest, ConfigOverloadUsesSigmaRatioOfTheBinWidth) {
  ValueLossConfig config;
  config.kind = ValueLossKind::kHlGauss;
  config.num_bins = 11;
  config.v_min = 0;
  config.v_max = 11;
  config.sigma_ratio = 0.5;
  torch::Tensor t = torch::tensor({3.3f});
  EXPECT_TRUE(torch::allclose(HlGaussProjection(t, config),
                              HlGaussProjection(t, 0, 11, 11, 0.5)));
}

TEST(HuberTest, IsQuadraticInsideDeltaAndLinearOutside) {
  ExpectNear(Huber(torch::tensor({0.5f, -0.5f, 3.0f, -3.0f}), /*delta=*/1.0),
             {0.125f, 0.125f, 2.5f, 2.5f}, 1e-6);
}

TEST(PolyakUpdateTest, MovesTargetTauOfTheWayToOnline) {
  NetworkConfig net;
  net.hidden = {4};
  net.layer_norm = true;
  Mlp online(3, 2, net, 1.0);
  Mlp target(3, 2, net, 1.0);
  std::vector<torch::Tensor> before;
  for (const torch::Tensor& p : target->parameters())
    before.push_back(p.clone());
  PolyakUpdate(*target, *online, /*tau=*/0.25);
  std::vector<torch::Tensor> after = target->parameters();
  std::vector<torch::Tensor> src = online->parameters();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::allclose(after[i], 0.75 * before[i] + 0.25 * src[i],
                                /*rtol=*/1e-6, /*atol=*/1e-7));
  }
  HardUpdate(*target, *online);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::equal(after[i], src[i]));
  }
}

TEST(ImportanceTest, BetaAnnealsLinearlyAndWeightsPeakAtOne) {
  DqnConfig config;
  config.importance_beta_start = 0.4;
  config.importance_beta_end = 1.0;
  config.importance_beta_steps = 100;
  EXPECT_DOUBLE_EQ(ImportanceBeta(config, 0), 0.4);
  EXPECT_DOUBLE_EQ(ImportanceBeta(config, 50), 0.7);
  EXPECT_DOUBLE_EQ(ImportanceBeta(config, 500), 1.0);
  // P = [0.5, 0.25, 0.25] of 4 items, beta 1: (4P)^-1 = [0.5, 1, 1].
  ExpectNear(ImportanceWeights(torch::tensor({0.5f, 0.25f, 0.25f}), 4, 1.0),
             {0.5f, 1.0f, 1.0f}, 1e-6);
}

}  // namespace
}  // namespace shoal
