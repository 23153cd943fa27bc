#include "actor/envs/mountain_car.h"

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

std::unique_ptr<MountainCar> MakeMountainCar(int max_episode_steps = 0) {
  absl::StatusOr<std::unique_ptr<MountainCar>> env =
      MountainCar::Create(max_episode_steps);
  EXPECT_TRUE(env.ok()) << env.status();
  return *std::move(env);
}

TEST(MountainCarTest, SpecMatchesGymnasium) {
  std::unique_ptr<MountainCar> env = MakeMountainCar();
  EXPECT_EQ(env->spec().name, "mountain_car");
  EXPECT_EQ(env->spec().observation_size(), 2);
  EXPECT_EQ(env->spec().action_space.num_actions, 3);
  EXPECT_EQ(env->spec().max_episode_steps, 200);
}

TEST(MountainCarTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<MountainCar> env = MakeMountainCar();
  ASSERT_EQ(ResetObservation(*env, /*seed=*/0).size(), 2u);
  const env_testing::EpisodeSummary run =
      RunEpisode(*env, DiscreteAction(1), /*max_steps=*/1000);
  ASSERT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.steps, 200);
  EXPECT_TRUE(run.last.truncated);
  EXPECT_EQ(run.total_reward, -200.0);
}

TEST(MountainCarTest, TerminatesAtTheGoal) {
  std::unique_ptr<MountainCar> env = MakeMountainCar();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->SetState({0.49, 0.05}, absl::MakeSpan(obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(DiscreteAction(2), absl::MakeSpan(obs));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->terminated);
  EXPECT_EQ(result->reward, -1.0);
}

TEST(MountainCarTest, StopsAtTheLeftWall) {
  std::unique_ptr<MountainCar> env = MakeMountainCar();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->SetState({-1.19, -0.07}, absl::MakeSpan(obs)).ok());
  ASSERT_TRUE(env->Step(DiscreteAction(0), absl::MakeSpan(obs)).ok());
  EXPECT_EQ(obs[0], -1.2f);
  EXPECT_EQ(obs[1], 0.0f);
}

TEST(MountainCarTest, RejectsOutOfRangeActions) {
  std::unique_ptr<MountainCar> env = MakeMountainCar();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->Reset(/*seed=*/0, absl::MakeSpan(obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(DiscreteAction(7), absl::MakeSpan(obs));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("got 7"));
}

TEST(MountainCarTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<MountainCar> env = MakeMountainCar();
  const std::vector<float> a = ResetObservation(*env, /*seed=*/4);
  EXPECT_EQ(a, ResetObservation(*env, /*seed=*/4));
  EXPECT_NE(a, ResetObservation(*env, /*seed=*/5));
  ASSERT_EQ(a.size(), 2u);
  EXPECT_GE(a[0], -0.6f);
  EXPECT_LE(a[0], -0.4f);
  EXPECT_EQ(a[1], 0.0f);
}

}  // namespace
}  // namespace shoal
