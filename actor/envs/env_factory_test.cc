#include "actor/envs/env_factory.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/env_testing.h"
#include <time.h>

namespace shoal {
namespace {

using ::testing::HasSubstr;

EnvOptions Named(const std::string& name) {
  EnvOptions options;
  options.name = name;
  return options;
}

TEST(EnvFactoryTest, BuildsEveryKnownEnv) {
  for (const std::string& name : KnownEnvNames()) {
    absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(Named(name));
    ASSERT_TRUE(env.ok()) << name << ": " << env.status();
    EXPECT_EQ((*env)->spec().name, name);
    EXPECT_GT((*env)->spec().max_episode_steps, 0);
  }
}

TEST(EnvFactoryTest, UnknownNameListsTheKnownOnes) {
  absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(Named("CartPole-v9"));
  EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(env.status().message(), HasSubstr("CartPole-v9"));
  for (const std::string& name : KnownEnvNames()) {
    EXPECT_THAT(env.status().message(), HasSubstr(name));
  }
}

TEST(EnvFactoryTest, OverridesMaxEpisodeSteps) {
  EnvOptions options = Named("pendulum");
  options.max_episode_steps = 3;
  absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(options);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)->spec().max_episode_steps, 3);
  options.max_episode_steps = -1;
  EXPECT_EQ(MakeEnv(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// This thread's CPU time.
absl::Duration ThreadCpuTime() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

TEST(EnvFactoryTest, StepCostMakesEachStepLastAtLeastThatLong) {
  constexpr int kSteps = 20;
  EnvOptions options = Named("cartpole");
  options.step_cost_us = 2000;
  absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(options);
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> obs(4);
  ASSERT_TRUE((*env)->SetState({0, 0, 0, 0}, absl::MakeSpan(obs)).ok());
  const absl::Duration cpu_start = ThreadCpuTime();
  const absl::Time start = absl::Now();
  for (int i = 0; i < kSteps; ++i) {
    const absl::Time step_start = absl::Now();
    ASSERT_TRUE(
        (*env)
            ->Step(env_testing::DiscreteAction(i % 2), absl::MakeSpan(obs))
            .ok());
    EXPECT_GE(absl::Now() - step_start, absl::Microseconds(2000)) << i;
  }
  const absl::Duration wall = absl::Now() - start;
  EXPECT_GE(wall, absl::Microseconds(kSteps * 2000));
  // It sleeps, not spins: the CPU time is a small part of the wall time.
  EXPECT_LT(ThreadCpuTime() - cpu_start, wall / 10);
  // Failed steps are not paced, and still fail.
  EXPECT_EQ((*env)
                ->Step(env_testing::DiscreteAction(5), absl::MakeSpan(obs))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  options.step_cost_us = -1;
  EXPECT_EQ(MakeEnv(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EnvFactoryTest, RemoteWithoutAServerFails) {
  EXPECT_FALSE(MakeEnv(Named("remote")).ok());
}

}  // namespace
}  // namespace shoal
