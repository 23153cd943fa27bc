#include "learner/algorithms/algorithm.h"

#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "common/config.h"
#include "common/torch/networks.h"
#include "learner/algorithms/algorithm_testing.h"

namespace shoal {
namespace {

using testing::MakeSmallConfig;

// Each algorithm's kind, env shape and batch maker, for the contract tests.
struct Case {
  AlgorithmKind kind;
  EnvShape shape;
};

std::vector<Case> AllCases() {
  return {{AlgorithmKind::kSac, testing::BoxShape(3, {-2.0f}, {2.0f})},
          {AlgorithmKind::kDqn, testing::DiscreteShape(4, 2)},
          {AlgorithmKind::kImpala, testing::DiscreteShape(4, 2)}};
}

Batch MakeBatch(const Case& c, uint64_t seed) {
  return c.kind == AlgorithmKind::kImpala
             ? testing::MakeUnrollBatch(c.shape, 4, 5, seed)
             : testing::MakeTransitionBatch(c.shape, 8, seed);
}

std::unique_ptr<Algorithm> Make(const Case& c, int64_t seed = 3) {
  ExperimentConfig config = MakeSmallConfig(c.kind);
  config.seed = seed;
  config.algorithm.optimizer.max_grad_norm = 10.0;
  absl::StatusOr<std::unique_ptr<Algorithm>> algo =
      MakeAlgorithm(config, c.shape, torch::kCPU);
  EXPECT_TRUE(algo.ok()) << algo.status();
  return std::move(algo).value();
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/", name, ".ckpt");
}

TEST(AlgorithmTest, SaveLoadRoundTripGivesABitIdenticalNextUpdate) {
  for (const Case& c : AllCases()) {
    SCOPED_TRACE(std::string(EnumName(c.kind)));
    std::unique_ptr<Algorithm> a = Make(c);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(a->Update(MakeBatch(c, i)).ok());
    const std::string path = TempPath(std::string(EnumName(c.kind)));
    ASSERT_TRUE(a->Save(path).ok());
    absl::StatusOr<UpdateResult> expected = a->Update(MakeBatch(c, 7));
    ASSERT_TRUE(expected.ok());

    std::unique_ptr<Algorithm> b = Make(c, /*seed=*/12345);
    torch::randn({17});  // move the generator; Load must restore it.
    absl::Status loaded = b->Load(path);
    ASSERT_TRUE(loaded.ok()) << loaded;
    EXPECT_EQ(b->step(), 3);
    absl::StatusOr<UpdateResult> got = b->Update(MakeBatch(c, 7));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->scalars, expected->scalars);
    EXPECT_TRUE(testing::SameAs(testing::Snapshot(a->policy()), b->policy()));
    std::remove(path.c_str());
  }
}

TEST(AlgorithmTest, LoadOfAMissingFileIsNotFound) {
  std::unique_ptr<Algorithm> a = Make(AllCases()[1]);
  EXPECT_EQ(a->Load(TempPath("does_not_exist")).code(),
            absl::StatusCode::kNotFound);
}

TEST(AlgorithmTest, NanInputIsInternalAndLeavesTheWeightsUnchanged) {
  for (const Case& c : AllCases()) {
    SCOPED_TRACE(std::string(EnumName(c.kind)));
    std::unique_ptr<Algorithm> a = Make(c);
    ASSERT_TRUE(a->Update(MakeBatch(c, 1)).ok());
    auto before = testing::Snapshot(a->policy());
    Batch batch = MakeBatch(c, 2);
    batch.columns["observation"].view({-1})[0] =
        std::numeric_limits<float>::quiet_NaN();
    absl::StatusOr<UpdateResult> result = a->Update(batch);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
    EXPECT_NE(result.status().message().find("loss is NaN at step 1"),
              std::string::npos)
        << result.status();
    EXPECT_TRUE(testing::SameAs(before, a->policy()));
    EXPECT_EQ(a->step(), 1);
    // A good batch afterwards still trains.
    EXPECT_TRUE(a->Update(MakeBatch(c, 3)).ok());
  }
}

TEST(AlgorithmTest, MissingOrMisShapedColumnIsInvalidArgumentNamingIt) {
  for (const Case& c : AllCases()) {
    SCOPED_TRACE(std::string(EnumName(c.kind)));
    std::unique_ptr<Algorithm> a = Make(c);
    Batch missing = MakeBatch(c, 1);
    missing.columns.erase("discount");
    absl::StatusOr<UpdateResult> result = a->Update(missing);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find("'discount'"), std::string::npos)
        << result.status();
    Batch misshaped = MakeBatch(c, 1);
    misshaped.columns["reward"] = misshaped.columns["reward"].unsqueeze(-1);
    result = a->Update(misshaped);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find("'reward'"), std::string::npos)
        << result.status();
    EXPECT_EQ(a->step(), 0);
  }
}

TEST(AlgorithmTest, PolicyHasTheParametersOfMakePolicy) {
  for (const Case& c : AllCases()) {
    SCOPED_TRACE(std::string(EnumName(c.kind)));
    std::unique_ptr<Algorithm> a = Make(c);
    absl::StatusOr<std::shared_ptr<ActorPolicy>> actor =
        MakePolicy(MakeSmallConfig(c.kind), c.shape);
    ASSERT_TRUE(actor.ok()) << actor.status();
    auto mine = testing::Snapshot(a->policy());
    auto theirs = testing::Snapshot(**actor);
    ASSERT_EQ(mine.size(), theirs.size());
    for (size_t i = 0; i < mine.size(); ++i) {
      EXPECT_EQ(mine[i].first, theirs[i].first);
      EXPECT_EQ(mine[i].second.sizes(), theirs[i].second.sizes());
    }
  }
}

TEST(AlgorithmTest, RejectsAMismatchedActionSpace) {
  EXPECT_EQ(MakeAlgorithm(MakeSmallConfig(AlgorithmKind::kSac),
                          testing::DiscreteShape(4, 2), torch::kCPU)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeAlgorithm(MakeSmallConfig(AlgorithmKind::kDqn),
                          testing::BoxShape(3, {-1.0f}, {1.0f}), torch::kCPU)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoal
