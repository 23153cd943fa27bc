#include "actor/unroll_builder.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.pb.h"

#include "actor/item_builder.h"
#include "actor/item_builder_testing.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_internal::End;
using testing_internal::Episode;
using testing_internal::MakeConfig;
using testing_internal::MakeDiscreteSpec;
using testing_internal::Obs;
using testing_internal::Rows;
using testing_internal::ScriptedEnvs;
using testing_internal::Shape;
using testing_internal::Values;

constexpr Episode kForever = {1 << 30, End::kRunning};

ExperimentConfig MakeImpalaConfig(int num_envs, int length, int overlap) {
  ExperimentConfig config =
      MakeConfig(AlgorithmKind::kImpala, num_envs, /*discount=*/0.5);
  config.algorithm.impala.unroll_length = length;
  config.algorithm.impala.unroll_overlap = overlap;
  return config;
}

// An impala builder for `num_envs` scripted envs, gamma 0.5.
std::unique_ptr<ItemBuilder> MakeBuilder(int num_envs, int length,
                                         int overlap) {
  auto builder = MakeItemBuilder(MakeImpalaConfig(num_envs, length, overlap),
                                 MakeDiscreteSpec(), ItemBuilderOptions());
  EXPECT_TRUE(builder.ok()) << builder.status();
  return builder.ok() ? std::move(*builder) : nullptr;
}

// Reads the columns of unroll items of length T.
class Unroll {
 public:
  Unroll(const v1::Item& item, int length)
      : item_(item),
        sig_(ItemSignature(MakeImpalaConfig(1, length, 0).algorithm,
                           MakeDiscreteSpec())) {}
  std::vector<float> observation() const { return F("observation"); }
  std::vector<int64_t> action() const {
    return Values<int64_t>(item_, sig_, "action");
  }
  std::vector<float> reward() const { return F("reward"); }
  std::vector<float> discount() const { return F("discount"); }
  std::vector<float> log_prob() const { return F("behaviour_log_prob"); }
  std::vector<float> mask() const { return F("mask"); }
  std::vector<int64_t> shape(const char* name) const {
    return Shape(item_, sig_, name);
  }

 private:
  std::vector<float> F(const char* name) const {
    return Values<float>(item_, sig_, name);
  }
  const v1::Item& item_;
  std::vector<v1::TensorSpec> sig_;
};

std::vector<v1::Item> RunSteps(ItemBuilder& builder, ScriptedEnvs& envs,
                               int steps) {
  std::vector<v1::Item> items;
  for (int s = 0; s < steps; ++s) {
    absl::Status status = builder.Add(envs.Step(/*policy_version=*/s), &items);
    EXPECT_TRUE(status.ok()) << status;
  }
  return items;
}

TEST(UnrollBuilderTest, FullUnrollsEndWithTheBootstrapObservation) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*length=*/3, /*overlap=*/0);
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/6);
  ASSERT_EQ(items.size(), 2u);
  Unroll u(items[0], 3);
  EXPECT_EQ(u.observation(),
            Rows({Obs(0, 0, 0), Obs(0, 0, 1), Obs(0, 0, 2), Obs(0, 0, 3)}));
  EXPECT_THAT(u.shape("observation"), ElementsAre(4, 2));
  EXPECT_THAT(u.action(), ElementsAre(0, 1, 2));
  EXPECT_THAT(u.shape("action"), ElementsAre(3));
  EXPECT_THAT(u.reward(), ElementsAre(1.0f, 2.0f, 3.0f));
  EXPECT_THAT(u.discount(), ElementsAre(0.5f, 0.5f, 0.5f));
  EXPECT_THAT(u.log_prob(), ElementsAre(-0.0f, -0.01f, -0.02f));
  EXPECT_THAT(u.mask(), ElementsAre(1.0f, 1.0f, 1.0f));
  EXPECT_EQ(items[0].policy_version(), 0);
  Unroll u1(items[1], 3);
  EXPECT_EQ(u1.observation(),
            Rows({Obs(0, 0, 3), Obs(0, 0, 4), Obs(0, 0, 5), Obs(0, 0, 6)}));
  EXPECT_THAT(u1.action(), ElementsAre(3, 4, 5));
  EXPECT_EQ(items[1].policy_version(), 3);
}

TEST(UnrollBuilderTest, OverlappingUnrollsRepeatTheLastSteps) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*length=*/4, /*overlap=*/2);
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/8);
  // Steps 0..3, then 2..5, then 4..7.
  ASSERT_EQ(items.size(), 3u);
  for (int j = 0; j < 3; ++j) {
    const int t0 = 2 * j;
    Unroll u(items[j], 4);
    EXPECT_EQ(u.observation(),
              Rows({Obs(0, 0, t0), Obs(0, 0, t0 + 1), Obs(0, 0, t0 + 2),
                    Obs(0, 0, t0 + 3), Obs(0, 0, t0 + 4)}))
        << j;
    EXPECT_THAT(u.action(), ElementsAre(t0, t0 + 1, t0 + 2, t0 + 3));
    EXPECT_THAT(u.reward(), ElementsAre(t0 + 1, t0 + 2, t0 + 3, t0 + 4));
    EXPECT_EQ(items[j].policy_version(), t0);
  }
}

TEST(UnrollBuilderTest, TerminationCutsTheUnrollAndPadsWithMaskZero) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*length=*/4, /*overlap=*/1);
  ScriptedEnvs envs({{{2, End::kTerminated}, kForever}});
  // e0 s0, e0 s1 (terminates), reset, e1 s0 .. s3.
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/7);
  ASSERT_EQ(items.size(), 2u);
  Unroll u(items[0], 4);
  EXPECT_EQ(u.observation(), Rows({Obs(0, 0, 0), Obs(0, 0, 1), Obs(0, 0, 2),
                                   Obs(0, 0, 2), Obs(0, 0, 2)}));
  EXPECT_THAT(u.action(), ElementsAre(0, 1, 0, 0));
  EXPECT_THAT(u.reward(), ElementsAre(1.0f, 2.0f, 0.0f, 0.0f));
  EXPECT_THAT(u.discount(), ElementsAre(0.5f, 0.0f, 0.0f, 0.0f));
  EXPECT_THAT(u.log_prob(), ElementsAre(-0.0f, -0.01f, 0.0f, 0.0f));
  EXPECT_THAT(u.mask(), ElementsAre(1.0f, 1.0f, 0.0f, 0.0f));
  // The next episode starts a fresh unroll (no overlap across episodes)
  // from its reset observation; the reset step is not in it.
  Unroll u1(items[1], 4);
  EXPECT_EQ(u1.observation(), Rows({Obs(0, 1, 0), Obs(0, 1, 1), Obs(0, 1, 2),
                                    Obs(0, 1, 3), Obs(0, 1, 4)}));
  EXPECT_THAT(u1.action(), ElementsAre(10, 11, 12, 13));
  EXPECT_THAT(u1.mask(), ElementsAre(1.0f, 1.0f, 1.0f, 1.0f));
  EXPECT_EQ(items[1].policy_version(), 3);
}

TEST(UnrollBuilderTest, TruncationKeepsGammaAndBootstrapsFromTheFinalObs) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*length=*/4, /*overlap=*/0);
  ScriptedEnvs envs({{{2, End::kTruncated}, kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/2);
  ASSERT_EQ(items.size(), 1u);
  Unroll u(items[0], 4);
  EXPECT_EQ(u.observation(), Rows({Obs(0, 0, 0), Obs(0, 0, 1), Obs(0, 0, 2),
                                   Obs(0, 0, 2), Obs(0, 0, 2)}));
  EXPECT_THAT(u.discount(), ElementsAre(0.5f, 0.5f, 0.0f, 0.0f));
  EXPECT_THAT(u.mask(), ElementsAre(1.0f, 1.0f, 0.0f, 0.0f));
}

TEST(UnrollBuilderTest, EpisodeEndingOnTheLastStepGivesOneFullUnroll) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*length=*/3, /*overlap=*/1);
  ScriptedEnvs envs({{{3, End::kTerminated}, kForever}});
  // e0 s0..s2 (terminates), reset, e1 s0..s2.
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/7);
  ASSERT_EQ(items.size(), 2u);
  Unroll u(items[0], 3);
  EXPECT_EQ(u.observation(),
            Rows({Obs(0, 0, 0), Obs(0, 0, 1), Obs(0, 0, 2), Obs(0, 0, 3)}));
  EXPECT_THAT(u.discount(), ElementsAre(0.5f, 0.5f, 0.0f));
  EXPECT_THAT(u.mask(), ElementsAre(1.0f, 1.0f, 1.0f));
  Unroll u1(items[1], 3);
  EXPECT_THAT(u1.action(), ElementsAre(10, 11, 12));
  EXPECT_EQ(static_cast<UnrollBuilder&>(*builder).pending(0), 1);
}

TEST(UnrollBuilderTest, InterleavedEnvsBuildTheirOwnUnrolls) {
  auto builder = MakeBuilder(/*num_envs=*/2, /*length=*/2, /*overlap=*/0);
  ScriptedEnvs envs({{{3, End::kTruncated}, kForever}, {kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/5);
  // Step 1: env 0 (s0, s1), env 1 (s0, s1). Step 2: env 0 (s2) truncated.
  // Step 3: env 1 (s2, s3); env 0 resets. Step 4: env 0 e1 s0 (pending).
  ASSERT_EQ(items.size(), 4u);
  std::vector<int> env_ids;
  for (const v1::Item& item : items) env_ids.push_back(item.env_id());
  EXPECT_THAT(env_ids, ElementsAre(0, 1, 0, 1));
  EXPECT_EQ(Unroll(items[1], 2).observation(),
            Rows({Obs(1, 0, 0), Obs(1, 0, 1), Obs(1, 0, 2)}));
  Unroll cut(items[2], 2);
  EXPECT_EQ(cut.observation(),
            Rows({Obs(0, 0, 2), Obs(0, 0, 3), Obs(0, 0, 3)}));
  EXPECT_THAT(cut.discount(), ElementsAre(0.5f, 0.0f));
  EXPECT_THAT(cut.mask(), ElementsAre(1.0f, 0.0f));
  EXPECT_EQ(Unroll(items[3], 2).observation(),
            Rows({Obs(1, 0, 2), Obs(1, 0, 3), Obs(1, 0, 4)}));
  EXPECT_EQ(static_cast<UnrollBuilder&>(*builder).pending(0), 1);
}

TEST(UnrollBuilderTest, IsFirstWithAPartialUnrollDropsIt) {
  // Only a VectorEnv Reset mid-episode gives this.
  auto builder = MakeBuilder(/*num_envs=*/1, /*length=*/3, /*overlap=*/0);
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/2);
  StepBatch batch = envs.Step();
  const bool first[] = {true};
  batch.is_first = first;
  ASSERT_TRUE(builder->Add(batch, &items).ok());
  EXPECT_EQ(static_cast<UnrollBuilder&>(*builder).pending(0), 0);
  items = RunSteps(*builder, envs, /*steps=*/3);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_THAT(Unroll(items[0], 3).action(), ElementsAre(3, 4, 5));
}

TEST(UnrollBuilderTest, BoxActionsAreRowsOfTheActionDimension) {
  const EnvSpec spec = testing_internal::MakeBoxSpec();
  ExperimentConfig config = MakeImpalaConfig(1, /*length=*/2, /*overlap=*/0);
  auto builder = MakeItemBuilder(config, spec, ItemBuilderOptions());
  ASSERT_TRUE(builder.ok()) << builder.status();
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items;
  for (int s = 0; s < 2; ++s) {
    ASSERT_TRUE((*builder)->Add(envs.AsBox(envs.Step()), &items).ok());
  }
  ASSERT_EQ(items.size(), 1u);
  const auto sig = ItemSignature(config.algorithm, spec);
  EXPECT_THAT(Values<float>(items[0], sig, "action"),
              ElementsAre(0.0f, -0.0f, 1.0f, -1.0f));
  EXPECT_THAT(Shape(items[0], sig, "action"), ElementsAre(2, 2));
}

TEST(UnrollBuilderTest, MissingLogProbsAreInvalidArgument) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*length=*/2, /*overlap=*/0);
  ScriptedEnvs envs({{kForever}});
  StepBatch batch = envs.Step();
  batch.behaviour_log_probs = {};
  std::vector<v1::Item> items;
  absl::Status status = builder->Add(batch, &items);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("behaviour_log_probs"));
}

}  // namespace
}  // namespace shoal
