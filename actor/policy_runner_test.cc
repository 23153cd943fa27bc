#include "actor/policy_runner.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "actor/envs/env_factory.h"
#include "common/torch/tensor_torch.h"

namespace shoal {
namespace {

using ::testing::Each;
using ::testing::Ge;
using ::testing::Le;

constexpr int kNumEnvs = 4;

ExperimentConfig MakeConfig(AlgorithmKind algorithm, const std::string& env) {
  ExperimentConfig config;
  config.experiment = "policy-runner-test";
  config.algorithm.name = algorithm;
  config.env.name = env;
  config.network.hidden = {16, 16};
  config.actor.num_envs = kNumEnvs;
  return config;
}

EnvSpec SpecOf(const std::string& name) {
  EnvOptions options;
  options.name = name;
  return MakeEnv(options).value()->spec();
}

// Observations of kNumEnvs envs, all 0.1 (any finite values do).
std::vector<float> MakeObservations(const EnvSpec& spec) {
  return std::vector<float>(kNumEnvs * spec.observation_size(), 0.1f);
}

// What the learner publishes: every named parameter and buffer of `module`.
v1::Parameters Encode(torch::nn::Module& module, int64_t version) {
  v1::Parameters parameters;
  parameters.set_version(version);
  for (const auto& p : module.named_parameters()) {
    v1::NamedTensor* named = parameters.add_tensors();
    named->set_name(p.key());
    EXPECT_TRUE(FromTorch(p.value().detach(), named->mutable_tensor()).ok());
  }
  for (const auto& b : module.named_buffers()) {
    v1::NamedTensor* named = parameters.add_tensors();
    named->set_name(b.key());
    EXPECT_TRUE(FromTorch(b.value().detach(), named->mutable_tensor()).ok());
  }
  return parameters;
}

// A dqn policy for cartpole whose Q values always prefer `action`: every
// weight zero, the output bias one-hot.
v1::Parameters AlwaysAction(const ExperimentConfig& config, const EnvSpec& spec,
                            int64_t action, int64_t version) {
  std::shared_ptr<ActorPolicy> module =
      MakePolicy(config, EnvShapeOf(spec)).value();
  torch::NoGradGuard no_grad;
  for (auto& p : module->named_parameters()) {
    p.value().zero_();
    if (absl::EndsWith(p.key(), "out.bias")) p.value()[action] = 1.0f;
  }
  return Encode(*module, version);
}

TEST(PolicyRunnerTest, DqnActsWithInRangeDiscreteActions) {
  const EnvSpec spec = SpecOf("cartpole");
  std::vector<float> obs = MakeObservations(spec);
  auto runner = PolicyRunner::Create(
      MakeConfig(AlgorithmKind::kDqn, "cartpole"), spec, {}, obs);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<int64_t> actions(kNumEnvs, -1);
  std::vector<float> log_probs(kNumEnvs, 1.0f);
  absl::StatusOr<int64_t> version =
      (*runner)->Act(absl::MakeSpan(actions), {}, absl::MakeSpan(log_probs));
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 0);
  EXPECT_THAT(actions, Each(Ge(0)));
  EXPECT_THAT(actions, Each(Le(1)));
  EXPECT_THAT(log_probs, Each(0.0f));
}

TEST(PolicyRunnerTest, SacActsWithBoxActionsInsideTheBounds) {
  const EnvSpec spec = SpecOf("pendulum");
  std::vector<float> obs = MakeObservations(spec);
  auto runner = PolicyRunner::Create(
      MakeConfig(AlgorithmKind::kSac, "pendulum"), spec, {}, obs);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<float> actions(kNumEnvs * spec.action_space.dim(), 100.0f);
  ASSERT_TRUE((*runner)->Act({}, absl::MakeSpan(actions), {}).ok());
  EXPECT_THAT(actions, Each(Ge(spec.action_space.low[0])));
  EXPECT_THAT(actions, Each(Le(spec.action_space.high[0])));
  // The wrong kind of action span is refused.
  std::vector<int64_t> discrete(kNumEnvs);
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*runner)->Act(absl::MakeSpan(discrete), {}, {}).status()));
}

TEST(PolicyRunnerTest, ImpalaRecordsBehaviourLogProbs) {
  const EnvSpec spec = SpecOf("cartpole");
  std::vector<float> obs = MakeObservations(spec);
  auto runner = PolicyRunner::Create(
      MakeConfig(AlgorithmKind::kImpala, "cartpole"), spec, {}, obs);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<int64_t> actions(kNumEnvs);
  std::vector<float> log_probs(kNumEnvs, 1.0f);
  ASSERT_TRUE((*runner)
                  ->Act(absl::MakeSpan(actions), {}, absl::MakeSpan(log_probs))
                  .ok());
  // A near-uniform initial softmax over 2 actions: log(1/2) each.
  for (float lp : log_probs) EXPECT_NEAR(lp, std::log(0.5f), 0.05f);
}

TEST(PolicyRunnerTest, DqnEpsilonFollowsTheApeXLadderAndEvalIsGreedy) {
  const EnvSpec spec = SpecOf("cartpole");
  std::vector<float> obs = MakeObservations(spec);
  const ExperimentConfig config = MakeConfig(AlgorithmKind::kDqn, "cartpole");
  auto epsilon = [&](int index, int num_actors, bool eval) {
    PolicyRunnerOptions options;
    options.actor_index = index;
    options.num_actors = num_actors;
    options.eval = eval;
    return PolicyRunner::Create(config, spec, options, obs).value()->epsilon();
  };
  EXPECT_DOUBLE_EQ(epsilon(0, 1, false), 0.4);
  EXPECT_DOUBLE_EQ(epsilon(0, 8, false), 0.4);
  EXPECT_DOUBLE_EQ(epsilon(7, 8, false), std::pow(0.4, 8.0));
  EXPECT_DOUBLE_EQ(epsilon(3, 8, false), std::pow(0.4, 4.0));
  EXPECT_DOUBLE_EQ(epsilon(3, 8, true), 0.0);
  EXPECT_FALSE(PolicyRunner::Create(config, spec,
                                    {/*actor_index=*/8,
                                     /*num_actors=*/8},
                                    obs)
                   .ok());
}

TEST(PolicyRunnerTest, UniformInitialPolicyDrawsEveryActionUntilWeightsArrive) {
  const EnvSpec spec = SpecOf("cartpole");
  std::vector<float> obs = MakeObservations(spec);
  ExperimentConfig config = MakeConfig(AlgorithmKind::kDqn, "cartpole");
  config.actor.initial_policy = InitialPolicy::kUniform;
  PolicyRunnerOptions options;
  options.eval = true;  // the network alone would pick one action
  auto runner = PolicyRunner::Create(config, spec, options, obs);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<int64_t> actions(kNumEnvs);
  int counts[2] = {0, 0};
  for (int step = 0; step < 50; ++step) {
    ASSERT_EQ((*runner)->Act(absl::MakeSpan(actions), {}, {}).value(), 0);
    for (int64_t a : actions) ++counts[a];
  }
  EXPECT_GT(counts[0], 50);
  EXPECT_GT(counts[1], 50);
  ASSERT_TRUE(
      (*runner)
          ->Load(AlwaysAction(config, spec, /*action=*/1, /*version=*/1))
          .ok());
  ASSERT_EQ((*runner)->Act(absl::MakeSpan(actions), {}, {}).value(), 1);
  EXPECT_THAT(actions, Each(1));
}

TEST(PolicyRunnerTest, ZeroInitialPolicyActsZeroUntilWeightsArrive) {
  const EnvSpec spec = SpecOf("pendulum");
  std::vector<float> obs = MakeObservations(spec);
  ExperimentConfig config = MakeConfig(AlgorithmKind::kSac, "pendulum");
  config.actor.initial_policy = InitialPolicy::kZero;
  auto runner = PolicyRunner::Create(config, spec, PolicyRunnerOptions(), obs);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<float> actions(kNumEnvs, 7.0f);
  for (int step = 0; step < 3; ++step) {
    ASSERT_EQ((*runner)->Act({}, absl::MakeSpan(actions), {}).value(), 0);
    EXPECT_THAT(actions, Each(0.0f));
  }
}

// Wrong names, shapes, counts and stale versions are refused, counted, and
// leave the acting weights alone; a good version is used from the next Act.
TEST(PolicyRunnerTest, BadParametersAreRefusedAndAGoodVersionSwapsIn) {
  const EnvSpec spec = SpecOf("cartpole");
  std::vector<float> obs = MakeObservations(spec);
  const ExperimentConfig config = MakeConfig(AlgorithmKind::kDqn, "cartpole");
  PolicyRunnerOptions options;
  options.eval = true;
  auto runner = PolicyRunner::Create(config, spec, options, obs);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<int64_t> actions(kNumEnvs);

  ASSERT_TRUE(
      (*runner)
          ->Load(AlwaysAction(config, spec, /*action=*/0, /*version=*/3))
          .ok());
  ASSERT_EQ((*runner)->Act(absl::MakeSpan(actions), {}, {}).value(), 3);
  EXPECT_THAT(actions, Each(0));

  v1::Parameters wrong_name = AlwaysAction(config, spec, 1, /*version=*/4);
  wrong_name.mutable_tensors(0)->set_name("policy.nonexistent");
  v1::Parameters wrong_shape = AlwaysAction(config, spec, 1, /*version=*/5);
  wrong_shape.mutable_tensors(0)->mutable_tensor()->set_shape(0, 3);
  v1::Parameters missing = AlwaysAction(config, spec, 1, /*version=*/6);
  missing.mutable_tensors()->RemoveLast();
  v1::Parameters stale = AlwaysAction(config, spec, 1, /*version=*/2);
  for (const v1::Parameters* bad :
       {&wrong_name, &wrong_shape, &missing, &stale}) {
    (*runner)->OnParameters(std::make_shared<v1::Parameters>(*bad));
  }
  EXPECT_EQ((*runner)->rejected_parameter_versions(), 4);
  EXPECT_EQ((*runner)->loaded_version(), 3);
  ASSERT_EQ((*runner)->Act(absl::MakeSpan(actions), {}, {}).value(), 3);
  EXPECT_THAT(actions, Each(0));

  (*runner)->OnParameters(std::make_shared<v1::Parameters>(
      AlwaysAction(config, spec, /*action=*/1, /*version=*/7)));
  EXPECT_EQ((*runner)->rejected_parameter_versions(), 4);
  ASSERT_EQ((*runner)->Act(absl::MakeSpan(actions), {}, {}).value(), 7);
  EXPECT_EQ((*runner)->acting_version(), 7);
  EXPECT_THAT(actions, Each(1));
}

}  // namespace
}  // namespace shoal
