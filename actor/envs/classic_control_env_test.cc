// What every ClassicControlEnv does the same way, run for each of the five
// classic-control envs: the spec Gymnasium defines, Create's limits, the
// argument checks of Reset, SetState and Step, and the TimeLimit. Each env's
// own test covers its physics and its reset distribution.
#include "actor/envs/classic_control_env.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/acrobot.h"
#include "actor/envs/cartpole.h"
#include "actor/envs/env_testing.h"
#include "actor/envs/mountain_car.h"
#include "actor/envs/mountain_car_continuous.h"
#include "actor/envs/pendulum.h"

namespace shoal {
namespace {

using ::shoal::env_testing::BoxAction;
using ::shoal::env_testing::CreateEnv;
using ::shoal::env_testing::DiscreteAction;
using ::testing::HasSubstr;

// Gymnasium's spec for each env, by hand. `num_actions` is 0 for a box,
// and `bound` the box's half-width.
struct GymnasiumSpec {
  const char* name;
  int64_t observation_size;
  int64_t num_actions;
  float bound;
  int max_episode_steps;
};
template <typename E>
const GymnasiumSpec kGymnasium;
template <>
const GymnasiumSpec kGymnasium<CartPole> = {"cartpole", 4, 2, 0.0f, 500};
template <>
const GymnasiumSpec kGymnasium<Pendulum> = {"pendulum", 3, 0, 2.0f, 200};
template <>
const GymnasiumSpec kGymnasium<Acrobot> = {"acrobot", 6, 3, 0.0f, 500};
template <>
const GymnasiumSpec kGymnasium<MountainCar> = {"mountain_car", 2, 3, 0.0f, 200};
template <>
const GymnasiumSpec kGymnasium<MountainCarContinuous> = {
    "mountain_car_continuous", 2, 0, 1.0f, 999};

// A valid action for step `t` that keeps every env away from its terminal
// states for a few steps from the all-zero state: alternating pushes for a
// discrete space, zero for a box. `box` holds the values.
Action ActionAt(const ActionSpace& space, int t, std::vector<float>* box) {
  if (space.discrete()) return DiscreteAction(t % 2);
  box->assign(space.dim(), 0.0f);
  return BoxAction(*box);
}

template <typename E>
class ClassicControlEnvTest : public ::testing::Test {};

using ClassicControlEnvs = ::testing::Types<CartPole, Pendulum, Acrobot,
                                            MountainCar, MountainCarContinuous>;
TYPED_TEST_SUITE(ClassicControlEnvTest, ClassicControlEnvs);

TYPED_TEST(ClassicControlEnvTest, SpecMatchesGymnasium) {
  std::unique_ptr<TypeParam> env = CreateEnv<TypeParam>();
  const GymnasiumSpec& expected = kGymnasium<TypeParam>;
  const EnvSpec& spec = env->spec();
  EXPECT_EQ(spec.name, expected.name);
  EXPECT_EQ(spec.observation_shape,
            std::vector<int64_t>{expected.observation_size});
  EXPECT_EQ(spec.observation_size(), TypeParam::kObservationSize);
  EXPECT_EQ(spec.action_space.discrete(), expected.num_actions > 0);
  EXPECT_EQ(spec.action_space.num_actions, expected.num_actions);
  if (!spec.action_space.discrete()) {
    EXPECT_EQ(spec.action_space.low, std::vector<float>{-expected.bound});
    EXPECT_EQ(spec.action_space.high, std::vector<float>{expected.bound});
  }
  EXPECT_EQ(spec.max_episode_steps, expected.max_episode_steps);
  EXPECT_EQ(spec.max_episode_steps, TypeParam::kDefaultMaxEpisodeSteps);
}

TYPED_TEST(ClassicControlEnvTest, CreateChecksMaxEpisodeSteps) {
  EXPECT_EQ(
      CreateEnv<TypeParam>(/*max_episode_steps=*/7)->spec().max_episode_steps,
      7);
  absl::StatusOr<std::unique_ptr<TypeParam>> bad =
      TypeParam::Create(/*max_episode_steps=*/-1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("max_episode_steps must be >= 0, got -1"));
}

TYPED_TEST(ClassicControlEnvTest, RejectsStepBeforeResetAndBadSizes) {
  std::unique_ptr<TypeParam> env = CreateEnv<TypeParam>();
  std::vector<float> obs(TypeParam::kObservationSize);
  std::vector<float> small(TypeParam::kObservationSize - 1);
  std::vector<float> box;
  const Action action = ActionAt(env->spec().action_space, 0, &box);
  EXPECT_EQ(env->Step(action, absl::MakeSpan(obs)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(env->Reset(/*seed=*/0, absl::MakeSpan(small)).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<double> state(TypeParam::kStateSize, 0.0);
  const std::vector<double> short_state(TypeParam::kStateSize - 1, 0.0);
  EXPECT_EQ(env->SetState(short_state, absl::MakeSpan(obs)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(env->SetState(state, absl::MakeSpan(small)).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(env->SetState(state, absl::MakeSpan(obs)).ok());
  absl::StatusOr<StepResult> result = env->Step(action, absl::MakeSpan(small));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("observation"));
}

TYPED_TEST(ClassicControlEnvTest, RejectsInvalidActionsAndKeepsState) {
  std::unique_ptr<TypeParam> env = CreateEnv<TypeParam>();
  std::unique_ptr<TypeParam> twin = CreateEnv<TypeParam>();
  std::vector<float> obs(TypeParam::kObservationSize);
  std::vector<float> twin_obs(TypeParam::kObservationSize);
  ASSERT_TRUE(env->Reset(/*seed=*/3, absl::MakeSpan(obs)).ok());
  ASSERT_TRUE(twin->Reset(/*seed=*/3, absl::MakeSpan(twin_obs)).ok());
  const ActionSpace& space = env->spec().action_space;
  if (space.discrete()) {
    const int64_t n = space.num_actions;
    for (int64_t bad : {n, n + 4, int64_t{-1}, int64_t{-5}, int64_t{1} << 40}) {
      absl::StatusOr<StepResult> result =
          env->Step(DiscreteAction(bad), absl::MakeSpan(obs));
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(result.status().message(),
                  HasSubstr("got " + std::to_string(bad)));
    }
  } else {
    const std::vector<float> nan(space.dim(), std::nanf(""));
    absl::StatusOr<StepResult> result =
        env->Step(BoxAction(nan), absl::MakeSpan(obs));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr("nan"));
    const std::vector<float> inf(space.dim(), INFINITY);
    EXPECT_EQ(env->Step(BoxAction(inf), absl::MakeSpan(obs)).status().code(),
              absl::StatusCode::kInvalidArgument);
    const std::vector<float> too_long(space.dim() + 1, 0.0f);
    result = env->Step(BoxAction(too_long), absl::MakeSpan(obs));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(),
                HasSubstr("got " + std::to_string(space.dim() + 1)));
  }
  std::vector<float> box;
  const Action action = ActionAt(space, 1, &box);
  ASSERT_TRUE(env->Step(action, absl::MakeSpan(obs)).ok());
  ASSERT_TRUE(twin->Step(action, absl::MakeSpan(twin_obs)).ok());
  EXPECT_EQ(obs, twin_obs);
}

TYPED_TEST(ClassicControlEnvTest, TruncatesOnMaxEpisodeSteps) {
  std::unique_ptr<TypeParam> env =
      CreateEnv<TypeParam>(/*max_episode_steps=*/10);
  std::vector<float> obs(TypeParam::kObservationSize);
  const std::vector<double> state(TypeParam::kStateSize, 0.0);
  ASSERT_TRUE(env->SetState(state, absl::MakeSpan(obs)).ok());
  std::vector<float> box;
  for (int t = 1; t <= 10; ++t) {
    absl::StatusOr<StepResult> result = env->Step(
        ActionAt(env->spec().action_space, t, &box), absl::MakeSpan(obs));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->terminated) << "step " << t;
    EXPECT_EQ(result->truncated, t == 10) << "step " << t;
  }
  absl::StatusOr<StepResult> after = env->Step(
      ActionAt(env->spec().action_space, 0, &box), absl::MakeSpan(obs));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shoal
