#include "actor/envs/pendulum.h"

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

std::unique_ptr<Pendulum> MakePendulum(int max_episode_steps = 0) {
  absl::StatusOr<std::unique_ptr<Pendulum>> env =
      Pendulum::Create(max_episode_steps);
  EXPECT_TRUE(env.ok()) << env.status();
  return *std::move(env);
}

// One step from {theta, theta_dot} with `torque`.
StepResult StepFrom(double theta, double theta_dot, float torque,
                    std::vector<float>* obs) {
  std::unique_ptr<Pendulum> env = MakePendulum();
  obs->resize(3);
  EXPECT_TRUE(env->SetState({theta, theta_dot}, absl::MakeSpan(*obs)).ok());
  const std::vector<float> action = {torque};
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(action), absl::MakeSpan(*obs));
  EXPECT_TRUE(result.ok()) << result.status();
  return *result;
}

TEST(PendulumTest, SpecMatchesGymnasium) {
  std::unique_ptr<Pendulum> env = MakePendulum();
  EXPECT_EQ(env->spec().name, "pendulum");
  EXPECT_EQ(env->spec().observation_size(), 3);
  EXPECT_FALSE(env->spec().action_space.discrete());
  EXPECT_EQ(env->spec().action_space.low, std::vector<float>{-2.0f});
  EXPECT_EQ(env->spec().action_space.high, std::vector<float>{2.0f});
  EXPECT_EQ(env->spec().max_episode_steps, 200);
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

TEST(PendulumTest, RejectsNonFiniteAndMisSizedActions) {
  std::unique_ptr<Pendulum> env = MakePendulum();
  std::vector<float> obs(3);
  ASSERT_TRUE(env->Reset(/*seed=*/1, absl::MakeSpan(obs)).ok());
  const std::vector<float> nan = {std::nanf("")};
  absl::StatusOr<StepResult> result =
      env->Step(BoxAction(nan), absl::MakeSpan(obs));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("nan"));
  const std::vector<float> inf = {INFINITY};
  EXPECT_EQ(env->Step(BoxAction(inf), absl::MakeSpan(obs)).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<float> two = {0.0f, 0.0f};
  result = env->Step(BoxAction(two), absl::MakeSpan(obs));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("got 2"));
}

TEST(PendulumTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<Pendulum> env = MakePendulum();
  ASSERT_EQ(ResetObservation(*env, /*seed=*/2).size(), 3u);
  const std::vector<float> action = {0.5f};
  const env_testing::EpisodeSummary run =
      RunEpisode(*env, BoxAction(action), /*max_steps=*/1000);
  ASSERT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.steps, 200);
  EXPECT_TRUE(run.last.truncated);
  EXPECT_FALSE(run.last.terminated);
}

TEST(PendulumTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<Pendulum> env = MakePendulum();
  const std::vector<float> a = ResetObservation(*env, /*seed=*/11);
  EXPECT_EQ(a, ResetObservation(*env, /*seed=*/11));
  EXPECT_NE(a, ResetObservation(*env, /*seed=*/12));
  ASSERT_EQ(a.size(), 3u);
  EXPECT_NEAR(a[0] * a[0] + a[1] * a[1], 1.0f, 1e-6f);
  EXPECT_LE(std::fabs(a[2]), 1.0f);
}

}  // namespace
}  // namespace shoal
