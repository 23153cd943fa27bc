#include "learner/learner_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gtest/gtest.h"

#include "common/testing/test_util.h"
#include "learner/algorithms/algorithm_testing.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;
using testing::DiscreteShape;
using testing::MakeSmallConfig;
using testing::MakeTransitionBatch;
using testing::SameAs;
using testing::Snapshot;

AlgorithmFactory MakeDqnFactory() {
  return [] {
    return MakeAlgorithm(MakeSmallConfig(AlgorithmKind::kDqn),
                         DiscreteShape(/*obs=*/4, /*actions=*/2), torch::kCPU);
  };
}

// An algorithm that has taken `steps` updates.
std::unique_ptr<Algorithm> MakeTrained(int steps) {
  absl::StatusOr<std::unique_ptr<Algorithm>> algorithm = MakeDqnFactory()();
  EXPECT_TRUE(algorithm.ok()) << algorithm.status();
  for (int i = 0; i < steps; ++i) {
    absl::StatusOr<UpdateResult> result =
        (*algorithm)
            ->Update(
                MakeTransitionBatch(DiscreteShape(4, 2), /*b=*/8, /*seed=*/i));
    EXPECT_TRUE(result.ok()) << result.status();
  }
  return *std::move(algorithm);
}

std::unique_ptr<LearnerCheckpointer> MakeCheckpointer(int keep = 2) {
  absl::StatusOr<std::string> dir = MakeTempDir("learner_ckpt");
  EXPECT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::unique_ptr<LearnerCheckpointer>> ckpt =
      LearnerCheckpointer::Create({*dir + "/ckpts", keep});
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  return *std::move(ckpt);
}

TEST(LearnerCheckpointerTest, RestoresStepVersionAndWeights) {
  std::unique_ptr<LearnerCheckpointer> ckpt = MakeCheckpointer();
  std::unique_ptr<Algorithm> trained = MakeTrained(/*steps=*/3);
  absl::StatusOr<std::string> path = ckpt->Save(*trained, /*version=*/5);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(fs::path(*path).filename().string(), "ckpt-00000000000000000003");
  EXPECT_TRUE(fs::exists(fs::path(*path) / "DONE"));

  std::unique_ptr<Algorithm> restored;
  auto state = ckpt->Restore(MakeDqnFactory(), &restored);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->step, 3);
  EXPECT_EQ((*state)->version, 5);
  EXPECT_EQ((*state)->path, *path);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->step(), 3);
  EXPECT_TRUE(SameAs(Snapshot(trained->policy()), restored->policy()));
}

TEST(LearnerCheckpointerTest, EmptyDirectoryRestoresNothing) {
  std::unique_ptr<LearnerCheckpointer> ckpt = MakeCheckpointer();
  std::unique_ptr<Algorithm> algorithm;
  auto state = ckpt->Restore(MakeDqnFactory(), &algorithm);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_FALSE(state->has_value());
  EXPECT_EQ(algorithm, nullptr);
}

TEST(LearnerCheckpointerTest, KeepsTheNewestTwo) {
  std::unique_ptr<LearnerCheckpointer> ckpt = MakeCheckpointer(/*keep=*/2);
  std::unique_ptr<Algorithm> algorithm = MakeTrained(/*steps=*/0);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(
        algorithm->Update(MakeTransitionBatch(DiscreteShape(4, 2), 8, i)).ok());
    ASSERT_TRUE(ckpt->Save(*algorithm, /*version=*/i).ok());
  }
  std::vector<std::string> complete = ckpt->ListComplete();
  ASSERT_EQ(complete.size(), 2u);
  EXPECT_EQ(fs::path(complete[0]).filename(), "ckpt-00000000000000000002");
  EXPECT_EQ(fs::path(complete[1]).filename(), "ckpt-00000000000000000003");
}

TEST(LearnerCheckpointerTest, SkipsCorruptAndIncompleteCheckpoints) {
  std::unique_ptr<LearnerCheckpointer> ckpt = MakeCheckpointer(/*keep=*/3);
  std::unique_ptr<Algorithm> algorithm = MakeTrained(/*steps=*/1);
  ASSERT_TRUE(ckpt->Save(*algorithm, /*version=*/1).ok());
  auto good = Snapshot(algorithm->policy());
  ASSERT_TRUE(
      algorithm->Update(MakeTransitionBatch(DiscreteShape(4, 2), 8, 9)).ok());
  absl::StatusOr<std::string> corrupt = ckpt->Save(*algorithm, 2);
  ASSERT_TRUE(corrupt.ok());
  // Truncate the newest complete checkpoint's algorithm file.
  std::ofstream(*corrupt + "/algorithm.pt", std::ios::trunc) << "garbage";
  // And leave a newer one without DONE, as a kill mid-save would.
  fs::create_directories(ckpt->dir() + "/ckpt-00000000000000000009");

  std::unique_ptr<Algorithm> restored;
  auto state = ckpt->Restore(MakeDqnFactory(), &restored);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->step, 1);
  EXPECT_EQ((*state)->version, 1);
  EXPECT_TRUE(SameAs(good, restored->policy()));
}

TEST(LearnerCheckpointerTest, RejectsBadOptions) {
  EXPECT_FALSE(LearnerCheckpointer::Create({"", 2}).ok());
  EXPECT_FALSE(LearnerCheckpointer::Create({"/tmp/x", 0}).ok());
}

}  // namespace
}  // namespace shoal
