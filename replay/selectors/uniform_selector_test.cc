#include "replay/selectors/uniform_selector.h"

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "absl/random/random.h"
#include "gtest/gtest.h"

#include "replay/selectors/selector_testing.h"

namespace shoal {
namespace {

constexpr int kDraws = 1000000;

// Draws kDraws times and checks the counts against a uniform distribution
// over `present` (chi-square at p = 1e-4) and every reported probability.
void ExpectUniform(UniformSelector& selector, const std::set<uint32_t>& present,
                   uint32_t capacity) {
  std::mt19937_64 rng(/*seed=*/42);
  std::vector<int64_t> counts(capacity, 0);
  const double p = 1.0 / present.size();
  for (int i = 0; i < kDraws; ++i) {
    Selection s = selector.Select(rng);
    ASSERT_TRUE(present.count(s.slot)) << s.slot;
    ASSERT_DOUBLE_EQ(s.probability, p);
    ++counts[s.slot];
  }
  std::vector<double> expected(capacity, 0.0);
  for (uint32_t slot : present) expected[slot] = kDraws * p;
  const int dof = static_cast<int>(present.size()) - 1;
  EXPECT_LT(selector_testing::ChiSquareStatistic(counts, expected),
            selector_testing::ChiSquareCritical1e4(dof));
}

TEST(UniformSelectorTest, SelectsTheOnlySlotWithProbabilityOne) {
  UniformSelector selector(/*capacity=*/4);
  selector.Insert(/*slot=*/3, /*priority=*/7.0);
  absl::BitGen rng;
  Selection s = selector.Select(rng);
  EXPECT_EQ(s.slot, 3u);
  EXPECT_EQ(s.probability, 1.0);
  EXPECT_EQ(selector.size(), 1);
  EXPECT_EQ(selector.name(), "uniform");
  EXPECT_EQ(selector.TotalPriority(), 0.0);
}

TEST(UniformSelectorTest, DeletedSlotsAreNeverSelected) {
  UniformSelector selector(/*capacity=*/8);
  for (uint32_t slot = 0; slot < 8; ++slot) selector.Insert(slot, 1.0);
  selector.Delete(/*slot=*/0);
  selector.Delete(/*slot=*/7);
  selector.Delete(/*slot=*/3);
  selector.Update(/*slot=*/4, /*priority=*/100.0);
  EXPECT_EQ(selector.size(), 5);
  absl::BitGen rng;
  for (int i = 0; i < 1000; ++i) {
    Selection s = selector.Select(rng);
    EXPECT_NE(s.slot, 0u);
    EXPECT_NE(s.slot, 7u);
    EXPECT_NE(s.slot, 3u);
    EXPECT_DOUBLE_EQ(s.probability, 0.2);
  }
}

TEST(UniformSelectorTest, ClearEmptiesAndAllowsReinsertion) {
  UniformSelector selector(/*capacity=*/3);
  for (uint32_t slot = 0; slot < 3; ++slot) selector.Insert(slot, 1.0);
  selector.Clear();
  EXPECT_EQ(selector.size(), 0);
  selector.Insert(/*slot=*/1, /*priority=*/1.0);
  absl::BitGen rng;
  EXPECT_EQ(selector.Select(rng).slot, 1u);
}

TEST(UniformSelectorTest, DrawsAreUniformAfterInserts) {
  constexpr uint32_t kCapacity = 100;
  UniformSelector selector(kCapacity);
  std::set<uint32_t> present;
  for (uint32_t slot = 0; slot < kCapacity; ++slot) {
    selector.Insert(slot, /*priority=*/slot + 1.0);
    present.insert(slot);
  }
  ExpectUniform(selector, present, kCapacity);
}

TEST(UniformSelectorTest, DrawsAreUniformAfterDeletions) {
  constexpr uint32_t kCapacity = 150;
  UniformSelector selector(kCapacity);
  std::set<uint32_t> present;
  for (uint32_t slot = 0; slot < kCapacity; ++slot) {
    selector.Insert(slot, 1.0);
    present.insert(slot);
  }
  std::mt19937_64 rng(/*seed=*/7);
  while (present.size() > 100) {
    const uint32_t slot = absl::Uniform<uint32_t>(rng, 0, kCapacity);
    if (present.erase(slot)) selector.Delete(slot);
  }
  ExpectUniform(selector, present, kCapacity);
}

}  // namespace
}  // namespace shoal
