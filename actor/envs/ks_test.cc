#include "actor/envs/ks.h"

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
using ::shoal::env_testing::CreateEnv;
using ::shoal::env_testing::ResetObservation;
using ::shoal::env_testing::RunEpisode;
using ::testing::HasSubstr;

std::vector<float> Row(int index) {
  std::vector<float> u(Ks::kGridSize);
  Ks::InitialState(index, u.data());
  return u;
}

TEST(KsTest, SpecMatchesPimbrl) {
  std::unique_ptr<Ks> env = CreateEnv<Ks>();
  EXPECT_EQ(env->spec().name, "ks");
  EXPECT_EQ(env->spec().observation_size(), 64);
  EXPECT_EQ(env->spec().action_space.low, std::vector<float>(4, -0.5f));
  EXPECT_EQ(env->spec().action_space.high, std::vector<float>(4, 0.5f));
  EXPECT_EQ(env->spec().max_episode_steps, 400);
}

TEST(KsTest, EmbedsTheInitialStateTable) {
  // First and last values of rows 0 and 199 of ks_init.tensor.
  EXPECT_EQ(Row(0)[0], -0.3287162482738495f);
  EXPECT_EQ(Row(0)[1], -0.175596684217453f);
  const std::vector<float> last = Row(199);
  for (float v : last) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NE(last, Row(0));
}

TEST(KsTest, ResetPicksATableRowDeterministically) {
  std::unique_ptr<Ks> env = CreateEnv<Ks>();
  const std::vector<float> a = ResetObservation(*env, /*seed=*/3);
  EXPECT_EQ(a, ResetObservation(*env, /*seed=*/3));
  bool is_row = false;
  for (int k = 0; k < Ks::kNumInitialStates; ++k) is_row |= a == Row(k);
  EXPECT_TRUE(is_row);
  int distinct = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    distinct += ResetObservation(*env, seed) != a;
  }
  EXPECT_GE(distinct, 6);
}

TEST(KsTest, TruncatesAfterFourHundredStepsNearTheZeroActionReturn) {
  // The README's zero-action return over 400 steps, averaged over rows
  // 0, 49, 99, 149, 199, is -239.5 with float32 numerics.
  constexpr double kExpectedReturn = -239.5;
  const std::vector<float> zero(4, 0.0f);
  double total = 0.0;
  for (int row : {0, 49, 99, 149, 199}) {
    std::unique_ptr<Ks> env = CreateEnv<Ks>();
    const std::vector<float> u = Row(row);
    std::vector<float> obs(64);
    ASSERT_TRUE(env->SetState(std::vector<double>(u.begin(), u.end()),
                              absl::MakeSpan(obs))
                    .ok());
    const env_testing::EpisodeSummary run =
        RunEpisode(*env, BoxAction(zero), /*max_steps=*/1000);
    ASSERT_TRUE(run.status.ok()) << run.status;
    EXPECT_EQ(run.steps, 400);
    EXPECT_TRUE(run.last.truncated);
    EXPECT_FALSE(run.last.terminated);
    total += run.total_reward;
  }
  EXPECT_NEAR(total / 5, kExpectedReturn, 0.5);
}

TEST(KsTest, DoesNotClipActionsButRejectsNaN) {
  std::unique_ptr<Ks> inside = CreateEnv<Ks>();
  std::unique_ptr<Ks> outside = CreateEnv<Ks>();
  std::vector<float> a(64), b(64);
  ASSERT_TRUE(inside->Reset(/*seed=*/0, absl::MakeSpan(a)).ok());
  ASSERT_TRUE(outside->Reset(/*seed=*/0, absl::MakeSpan(b)).ok());
  const std::vector<float> bound = {0.5f, 0.5f, 0.5f, 0.5f};
  const std::vector<float> beyond = {2.0f, 2.0f, 2.0f, 2.0f};
  ASSERT_TRUE(inside->Step(BoxAction(bound), absl::MakeSpan(a)).ok());
  ASSERT_TRUE(outside->Step(BoxAction(beyond), absl::MakeSpan(b)).ok());
  EXPECT_NE(a, b);

  const std::vector<float> nan = {0.0f, std::nanf(""), 0.0f, 0.0f};
  absl::StatusOr<StepResult> result =
      inside->Step(BoxAction(nan), absl::MakeSpan(a));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("value 1"));
  const std::vector<float> three = {0.0f, 0.0f, 0.0f};
  EXPECT_EQ(inside->Step(BoxAction(three), absl::MakeSpan(a)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoal
