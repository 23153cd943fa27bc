#include "actor/envs/acrobot.h"

#include <cmath>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"

namespace shoal {
namespace {

using ::shoal::env_testing::DiscreteAction;
using ::shoal::env_testing::ResetObservation;
using ::shoal::env_testing::RunEpisode;
using ::testing::HasSubstr;

std::unique_ptr<Acrobot> MakeAcrobot(int max_episode_steps = 0) {
  absl::StatusOr<std::unique_ptr<Acrobot>> env =
      Acrobot::Create(max_episode_steps);
  EXPECT_TRUE(env.ok()) << env.status();
  return *std::move(env);
}

TEST(AcrobotTest, SpecMatchesGymnasium) {
  std::unique_ptr<Acrobot> env = MakeAcrobot();
  EXPECT_EQ(env->spec().name, "acrobot");
  EXPECT_EQ(env->spec().observation_size(), 6);
  EXPECT_EQ(env->spec().action_space.num_actions, 3);
  EXPECT_EQ(env->spec().max_episode_steps, 500);
}

TEST(AcrobotTest, TruncatesOnMaxEpisodeStepsWithMinusOnePerStep) {
  std::unique_ptr<Acrobot> env = MakeAcrobot();
  ASSERT_EQ(ResetObservation(*env, /*seed=*/0).size(), 6u);
  // No torque from near rest never swings the tip above the bar.
  const env_testing::EpisodeSummary run =
      RunEpisode(*env, DiscreteAction(1), /*max_steps=*/1000);
  ASSERT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.steps, 500);
  EXPECT_TRUE(run.last.truncated);
  EXPECT_FALSE(run.last.terminated);
  EXPECT_EQ(run.total_reward, -500.0);
}

TEST(AcrobotTest, TerminatesWithZeroRewardWhenTheTipIsAboveTheBar) {
  std::unique_ptr<Acrobot> env = MakeAcrobot();
  std::vector<float> obs(6);
  // Both links pointing up: -cos(pi) - cos(pi + 0) = 2 > 1.
  ASSERT_TRUE(env->SetState({3.1, 0.0, 0.0, 0.0}, absl::MakeSpan(obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(DiscreteAction(1), absl::MakeSpan(obs));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->terminated);
  EXPECT_EQ(result->reward, 0.0);
}

TEST(AcrobotTest, RejectsOutOfRangeActions) {
  std::unique_ptr<Acrobot> env = MakeAcrobot();
  std::vector<float> obs(6);
  ASSERT_TRUE(env->Reset(/*seed=*/0, absl::MakeSpan(obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(DiscreteAction(3), absl::MakeSpan(obs));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("got 3"));
  result = env->Step(DiscreteAction(-5), absl::MakeSpan(obs));
  EXPECT_THAT(result.status().message(), HasSubstr("got -5"));
}

TEST(AcrobotTest, ResetIsDeterministicAndFloat32) {
  std::unique_ptr<Acrobot> env = MakeAcrobot();
  const std::vector<float> a = ResetObservation(*env, /*seed=*/5);
  EXPECT_EQ(a, ResetObservation(*env, /*seed=*/5));
  EXPECT_NE(a, ResetObservation(*env, /*seed=*/6));
  ASSERT_EQ(a.size(), 6u);
  EXPECT_LE(std::fabs(a[4]), 0.1f);
  EXPECT_LE(std::fabs(a[5]), 0.1f);
  EXPECT_GT(a[0], 0.99f);  // theta1 within 0.1 of 0
}

}  // namespace
}  // namespace shoal
