#include "actor/transition_builder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.pb.h"

#include "actor/item_builder.h"
#include "actor/item_builder_testing.h"

// Counts heap allocations, to check that steps completing no item allocate
// nothing.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace shoal {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing_internal::Act;
using testing_internal::End;
using testing_internal::Episode;
using testing_internal::kResetAction;
using testing_internal::MakeConfig;
using testing_internal::MakeDiscreteSpec;
using testing_internal::Obs;
using testing_internal::Rew;
using testing_internal::ScriptedEnvs;
using testing_internal::Values;

constexpr Episode kForever = {1 << 30, End::kRunning};

// A dqn builder for `num_envs` scripted envs with n-step `n` and gamma 0.5
// (powers of two keep every expected value exact).
std::unique_ptr<ItemBuilder> MakeBuilder(int num_envs, int n,
                                         double priority = 1.0) {
  ExperimentConfig config =
      MakeConfig(AlgorithmKind::kDqn, num_envs, /*discount=*/0.5);
  config.algorithm.n_step = n;
  ItemBuilderOptions options;
  options.actor_index = 7;
  options.initial_priority = priority;
  auto builder = MakeItemBuilder(config, MakeDiscreteSpec(), options);
  EXPECT_TRUE(builder.ok()) << builder.status();
  return builder.ok() ? std::move(*builder) : nullptr;
}

const std::vector<v1::TensorSpec>& Sig() {
  static const auto* const kSig = new std::vector<v1::TensorSpec>(ItemSignature(
      MakeConfig(AlgorithmKind::kDqn, 1, 0.5).algorithm, MakeDiscreteSpec()));
  return *kSig;
}

float Reward(const v1::Item& item) {
  return Values<float>(item, Sig(), "reward")[0];
}
float Discount(const v1::Item& item) {
  return Values<float>(item, Sig(), "discount")[0];
}
int64_t Action(const v1::Item& item) {
  return Values<int64_t>(item, Sig(), "action")[0];
}
std::vector<float> Observation(const v1::Item& item) {
  return Values<float>(item, Sig(), "observation");
}
std::vector<float> NextObservation(const v1::Item& item) {
  return Values<float>(item, Sig(), "next_observation");
}

// Runs `steps` vector steps and returns every item.
std::vector<v1::Item> RunSteps(ItemBuilder& builder, ScriptedEnvs& envs,
                               int steps) {
  std::vector<v1::Item> items;
  for (int s = 0; s < steps; ++s) {
    absl::Status status = builder.Add(envs.Step(/*policy_version=*/s), &items);
    EXPECT_TRUE(status.ok()) << status;
  }
  return items;
}

TEST(TransitionBuilderTest, ThreeStepItemsFoldTheDiscountAndBootstrapNAhead) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*n=*/3);
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items;
  ASSERT_TRUE(builder->Add(envs.Step(), &items).ok());
  ASSERT_TRUE(builder->Add(envs.Step(), &items).ok());
  EXPECT_TRUE(items.empty());  // Fewer than n steps so far.
  ASSERT_TRUE(builder->Add(envs.Step(), &items).ok());
  ASSERT_TRUE(builder->Add(envs.Step(), &items).ok());
  ASSERT_EQ(items.size(), 2u);
  // Rewards 1, 2, 3, 4: 1 + 0.5 * 2 + 0.25 * 3 = 2.75; 2 + 1.5 + 1 = 4.5.
  EXPECT_EQ(Observation(items[0]), Obs(0, 0, 0));
  EXPECT_EQ(Action(items[0]), Act(0, 0));
  EXPECT_EQ(Reward(items[0]), 2.75f);
  EXPECT_EQ(Discount(items[0]), 0.125f);
  EXPECT_EQ(NextObservation(items[0]), Obs(0, 0, 3));
  EXPECT_EQ(Observation(items[1]), Obs(0, 0, 1));
  EXPECT_EQ(Reward(items[1]), 4.5f);
  EXPECT_EQ(NextObservation(items[1]), Obs(0, 0, 4));
  EXPECT_EQ(items[0].table(), "transitions");
  EXPECT_EQ(items[0].actor_index(), 7);
  EXPECT_EQ(items[0].env_id(), 0);
  EXPECT_EQ(items[0].priority(), 1.0);
  EXPECT_EQ(Sig()[0].name(), "observation");
  EXPECT_EQ(items[0].columns(1).shape_size(), 0);  // Scalar action.
}

TEST(TransitionBuilderTest, TerminationInsideTheWindowGivesDiscountZero) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*n=*/3);
  ScriptedEnvs envs({{{4, End::kTerminated}, kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/4);
  // Every step of the 4-step episode yields one item, the last three
  // flushed at the termination. Rewards 1, 2, 3, 4.
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(Reward(items[0]), 2.75f);
  EXPECT_EQ(Discount(items[0]), 0.125f);  // Window 0..2 ends before 3.
  EXPECT_EQ(NextObservation(items[0]), Obs(0, 0, 3));
  EXPECT_EQ(Reward(items[1]), 2.0f + 1.5f + 1.0f);
  EXPECT_EQ(Reward(items[2]), 3.0f + 2.0f);
  EXPECT_EQ(Reward(items[3]), 4.0f);
  for (int t = 1; t < 4; ++t) {
    EXPECT_EQ(Observation(items[t]), Obs(0, 0, t));
    EXPECT_EQ(Discount(items[t]), 0.0f) << t;
    EXPECT_EQ(NextObservation(items[t]), Obs(0, 0, 4)) << t;  // Final obs.
  }
  EXPECT_EQ(static_cast<TransitionBuilder&>(*builder).pending(0), 0);
}

TEST(TransitionBuilderTest, TruncationInsideTheWindowBootstrapsFromFinalObs) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*n=*/3);
  ScriptedEnvs envs({{{4, End::kTruncated}, kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/4);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(Discount(items[0]), 0.125f);
  EXPECT_EQ(Reward(items[1]), 4.5f);
  EXPECT_EQ(Discount(items[1]), 0.125f);  // Full window 1..3, gamma^3.
  EXPECT_EQ(Reward(items[2]), 5.0f);
  EXPECT_EQ(Discount(items[2]), 0.25f);  // 2 steps left: gamma^2.
  EXPECT_EQ(Reward(items[3]), 4.0f);
  EXPECT_EQ(Discount(items[3]), 0.5f);  // 1 step left: gamma.
  for (int t = 1; t < 4; ++t) {
    EXPECT_EQ(NextObservation(items[t]), Obs(0, 0, 4)) << t;
  }
}

TEST(TransitionBuilderTest, AutoResetStepIsIgnoredAndNextEpisodeStartsClean) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*n=*/2);
  ScriptedEnvs envs({{{1, End::kTerminated}, {2, End::kTruncated}, kForever}});
  // Steps: e0 s0 (terminates), reset, e1 s0, e1 s1 (truncates), reset,
  // e2 s0, e2 s1.
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/7);
  ASSERT_EQ(items.size(), 4u);
  for (const v1::Item& item : items) {
    EXPECT_NE(Action(item), kResetAction);
    EXPECT_GE(Reward(item), 0.0f);
  }
  EXPECT_EQ(Observation(items[0]), Obs(0, 0, 0));
  EXPECT_EQ(Reward(items[0]), 1.0f);
  EXPECT_EQ(Discount(items[0]), 0.0f);
  EXPECT_EQ(NextObservation(items[0]), Obs(0, 0, 1));
  // Episode 1 (rewards 11, 12) starts from its reset observation.
  EXPECT_EQ(Observation(items[1]), Obs(0, 1, 0));
  EXPECT_EQ(Action(items[1]), Act(1, 0));
  EXPECT_EQ(Reward(items[1]), 11.0f + 0.5f * 12.0f);
  EXPECT_EQ(Discount(items[1]), 0.25f);
  EXPECT_EQ(NextObservation(items[1]), Obs(0, 1, 2));
  EXPECT_EQ(Observation(items[2]), Obs(0, 1, 1));
  EXPECT_EQ(Reward(items[2]), 12.0f);
  EXPECT_EQ(Discount(items[2]), 0.5f);
  EXPECT_EQ(Observation(items[3]), Obs(0, 2, 0));
  EXPECT_EQ(Reward(items[3]), 21.0f + 0.5f * 22.0f);
}

// Reference n-step item for env i's episode e, step t (of `length` steps,
// ending with `end`), gamma 0.5.
void ExpectItem(const v1::Item& item, int i, int e, int t, int n, int length,
                End end) {
  const int m = std::min(n, length - t);
  double reward = 0.0;
  for (int k = 0; k < m; ++k) reward += std::pow(0.5, k) * Rew(e, t + k);
  double discount = std::pow(0.5, m);
  if (t + m == length && end == End::kTerminated) discount = 0.0;
  EXPECT_EQ(item.env_id(), i);
  EXPECT_EQ(Observation(item), Obs(i, e, t));
  EXPECT_EQ(Action(item), Act(e, t));
  EXPECT_EQ(Reward(item), static_cast<float>(reward));
  EXPECT_EQ(Discount(item), static_cast<float>(discount));
  EXPECT_EQ(NextObservation(item), Obs(i, e, t + m));
}

TEST(TransitionBuilderTest, InterleavedEnvsKeepTheirOwnWindows) {
  auto builder = MakeBuilder(/*num_envs=*/3, /*n=*/3);
  ScriptedEnvs envs({{{2, End::kTerminated}, kForever},
                     {{5, End::kTruncated}, kForever},
                     {kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/6);
  // Env 0: e0 steps 0,1 (2 items at step 1), reset, e1 steps 0..2 (1 item).
  // Env 1: e0 steps 0..4 (5 items by step 4), reset. Env 2: 6 steps, 4.
  std::vector<std::vector<const v1::Item*>> per_env(3);
  for (const v1::Item& item : items) per_env[item.env_id()].push_back(&item);
  ASSERT_EQ(per_env[0].size(), 3u);
  ASSERT_EQ(per_env[1].size(), 5u);
  ASSERT_EQ(per_env[2].size(), 4u);
  ExpectItem(*per_env[0][0], 0, 0, 0, 3, 2, End::kTerminated);
  ExpectItem(*per_env[0][1], 0, 0, 1, 3, 2, End::kTerminated);
  ExpectItem(*per_env[0][2], 0, 1, 0, 3, 1 << 30, End::kRunning);
  for (int t = 0; t < 5; ++t) {
    ExpectItem(*per_env[1][t], 1, 0, t, 3, 5, End::kTruncated);
  }
  for (int t = 0; t < 4; ++t) {
    ExpectItem(*per_env[2][t], 2, 0, t, 3, 1 << 30, End::kRunning);
  }
}

TEST(TransitionBuilderTest, OneStepItemsAreTheStepsThemselves) {
  auto builder = MakeBuilder(/*num_envs=*/2, /*n=*/1);
  ScriptedEnvs envs(
      {{{2, End::kTerminated}, kForever}, {{1, End::kTruncated}, kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/3);
  // Step 0: e0s0 of both. Step 1: env 0 e0s1 (terminates), env 1 reset.
  // Step 2: env 0 reset, env 1 e1s0.
  ASSERT_EQ(items.size(), 4u);
  ExpectItem(items[0], 0, 0, 0, 1, 2, End::kTerminated);
  ExpectItem(items[1], 1, 0, 0, 1, 1, End::kTruncated);
  ExpectItem(items[2], 0, 0, 1, 1, 2, End::kTerminated);
  ExpectItem(items[3], 1, 1, 0, 1, 1 << 30, End::kRunning);
  EXPECT_EQ(Discount(items[1]), 0.5f);
  EXPECT_EQ(Discount(items[2]), 0.0f);
}

TEST(TransitionBuilderTest, RecordsTheVersionThatChoseTheFirstAction) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*n=*/3);
  ScriptedEnvs envs({{{4, End::kTerminated}, kForever}});
  std::vector<v1::Item> items;
  for (int64_t version : {10, 11, 12, 13}) {
    ASSERT_TRUE(builder->Add(envs.Step(version), &items).ok());
  }
  ASSERT_EQ(items.size(), 4u);
  for (int t = 0; t < 4; ++t) EXPECT_EQ(items[t].policy_version(), 10 + t);
}

TEST(TransitionBuilderTest, InitialPriorityAppliesToLaterItems) {
  auto builder = MakeBuilder(/*num_envs=*/1, /*n=*/1, /*priority=*/2.5);
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items;
  ASSERT_TRUE(builder->Add(envs.Step(), &items).ok());
  builder->set_initial_priority(4.0);
  ASSERT_TRUE(builder->Add(envs.Step(), &items).ok());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].priority(), 2.5);
  EXPECT_EQ(items[1].priority(), 4.0);
}

TEST(TransitionBuilderTest, BoxActionsAreVectors) {
  ExperimentConfig config =
      MakeConfig(AlgorithmKind::kSac, /*num_envs=*/1, /*discount=*/0.5);
  config.algorithm.n_step = 1;
  const EnvSpec spec = testing_internal::MakeBoxSpec();
  auto builder = MakeItemBuilder(config, spec, ItemBuilderOptions());
  ASSERT_TRUE(builder.ok()) << builder.status();
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items;
  envs.Step();
  ASSERT_TRUE((*builder)->Add(envs.AsBox(envs.Step()), &items).ok());
  ASSERT_EQ(items.size(), 1u);
  const auto sig = ItemSignature(config.algorithm, spec);
  EXPECT_THAT(Values<float>(items[0], sig, "action"), ElementsAre(1.0f, -1.0f));
  EXPECT_THAT(testing_internal::Shape(items[0], sig, "action"), ElementsAre(2));
}

TEST(TransitionBuilderTest, ColumnsFollowTheConfiguredSignatureOrder) {
  ExperimentConfig config =
      MakeConfig(AlgorithmKind::kDqn, /*num_envs=*/1, /*discount=*/0.5);
  config.algorithm.n_step = 1;
  std::vector<v1::TensorSpec> sig = Sig();
  std::reverse(sig.begin(), sig.end());
  for (const v1::TensorSpec& s : sig) {
    ColumnConfig c;
    c.name = s.name();
    c.dtype = s.dtype();
    c.shape.assign(s.shape().begin(), s.shape().end());
    config.tables[0].signature.push_back(c);
  }
  auto builder =
      MakeItemBuilder(config, MakeDiscreteSpec(), ItemBuilderOptions());
  ASSERT_TRUE(builder.ok()) << builder.status();
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items;
  ASSERT_TRUE((*builder)->Add(envs.Step(), &items).ok());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_THAT(Values<float>(items[0], sig, "next_observation"),
              ElementsAreArray(Obs(0, 0, 1)));
  EXPECT_EQ(Values<float>(items[0], sig, "reward")[0], 1.0f);
  for (int j = 0; j < static_cast<int>(sig.size()); ++j) {
    EXPECT_TRUE(CheckTensorMatchesSpec(items[0].columns(j), sig[j], "c").ok())
        << sig[j].name();
  }
}

TEST(TransitionBuilderTest, IsFirstWithPendingStepsDropsThem) {
  // Only a VectorEnv Reset mid-episode gives this: the dropped steps'
  // episode has no known outcome.
  auto builder = MakeBuilder(/*num_envs=*/1, /*n=*/3);
  ScriptedEnvs envs({{kForever}});
  std::vector<v1::Item> items = RunSteps(*builder, envs, /*steps=*/2);
  StepBatch batch = envs.Step();
  const bool first[] = {true};
  batch.is_first = first;
  ASSERT_TRUE(builder->Add(batch, &items).ok());
  EXPECT_EQ(static_cast<TransitionBuilder&>(*builder).pending(0), 0);
  items = RunSteps(*builder, envs, /*steps=*/3);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(Observation(items[0]), Obs(0, 0, 3));
}

TEST(TransitionBuilderTest, WrongSpanSizeIsInvalidArgumentNamingTheSpan) {
  auto builder = MakeBuilder(/*num_envs=*/2, /*n=*/1);
  ScriptedEnvs envs({{kForever}});  // One env's worth of data.
  std::vector<v1::Item> items;
  absl::Status status = builder->Add(envs.Step(), &items);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("observations"));
  EXPECT_TRUE(items.empty());
}

TEST(TransitionBuilderTest, StepsThatCompleteNoItemAllocateNothing) {
  auto builder = MakeBuilder(/*num_envs=*/4, /*n=*/5);
  ScriptedEnvs envs({{kForever}, {kForever}, {kForever}, {kForever}});
  std::vector<v1::Item> items;
  for (int s = 0; s < 4; ++s) {
    const StepBatch batch = envs.Step();
    const int64_t before = g_allocations.load();
    ASSERT_TRUE(builder->Add(batch, &items).ok());
    EXPECT_EQ(g_allocations.load(), before) << "step " << s;
  }
  EXPECT_TRUE(items.empty());
}

}  // namespace
}  // namespace shoal
