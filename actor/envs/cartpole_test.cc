// CartPole's reset distribution and physics; what it shares with the other
// classic-control envs is in classic_control_env_test.cc.
#include "actor/envs/cartpole.h"

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"

namespace shoal {
namespace {

using ::shoal::env_testing::CreateEnv;
using ::shoal::env_testing::DiscreteAction;
using ::shoal::env_testing::RunEpisode;

TEST(CartPoleTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<CartPole> env = CreateEnv<CartPole>();
  const std::vector<float> a =
      env_testing::ExpectDeterministicReset(*env, /*seed=*/7, /*other_seed=*/8);
  ASSERT_EQ(a.size(), 4u);
  for (float v : a) {
    EXPECT_GE(v, -0.05f);
    EXPECT_LE(v, 0.05f);
  }
}

TEST(CartPoleTest, TerminatesWhenThePoleFalls) {
  std::unique_ptr<CartPole> env = CreateEnv<CartPole>();
  std::vector<float> obs(4);
  ASSERT_TRUE(env->SetState({0.0, 0.0, 0.0, 0.0}, absl::MakeSpan(obs)).ok());
  const env_testing::EpisodeSummary run =
      RunEpisode(*env, DiscreteAction(1), /*max_steps=*/500);
  ASSERT_TRUE(run.status.ok()) << run.status;
  EXPECT_TRUE(run.last.terminated);
  EXPECT_FALSE(run.last.truncated);
  EXPECT_LT(run.steps, 50);
  EXPECT_EQ(run.total_reward, run.steps);  // 1 per step, the last included
}

}  // namespace
}  // namespace shoal
