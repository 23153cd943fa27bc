// MountainCar's reset distribution and physics; what it shares with the
// other classic-control envs is in classic_control_env_test.cc.
#include "actor/envs/mountain_car.h"

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"

namespace shoal {
namespace {

using ::shoal::env_testing::CreateEnv;
using ::shoal::env_testing::DiscreteAction;

TEST(MountainCarTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<MountainCar> env = CreateEnv<MountainCar>();
  const env_testing::EpisodeSummary run = env_testing::ExpectTruncatedAfter(
      *env, /*seed=*/0, DiscreteAction(1), /*steps=*/200);
  EXPECT_EQ(run.total_reward, -200.0);
}

TEST(MountainCarTest, TerminatesAtTheGoal) {
  std::unique_ptr<MountainCar> env = CreateEnv<MountainCar>();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->SetState({0.49, 0.05}, absl::MakeSpan(obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(DiscreteAction(2), absl::MakeSpan(obs));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->terminated);
  EXPECT_EQ(result->reward, -1.0);
}

TEST(MountainCarTest, StopsAtTheLeftWall) {
  std::unique_ptr<MountainCar> env = CreateEnv<MountainCar>();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->SetState({-1.19, -0.07}, absl::MakeSpan(obs)).ok());
  ASSERT_TRUE(env->Step(DiscreteAction(0), absl::MakeSpan(obs)).ok());
  EXPECT_EQ(obs[0], -1.2f);
  EXPECT_EQ(obs[1], 0.0f);
}

TEST(MountainCarTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<MountainCar> env = CreateEnv<MountainCar>();
  const std::vector<float> a =
      env_testing::ExpectDeterministicReset(*env, /*seed=*/4, /*other_seed=*/5);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_GE(a[0], -0.6f);
  EXPECT_LE(a[0], -0.4f);
  EXPECT_EQ(a[1], 0.0f);
}

}  // namespace
}  // namespace shoal
