#include "actor/envs/mountain_car_continuous.h"

#include <cmath>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"

namespace shoal {
namespace {

using ::shoal::env_testing::BoxAction;
using ::shoal::env_testing::ResetObservation;
using ::shoal::env_testing::RunEpisode;
using ::testing::HasSubstr;

std::unique_ptr<MountainCarContinuous> MakeEnv(int max_episode_steps = 0) {
  absl::StatusOr<std::unique_ptr<MountainCarContinuous>> env =
      MountainCarContinuous::Create(max_episode_steps);
  EXPECT_TRUE(env.ok()) << env.status();
  return *std::move(env);
}

// Two steps from a fixed state with `force`; returns the second result.
StepResult TwoStepsWith(float force, std::vector<float>* obs) {
  std::unique_ptr<MountainCarContinuous> env = MakeEnv();
  obs->resize(2);
  EXPECT_TRUE(env->SetState({-0.5, 0.0}, absl::MakeSpan(*obs)).ok());
  const std::vector<float> action = {force};
  EXPECT_TRUE(env->Step(BoxAction(action), absl::MakeSpan(*obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(action), absl::MakeSpan(*obs));
  EXPECT_TRUE(result.ok()) << result.status();
  return *result;
}

TEST(MountainCarContinuousTest, SpecMatchesGymnasium) {
  std::unique_ptr<MountainCarContinuous> env = MakeEnv();
  EXPECT_EQ(env->spec().name, "mountain_car_continuous");
  EXPECT_EQ(env->spec().observation_size(), 2);
  EXPECT_EQ(env->spec().action_space.low, std::vector<float>{-1.0f});
  EXPECT_EQ(env->spec().action_space.high, std::vector<float>{1.0f});
  EXPECT_EQ(env->spec().max_episode_steps, 999);
}

TEST(MountainCarContinuousTest, ClipsTheForceButChargesTheFullAction) {
  std::vector<float> clipped, at_bound;
  const StepResult big = TwoStepsWith(/*force=*/3.0f, &clipped);
  const StepResult one = TwoStepsWith(/*force=*/1.0f, &at_bound);
  // Gymnasium computes a clipped force in double, an in-range one in
  // float32, so the states may differ in the last bit only.
  ASSERT_EQ(clipped.size(), 2u);
  EXPECT_NEAR(clipped[0], at_bound[0], 1e-6);
  EXPECT_NEAR(clipped[1], at_bound[1], 1e-6);
  EXPECT_DOUBLE_EQ(big.reward, -0.9);
  EXPECT_DOUBLE_EQ(one.reward, -0.1);
}

TEST(MountainCarContinuousTest, PaysOneHundredAtTheGoal) {
  std::unique_ptr<MountainCarContinuous> env = MakeEnv();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->SetState({0.44, 0.05}, absl::MakeSpan(obs)).ok());
  const std::vector<float> action = {0.0f};
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(action), absl::MakeSpan(obs));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->terminated);
  EXPECT_EQ(result->reward, 100.0);
}

TEST(MountainCarContinuousTest, RejectsNaNActions) {
  std::unique_ptr<MountainCarContinuous> env = MakeEnv();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->Reset(/*seed=*/0, absl::MakeSpan(obs)).ok());
  const std::vector<float> nan = {std::nanf("")};
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(nan), absl::MakeSpan(obs));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("nan"));
}

TEST(MountainCarContinuousTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<MountainCarContinuous> env = MakeEnv();
  ASSERT_EQ(ResetObservation(*env, /*seed=*/0).size(), 2u);
  const std::vector<float> action = {0.0f};
  const env_testing::EpisodeSummary run =
      RunEpisode(*env, BoxAction(action), /*max_steps=*/5000);
  ASSERT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.steps, 999);
  EXPECT_TRUE(run.last.truncated);
  EXPECT_FALSE(run.last.terminated);
}

TEST(MountainCarContinuousTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<MountainCarContinuous> env = MakeEnv();
  const std::vector<float> a = ResetObservation(*env, /*seed=*/9);
  EXPECT_EQ(a, ResetObservation(*env, /*seed=*/9));
  EXPECT_NE(a, ResetObservation(*env, /*seed=*/10));
}

}  // namespace
}  // namespace shoal
