// MountainCarContinuous's force clipping, action cost and goal reward;
// what it shares with the other classic-control envs is in
// classic_control_env_test.cc.
#include "actor/envs/mountain_car_continuous.h"

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"

namespace shoal {
namespace {

using ::shoal::env_testing::BoxAction;
using ::shoal::env_testing::CreateEnv;

// Two steps from a fixed state with `force`; returns the second result.
StepResult TwoStepsWith(float force, std::vector<float>* obs) {
  std::unique_ptr<MountainCarContinuous> env =
      CreateEnv<MountainCarContinuous>();
  obs->resize(2);
  EXPECT_TRUE(env->SetState({-0.5, 0.0}, absl::MakeSpan(*obs)).ok());
  const std::vector<float> action = {force};
  EXPECT_TRUE(env->Step(BoxAction(action), absl::MakeSpan(*obs)).ok());
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(action), absl::MakeSpan(*obs));
  EXPECT_TRUE(result.ok()) << result.status();
  return *result;
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
  std::unique_ptr<MountainCarContinuous> env =
      CreateEnv<MountainCarContinuous>();
  std::vector<float> obs(2);
  ASSERT_TRUE(env->SetState({0.44, 0.05}, absl::MakeSpan(obs)).ok());
  const std::vector<float> action = {0.0f};
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(action), absl::MakeSpan(obs));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->terminated);
  EXPECT_EQ(result->reward, 100.0);
}

TEST(MountainCarContinuousTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<MountainCarContinuous> env =
      CreateEnv<MountainCarContinuous>();
  const std::vector<float> action = {0.0f};
  env_testing::ExpectTruncatedAfter(*env, /*seed=*/0, BoxAction(action),
                                    /*steps=*/999);
}

TEST(MountainCarContinuousTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<MountainCarContinuous> env =
      CreateEnv<MountainCarContinuous>();
  env_testing::ExpectDeterministicReset(*env, /*seed=*/9, /*other_seed=*/10);
}

}  // namespace
}  // namespace shoal
