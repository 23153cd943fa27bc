// Pendulum's reset distribution, torque clipping and reward; what it shares
// with the other classic-control envs is in classic_control_env_test.cc.
#include "actor/envs/pendulum.h"

#include <cmath>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"

namespace shoal {
namespace {

using ::shoal::env_testing::BoxAction;
using ::shoal::env_testing::CreateEnv;

// One step from {theta, theta_dot} with `torque`.
StepResult StepFrom(double theta, double theta_dot, float torque,
                    std::vector<float>* obs) {
  std::unique_ptr<Pendulum> env = CreateEnv<Pendulum>();
  obs->resize(3);
  EXPECT_TRUE(env->SetState({theta, theta_dot}, absl::MakeSpan(*obs)).ok());
  const std::vector<float> action = {torque};
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(action), absl::MakeSpan(*obs));
  EXPECT_TRUE(result.ok()) << result.status();
  return *result;
}

TEST(PendulumTest, ClipsTorqueToTheBox) {
  std::vector<float> clipped, at_bound;
  const StepResult high = StepFrom(0.5, 0.1, /*torque=*/7.0f, &clipped);
  const StepResult bound = StepFrom(0.5, 0.1, /*torque=*/2.0f, &at_bound);
  EXPECT_EQ(clipped, at_bound);
  EXPECT_EQ(high.reward, bound.reward);
  const StepResult low = StepFrom(0.5, 0.1, /*torque=*/-9.0f, &clipped);
  const StepResult low_bound = StepFrom(0.5, 0.1, /*torque=*/-2.0f, &at_bound);
  EXPECT_EQ(clipped, at_bound);
  EXPECT_EQ(low.reward, low_bound.reward);
}

TEST(PendulumTest, RewardIsMinusCostAtRest) {
  std::vector<float> obs;
  // Upright and still, no torque: zero cost and the state stays put.
  const StepResult result = StepFrom(0.0, 0.0, /*torque=*/0.0f, &obs);
  EXPECT_EQ(result.reward, 0.0);
  EXPECT_EQ(obs, (std::vector<float>{1.0f, 0.0f, 0.0f}));
}

TEST(PendulumTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<Pendulum> env = CreateEnv<Pendulum>();
  const std::vector<float> action = {0.5f};
  env_testing::ExpectTruncatedAfter(*env, /*seed=*/2, BoxAction(action),
                                    /*steps=*/200);
}

TEST(PendulumTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<Pendulum> env = CreateEnv<Pendulum>();
  const std::vector<float> a = env_testing::ExpectDeterministicReset(
      *env, /*seed=*/11, /*other_seed=*/12);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_NEAR(a[0] * a[0] + a[1] * a[1], 1.0f, 1e-6f);
  EXPECT_LE(std::fabs(a[2]), 1.0f);
}

}  // namespace
}  // namespace shoal
