// Acrobot's reset distribution, rewards and termination; what it shares
// with the other classic-control envs is in classic_control_env_test.cc.
#include "actor/envs/acrobot.h"

#include <cmath>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"

namespace shoal {
namespace {

using ::shoal::env_testing::CreateEnv;
using ::shoal::env_testing::DiscreteAction;

TEST(AcrobotTest, TruncatesOnMaxEpisodeStepsWithMinusOnePerStep) {
  std::unique_ptr<Acrobot> env = CreateEnv<Acrobot>();
  // No torque from near rest never swings the tip above the bar.
  const env_testing::EpisodeSummary run = env_testing::ExpectTruncatedAfter(
      *env, /*seed=*/0, DiscreteAction(1), /*steps=*/500);
  EXPECT_EQ(run.total_reward, -500.0);
}

TEST(AcrobotTest, TerminatesWithZeroRewardWhenTheTipIsAboveTheBar) {
  std::unique_ptr<Acrobot> env = CreateEnv<Acrobot>();
  std::vector<float> obs(6);
  // Both links pointing up: -cos(pi) - cos(pi + 0) = 2 > 1.
  ASSERT_TRUE(env->SetState({3.1, 0.0, 0.0, 0.0}, absl::MakeSpan(obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(DiscreteAction(1), absl::MakeSpan(obs));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->terminated);
  EXPECT_EQ(result->reward, 0.0);
}

TEST(AcrobotTest, ResetIsDeterministicAndFloat32) {
  std::unique_ptr<Acrobot> env = CreateEnv<Acrobot>();
  const std::vector<float> a =
      env_testing::ExpectDeterministicReset(*env, /*seed=*/5, /*other_seed=*/6);
  ASSERT_EQ(a.size(), 6u);
  EXPECT_LE(std::fabs(a[4]), 0.1f);
  EXPECT_LE(std::fabs(a[5]), 0.1f);
  EXPECT_GT(a[0], 0.99f);  // theta1 within 0.1 of 0
}

}  // namespace
}  // namespace shoal
