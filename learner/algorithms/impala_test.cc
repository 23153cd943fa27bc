#include "learner/algorithms/impala.h"

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "common/config.h"
#include "learner/algorithms/algorithm.h"
#include "learner/algorithms/algorithm_testing.h"

namespace shoal {
namespace {

using testing::DiscreteShape;
using testing::MakeSmallConfig;
using testing::MakeUnrollBatch;

std::unique_ptr<ImpalaAlgorithm> MakeImpala(const ExperimentConfig& config) {
  absl::StatusOr<std::unique_ptr<ImpalaAlgorithm>> impala =
      ImpalaAlgorithm::Create(config, DiscreteShape(4, 3), torch::kCPU);
  EXPECT_TRUE(impala.ok()) << impala.status();
  return std::move(impala).value();
}

// On-policy data (behaviour log-probs equal the network's), where V-trace
// reduces to bootstrapped discounted returns, computed here with a plain
// backwards loop.
TEST(ImpalaTest, OnPolicyLossMatchesDiscountedReturns) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kImpala);
  config.algorithm.impala.entropy_cost = 0.02;
  config.algorithm.impala.baseline_cost = 0.5;
  std::unique_ptr<ImpalaAlgorithm> impala = MakeImpala(config);
  const int64_t b = 3, t = 4;
  Batch batch = MakeUnrollBatch(DiscreteShape(4, 3), b, t, /*seed=*/5);
  batch.columns["discount"][1][2] = 0.0f;  // an episode ends mid-unroll.
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    auto [logits, value_out] =
        impala->network()->forward(batch.columns["observation"]);
    torch::Tensor values = value_out.squeeze(-1);  // [B, T+1]
    torch::Tensor log_probs = torch::log_softmax(logits.narrow(1, 0, t), -1);
    torch::Tensor logp =
        log_probs.gather(2, batch.columns["action"].unsqueeze(2)).squeeze(2);
    batch.columns["behaviour_log_prob"] = logp.clone();
    torch::Tensor r = batch.columns["reward"], d = batch.columns["discount"];
    std::vector<torch::Tensor> vs(t + 1);
    vs[t] = values.select(1, t);
    for (int64_t k = t - 1; k >= 0; --k) {
      vs[k] = r.select(1, k) + d.select(1, k) * vs[k + 1];
    }
    torch::Tensor vs_t =
        torch::stack(std::vector<torch::Tensor>(vs.begin(), vs.begin() + t), 1);
    torch::Tensor vs_next =
        torch::stack(std::vector<torch::Tensor>(vs.begin() + 1, vs.end()), 1);
    torch::Tensor v = values.narrow(1, 0, t);
    torch::Tensor adv = r + d * vs_next - v;
    torch::Tensor entropy = -(log_probs.exp() * log_probs).sum(-1).mean();
    expected = -(logp * adv).mean() + 0.5 * (0.5 * (vs_t - v).square()).mean() -
               0.02 * entropy;
  }
  absl::StatusOr<UpdateResult> result = impala->Update(batch);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->scalars["loss"], expected.item<double>(), 1e-5);
  EXPECT_NEAR(result->scalars["rho_mean"], 1.0, 1e-6);
}

// An unroll cut by an episode end and padded (mask 0, the final observation
// repeated, zero reward and discount) must train exactly like the shorter
// unroll of its real steps: padding contributes nothing.
TEST(ImpalaTest, MaskedPaddingTrainsLikeTheShorterUnroll) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kImpala);
  const int64_t b = 2, t = 3, real = 2;
  Batch padded = MakeUnrollBatch(DiscreteShape(4, 3), b, t, /*seed=*/9);
  Batch shorter;
  for (const auto& [name, column] : padded.columns) {
    const int64_t keep = name == "observation" ? real + 1 : real;
    shorter.columns[name] = column.narrow(1, 0, keep).clone();
  }
  torch::Tensor obs = padded.columns["observation"];
  obs.narrow(1, real + 1, t - real).copy_(obs.narrow(1, real, 1));
  padded.columns["reward"].narrow(1, real, t - real).zero_();
  padded.columns["discount"].narrow(1, real, t - real).zero_();
  torch::Tensor mask = torch::ones({b, t});
  mask.narrow(1, real, t - real).zero_();
  padded.columns["mask"] = mask;

  torch::manual_seed(3);
  std::unique_ptr<ImpalaAlgorithm> a = MakeImpala(config);
  torch::manual_seed(3);
  std::unique_ptr<ImpalaAlgorithm> c = MakeImpala(config);
  absl::StatusOr<UpdateResult> with_padding = a->Update(padded);
  absl::StatusOr<UpdateResult> without = c->Update(shorter);
  ASSERT_TRUE(with_padding.ok()) << with_padding.status();
  ASSERT_TRUE(without.ok()) << without.status();
  for (const char* name : {"loss", "pg_loss", "baseline_loss", "entropy"}) {
    EXPECT_NEAR(with_padding->scalars[name], without->scalars[name], 1e-5)
        << name;
  }
}

TEST(ImpalaTest, HlGaussBaselineTrains) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kImpala);
  config.algorithm.value_loss.kind = ValueLossKind::kHlGauss;
  config.algorithm.value_loss.num_bins = 15;
  std::unique_ptr<ImpalaAlgorithm> impala = MakeImpala(config);
  double first = 0.0, last = 0.0;
  Batch batch = MakeUnrollBatch(DiscreteShape(4, 3), 4, 5, /*seed=*/8);
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<UpdateResult> result = impala->Update(batch);
    ASSERT_TRUE(result.ok()) << result.status();
    if (i == 0) first = result->scalars["baseline_loss"];
    last = result->scalars["baseline_loss"];
  }
  EXPECT_LT(last, first);
}

TEST(ImpalaTest, AnUnrollWithoutABootstrapStepIsInvalidArgument) {
  std::unique_ptr<ImpalaAlgorithm> impala =
      MakeImpala(MakeSmallConfig(AlgorithmKind::kImpala));
  Batch batch = MakeUnrollBatch(DiscreteShape(4, 3), 2, 3, 1);
  batch.columns["observation"] = batch.columns["observation"].narrow(1, 0, 3);
  absl::StatusOr<UpdateResult> result = impala->Update(batch);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("'action'"), std::string::npos)
      << result.status();
}

}  // namespace
}  // namespace shoal
