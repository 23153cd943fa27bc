#include "replay/selectors/prioritized_selector.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "absl/random/random.h"
#include "gtest/gtest.h"

#include "replay/selectors/selector_testing.h"

namespace shoal {
namespace {

constexpr int kDraws = 1000000;

// The expected probability of each present slot: priority^exponent / total,
// summed in long double as an independent reference.
std::map<uint32_t, double> ExpectedProbabilities(
    const std::map<uint32_t, double>& priorities, double exponent) {
  long double total = 0;
  for (const auto& [slot, priority] : priorities) {
    total += std::pow(static_cast<long double>(priority), exponent);
  }
  std::map<uint32_t, double> probabilities;
  for (const auto& [slot, priority] : priorities) {
    probabilities[slot] = static_cast<double>(
        std::pow(static_cast<long double>(priority), exponent) / total);
  }
  return probabilities;
}

// Draws kDraws times from `selector`, which holds `priorities`, and checks
// the counts (chi-square at p = 1e-4) and every reported probability.
void ExpectPrioritized(PrioritizedSelector& selector,
                       const std::map<uint32_t, double>& priorities,
                       double exponent, uint32_t capacity) {
  const std::map<uint32_t, double> expected_p =
      ExpectedProbabilities(priorities, exponent);
  std::mt19937_64 rng(/*seed=*/1234);
  std::vector<int64_t> counts(capacity, 0);
  for (int i = 0; i < kDraws; ++i) {
    Selection s = selector.Select(rng);
    auto it = expected_p.find(s.slot);
    ASSERT_NE(it, expected_p.end()) << s.slot;
    ASSERT_NEAR(s.probability, it->second, 1e-12 * it->second);
    ++counts[s.slot];
  }
  std::vector<double> expected(capacity, 0.0);
  for (const auto& [slot, p] : expected_p) expected[slot] = kDraws * p;
  const int dof = static_cast<int>(priorities.size()) - 1;
  EXPECT_LT(selector_testing::ChiSquareStatistic(counts, expected),
            selector_testing::ChiSquareCritical1e4(dof));
}

TEST(PrioritizedSelectorTest, ReportsWeightOverTotal) {
  PrioritizedSelector selector(/*capacity=*/5, /*exponent=*/2.0);
  selector.Insert(/*slot=*/4, /*priority=*/1.0);
  selector.Insert(/*slot=*/1, /*priority=*/3.0);
  EXPECT_DOUBLE_EQ(selector.TotalPriority(), 10.0);
  EXPECT_EQ(selector.name(), "prioritized");
  absl::BitGen rng;
  for (int i = 0; i < 100; ++i) {
    Selection s = selector.Select(rng);
    EXPECT_DOUBLE_EQ(s.probability, s.slot == 4 ? 0.1 : 0.9);
  }
}

TEST(PrioritizedSelectorTest,
     ZeroPriorityIsNeverSelectedWhileOthersArePositive) {
  PrioritizedSelector selector(/*capacity=*/7, /*exponent=*/1.0);
  for (uint32_t slot = 0; slot < 7; ++slot) {
    selector.Insert(slot, slot == 3 ? 1e-300 : 0.0);
  }
  std::mt19937_64 rng(/*seed=*/3);
  for (int i = 0; i < 10000; ++i) {
    Selection s = selector.Select(rng);
    EXPECT_EQ(s.slot, 3u);
    EXPECT_EQ(s.probability, 1.0);
  }
}

TEST(PrioritizedSelectorTest, AllZeroPrioritiesAreSelectedUniformly) {
  PrioritizedSelector selector(/*capacity=*/10, /*exponent=*/1.0);
  for (uint32_t slot = 0; slot < 10; ++slot) selector.Insert(slot, 0.0);
  selector.Delete(/*slot=*/9);
  EXPECT_EQ(selector.TotalPriority(), 0.0);
  std::mt19937_64 rng(/*seed=*/5);
  std::vector<int64_t> counts(10, 0);
  for (int i = 0; i < 90000; ++i) {
    Selection s = selector.Select(rng);
    EXPECT_DOUBLE_EQ(s.probability, 1.0 / 9);
    ++counts[s.slot];
  }
  std::vector<double> expected(10, 10000.0);
  expected[9] = 0.0;
  EXPECT_EQ(counts[9], 0);
  EXPECT_LT(selector_testing::ChiSquareStatistic(counts, expected),
            selector_testing::ChiSquareCritical1e4(/*dof=*/8));
}

TEST(PrioritizedSelectorTest, ExponentZeroGivesPositivePrioritiesEqualWeight) {
  PrioritizedSelector selector(/*capacity=*/3, /*exponent=*/0.0);
  selector.Insert(/*slot=*/0, /*priority=*/5.0);
  selector.Insert(/*slot=*/1, /*priority=*/0.0);
  selector.Insert(/*slot=*/2, /*priority=*/0.01);
  EXPECT_EQ(selector.TotalPriority(), 2.0);
  absl::BitGen rng;
  for (int i = 0; i < 1000; ++i) {
    Selection s = selector.Select(rng);
    EXPECT_NE(s.slot, 1u);
    EXPECT_EQ(s.probability, 0.5);
  }
}

TEST(PrioritizedSelectorTest, CapacityOneAndDeleteOfTheLastSlotWork) {
  PrioritizedSelector selector(/*capacity=*/1, /*exponent=*/1.0);
  selector.Insert(/*slot=*/0, /*priority=*/2.5);
  EXPECT_EQ(selector.TotalPriority(), 2.5);
  absl::BitGen rng;
  EXPECT_EQ(selector.Select(rng).slot, 0u);
  selector.Delete(/*slot=*/0);
  EXPECT_EQ(selector.size(), 0);
  EXPECT_EQ(selector.TotalPriority(), 0.0);
}

TEST(PrioritizedSelectorTest, ClearZeroesTheTotalAndAllowsReinsertion) {
  PrioritizedSelector selector(/*capacity=*/13, /*exponent=*/1.0);
  for (uint32_t slot = 0; slot < 13; ++slot) selector.Insert(slot, slot + 1.0);
  selector.Clear();
  EXPECT_EQ(selector.size(), 0);
  EXPECT_EQ(selector.TotalPriority(), 0.0);
  selector.Insert(/*slot=*/12, /*priority=*/4.0);
  EXPECT_EQ(selector.TotalPriority(), 4.0);
  absl::BitGen rng;
  EXPECT_EQ(selector.Select(rng).slot, 12u);
}

TEST(PrioritizedSelectorTest, DrawsFollowPrioritiesAfterInserts) {
  constexpr uint32_t kCapacity = 100;
  constexpr double kExponent = 0.6;
  PrioritizedSelector selector(kCapacity, kExponent);
  std::map<uint32_t, double> priorities;
  for (uint32_t slot = 0; slot < kCapacity; ++slot) {
    priorities[slot] = slot + 1.0;
    selector.Insert(slot, priorities[slot]);
  }
  ExpectPrioritized(selector, priorities, kExponent, kCapacity);
}

// SelectBatch draws its targets in the same order as repeated Select calls,
// so with the same seed it must pick exactly the same slots with the same
// probabilities: over batch sizes around the 64-pick chunk and a capacity
// whose leaves sit at two depths.
TEST(PrioritizedSelectorTest, SelectBatchPicksExactlyWhatSelectWould) {
  constexpr uint32_t kCapacity = 100;
  PrioritizedSelector selector(kCapacity, /*exponent=*/0.6);
  for (uint32_t slot = 0; slot < kCapacity; ++slot) {
    selector.Insert(slot, (slot % 7) * 1.5);  // some zero priorities too
  }
  for (size_t n : {1, 63, 64, 65, 300}) {
    std::mt19937_64 one_rng(/*seed=*/99);
    std::mt19937_64 batch_rng(/*seed=*/99);
    std::vector<Selection> batch(n);
    selector.SelectBatch(batch_rng, absl::MakeSpan(batch));
    for (size_t i = 0; i < n; ++i) {
      const Selection one = selector.Select(one_rng);
      EXPECT_EQ(batch[i].slot, one.slot) << n << " " << i;
      EXPECT_EQ(batch[i].probability, one.probability) << n << " " << i;
    }
  }
}

TEST(PrioritizedSelectorTest, DrawsFollowPrioritiesAfterUpdates) {
  constexpr uint32_t kCapacity = 100;
  constexpr double kExponent = 0.6;
  PrioritizedSelector selector(kCapacity, kExponent);
  std::map<uint32_t, double> priorities;
  for (uint32_t slot = 0; slot < kCapacity; ++slot) {
    priorities[slot] = 1.0;
    selector.Insert(slot, 1.0);
  }
  std::mt19937_64 rng(/*seed=*/11);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t slot = absl::Uniform<uint32_t>(rng, 0, kCapacity);
    priorities[slot] = absl::Uniform<double>(rng, 0.5, 50.0);
    selector.Update(slot, priorities[slot]);
  }
  ExpectPrioritized(selector, priorities, kExponent, kCapacity);
}

TEST(PrioritizedSelectorTest, DrawsFollowPrioritiesAfterDeletions) {
  constexpr uint32_t kCapacity = 150;
  constexpr double kExponent = 0.6;
  PrioritizedSelector selector(kCapacity, kExponent);
  std::map<uint32_t, double> priorities;
  for (uint32_t slot = 0; slot < kCapacity; ++slot) {
    priorities[slot] = (slot % 17) + 1.0;
    selector.Insert(slot, priorities[slot]);
  }
  std::mt19937_64 rng(/*seed=*/13);
  while (priorities.size() > 100) {
    const uint32_t slot = absl::Uniform<uint32_t>(rng, 0, kCapacity);
    if (priorities.erase(slot)) selector.Delete(slot);
  }
  ExpectPrioritized(selector, priorities, kExponent, kCapacity);
}

TEST(PrioritizedSelectorTest, TotalDoesNotDriftUnderAMillionUpdates) {
  constexpr uint32_t kCapacity = 1000;
  PrioritizedSelector selector(kCapacity, /*exponent=*/1.0);
  std::vector<double> priorities(kCapacity);
  std::mt19937_64 rng(/*seed=*/17);
  // Priorities over twelve orders of magnitude, where delta updates would
  // lose the small ones.
  auto random_priority = [&rng] {
    return std::pow(10.0, absl::Uniform<double>(rng, -6.0, 6.0));
  };
  for (uint32_t slot = 0; slot < kCapacity; ++slot) {
    priorities[slot] = random_priority();
    selector.Insert(slot, priorities[slot]);
  }
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t slot = absl::Uniform<uint32_t>(rng, 0, kCapacity);
    priorities[slot] = random_priority();
    selector.Update(slot, priorities[slot]);
  }
  long double fresh = 0;
  for (double p : priorities) fresh += p;
  const double relative =
      std::abs(selector.TotalPriority() - static_cast<double>(fresh)) /
      static_cast<double>(fresh);
  EXPECT_LT(relative, 1e-9);
}

}  // namespace
}  // namespace shoal
