#include "learner/algorithms/dqn.h"

#include <memory>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "common/config.h"
#include "learner/algorithms/algorithm.h"
#include "learner/algorithms/algorithm_testing.h"
#include "learner/algorithms/losses.h"

namespace shoal {
namespace {

using testing::DiscreteShape;
using testing::MakeSmallConfig;
using testing::MakeTransitionBatch;
using testing::ManualMlp;

std::unique_ptr<DqnAlgorithm> MakeDqn(const ExperimentConfig& config) {
  absl::StatusOr<std::unique_ptr<DqnAlgorithm>> dqn =
      DqnAlgorithm::Create(config, DiscreteShape(4, 3), torch::kCPU);
  EXPECT_TRUE(dqn.ok()) << dqn.status();
  return std::move(dqn).value();
}

// Double DQN with importance weights and Huber, recomputed by hand: the
// online net picks a' = argmax Q(s'), the target net scores it.
TEST(DqnTest, LossAndPrioritiesMatchAnIndependentComputation) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kDqn);
  config.algorithm.dqn.huber_delta = 0.5;
  std::unique_ptr<DqnAlgorithm> dqn = MakeDqn(config);
  // Make online and target differ so double-Q matters.
  ASSERT_TRUE(
      dqn->Update(MakeTransitionBatch(DiscreteShape(4, 3), 16, 1)).ok());
  Batch batch = MakeTransitionBatch(DiscreteShape(4, 3), 7, /*seed=*/2);
  batch.importance_weights = torch::linspace(0.3, 1.0, 7);
  torch::Tensor expected_loss, expected_td;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor next = batch.columns["next_observation"];
    torch::Tensor a_star =
        ManualMlp(*dqn->q_network(), "mlp.", 2, next).argmax(1, true);
    torch::Tensor next_q =
        ManualMlp(*dqn->target_network(), "mlp.", 2, next).gather(1, a_star);
    torch::Tensor y =
        batch.columns["reward"] + batch.columns["discount"] * next_q.squeeze(1);
    torch::Tensor q =
        ManualMlp(*dqn->q_network(), "mlp.", 2, batch.columns["observation"])
            .gather(1, batch.columns["action"].unsqueeze(1))
            .squeeze(1);
    torch::Tensor err = q - y;
    torch::Tensor huber = torch::where(err.abs() <= 0.5, 0.5 * err.square(),
                                       0.5 * (err.abs() - 0.25));
    expected_loss = (batch.importance_weights * huber).mean();
    expected_td = err.abs();
  }
  absl::StatusOr<UpdateResult> result = dqn->Update(batch);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->scalars["loss"], expected_loss.item<double>(), 1e-5);
  EXPECT_TRUE(torch::allclose(result->new_priorities, expected_td, 1e-4, 1e-5));
}

TEST(DqnTest, TargetNetworkIsCopiedEveryPeriod) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kDqn);
  config.algorithm.dqn.target_update_period = 3;
  std::unique_ptr<DqnAlgorithm> dqn = MakeDqn(config);
  auto initial = testing::Snapshot(*dqn->target_network());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        dqn->Update(MakeTransitionBatch(DiscreteShape(4, 3), 8, i)).ok());
  }
  EXPECT_TRUE(testing::SameAs(initial, *dqn->target_network()));
  ASSERT_TRUE(dqn->Update(MakeTransitionBatch(DiscreteShape(4, 3), 8, 9)).ok());
  EXPECT_TRUE(testing::SameAs(testing::Snapshot(*dqn->q_network()),
                              *dqn->target_network()));
}

TEST(DqnTest, HlGaussLossIsCrossEntropyAndPriorityUsesTheExpectation) {
  ExperimentConfig config = MakeSmallConfig(AlgorithmKind::kDqn);
  config.algorithm.value_loss.kind = ValueLossKind::kHlGauss;
  config.algorithm.value_loss.num_bins = 11;
  config.algorithm.value_loss.v_min = -5;
  config.algorithm.value_loss.v_max = 5;
  config.algorithm.dqn.dueling = true;
  std::unique_ptr<DqnAlgorithm> dqn = MakeDqn(config);
  Batch batch = MakeTransitionBatch(DiscreteShape(4, 3), 5, /*seed=*/4);
  torch::Tensor expected_loss, expected_td;
  {
    torch::NoGradGuard no_grad;
    QNetwork& q = dqn->q_network();
    torch::Tensor next = batch.columns["next_observation"];
    torch::Tensor a_star = q->Values(next).argmax(1, true);
    torch::Tensor y =
        batch.columns["reward"] +
        batch.columns["discount"] *
            dqn->target_network()->Values(next).gather(1, a_star).squeeze(1);
    torch::Tensor logits =
        q->forward(batch.columns["observation"])
            .index({torch::arange(5), batch.columns["action"]});  // [5, 11]
    torch::Tensor support = torch::linspace(-5 + 10.0 / 22, 5 - 10.0 / 22, 11);
    torch::Tensor target = HlGaussProjection(y, -5, 5, 11, 0.75 * 10.0 / 11);
    expected_loss = -(target * torch::log_softmax(logits, 1)).sum(1).mean();
    expected_td = ((torch::softmax(logits, 1) * support).sum(1) - y).abs();
  }
  absl::StatusOr<UpdateResult> result = dqn->Update(batch);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->scalars["loss"], expected_loss.item<double>(), 1e-5);
  EXPECT_TRUE(torch::allclose(result->new_priorities, expected_td, 1e-4, 1e-5));
}

TEST(DqnTest, OutOfRangeActionIsInvalidArgument) {
  std::unique_ptr<DqnAlgorithm> dqn =
      MakeDqn(MakeSmallConfig(AlgorithmKind::kDqn));
  Batch batch = MakeTransitionBatch(DiscreteShape(4, 3), 4, 1);
  batch.columns["action"][2] = 3;
  absl::StatusOr<UpdateResult> result = dqn->Update(batch);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("'action'"), std::string::npos);
}

}  // namespace
}  // namespace shoal
