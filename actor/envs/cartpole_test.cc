#include "actor/envs/cartpole.h"

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

std::unique_ptr<CartPole> MakeCartPole(int max_episode_steps = 0) {
  absl::StatusOr<std::unique_ptr<CartPole>> env =
      CartPole::Create(max_episode_steps);
  EXPECT_TRUE(env.ok()) << env.status();
  return *std::move(env);
}

TEST(CartPoleTest, SpecMatchesGymnasium) {
  std::unique_ptr<CartPole> env = MakeCartPole();
  EXPECT_EQ(env->spec().name, "cartpole");
  EXPECT_EQ(env->spec().observation_size(), 4);
  EXPECT_TRUE(env->spec().action_space.discrete());
  EXPECT_EQ(env->spec().action_space.num_actions, 2);
  EXPECT_EQ(env->spec().max_episode_steps, 500);
}

TEST(CartPoleTest, ResetIsDeterministicPerSeed) {
  std::unique_ptr<CartPole> env = MakeCartPole();
  const std::vector<float> a = ResetObservation(*env, /*seed=*/7);
  const std::vector<float> b = ResetObservation(*env, /*seed=*/7);
  const std::vector<float> c = ResetObservation(*env, /*seed=*/8);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float v : a) {
    EXPECT_GE(v, -0.05f);
    EXPECT_LE(v, 0.05f);
  }
}

TEST(CartPoleTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<CartPole> env = MakeCartPole(/*max_episode_steps=*/10);
  std::vector<float> obs(4);
  ASSERT_TRUE(env->SetState({0.0, 0.0, 0.0, 0.0}, absl::MakeSpan(obs)).ok());
  for (int t = 1; t <= 10; ++t) {
    absl::StatusOr<StepResult> result =
        env->Step(DiscreteAction(t % 2), absl::MakeSpan(obs));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->terminated) << "step " << t;
    EXPECT_EQ(result->truncated, t == 10) << "step " << t;
  }
  absl::StatusOr<StepResult> after =
      env->Step(DiscreteAction(0), absl::MakeSpan(obs));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CartPoleTest, TerminatesWhenThePoleFalls) {
  std::unique_ptr<CartPole> env = MakeCartPole();
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

TEST(CartPoleTest, RejectsOutOfRangeActionsAndKeepsState) {
  std::unique_ptr<CartPole> env = MakeCartPole();
  std::unique_ptr<CartPole> twin = MakeCartPole();
  std::vector<float> obs(4), twin_obs(4);
  ASSERT_TRUE(env->Reset(/*seed=*/3, absl::MakeSpan(obs)).ok());
  ASSERT_TRUE(twin->Reset(/*seed=*/3, absl::MakeSpan(twin_obs)).ok());
  for (int64_t bad : {int64_t{2}, int64_t{-1}, int64_t{1} << 40}) {
    absl::StatusOr<StepResult> result =
        env->Step(DiscreteAction(bad), absl::MakeSpan(obs));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr(std::to_string(bad)));
  }
  ASSERT_TRUE(env->Step(DiscreteAction(1), absl::MakeSpan(obs)).ok());
  ASSERT_TRUE(twin->Step(DiscreteAction(1), absl::MakeSpan(twin_obs)).ok());
  EXPECT_EQ(obs, twin_obs);
}

TEST(CartPoleTest, RejectsStepBeforeResetAndBadSizes) {
  std::unique_ptr<CartPole> env = MakeCartPole();
  std::vector<float> obs(4), small(3);
  EXPECT_EQ(env->Step(DiscreteAction(0), absl::MakeSpan(obs)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(env->Reset(/*seed=*/0, absl::MakeSpan(small)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(env->SetState({0.0, 0.0}, absl::MakeSpan(obs)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CartPole::Create(/*max_episode_steps=*/-1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoal
