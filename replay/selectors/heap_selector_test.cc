#include "replay/selectors/heap_selector.h"

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using Order = HeapSelector::Order;

// Selects and deletes until empty; returns the slots in selection order.
std::vector<uint32_t> Drain(HeapSelector& selector) {
  absl::BitGen rng;
  std::vector<uint32_t> slots;
  while (selector.size() > 0) {
    Selection s = selector.Select(rng);
    EXPECT_EQ(s.probability, 1.0);
    slots.push_back(s.slot);
    selector.Delete(s.slot);
  }
  return slots;
}

TEST(HeapSelectorTest, MinHeapSelectsLowestPriorityOldestFirstOnTies) {
  HeapSelector selector(/*capacity=*/8, Order::kMin);
  EXPECT_EQ(selector.name(), "min_heap");
  selector.Insert(/*slot=*/4, /*priority=*/2.0);
  selector.Insert(/*slot=*/1, /*priority=*/1.0);
  selector.Insert(/*slot=*/6, /*priority=*/2.0);
  selector.Insert(/*slot=*/0, /*priority=*/1.0);
  selector.Insert(/*slot=*/3, /*priority=*/0.5);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{3, 1, 0, 4, 6}));
}

TEST(HeapSelectorTest, MaxHeapSelectsHighestPriorityOldestFirstOnTies) {
  HeapSelector selector(/*capacity=*/8, Order::kMax);
  EXPECT_EQ(selector.name(), "max_heap");
  selector.Insert(/*slot=*/4, /*priority=*/2.0);
  selector.Insert(/*slot=*/1, /*priority=*/1.0);
  selector.Insert(/*slot=*/6, /*priority=*/2.0);
  selector.Insert(/*slot=*/0, /*priority=*/1.0);
  selector.Insert(/*slot=*/3, /*priority=*/0.5);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{4, 6, 1, 0, 3}));
}

TEST(HeapSelectorTest, UpdatesMoveSlotsUpAndDownButKeepTheirAge) {
  HeapSelector selector(/*capacity=*/4, Order::kMin);
  for (uint32_t slot = 0; slot < 4; ++slot) selector.Insert(slot, slot + 1.0);
  absl::BitGen rng;
  selector.Update(/*slot=*/3, /*priority=*/0.0);
  EXPECT_EQ(selector.Select(rng).slot, 3u);
  selector.Update(/*slot=*/3, /*priority=*/10.0);
  EXPECT_EQ(selector.Select(rng).slot, 0u);
  // Slot 2 now ties with slot 0 and is younger, so slot 0 stays on top.
  selector.Update(/*slot=*/2, /*priority=*/1.0);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{0, 2, 1, 3}));
}

TEST(HeapSelectorTest, ClearEmptiesAndAllowsReinsertion) {
  HeapSelector selector(/*capacity=*/3, Order::kMax);
  for (uint32_t slot = 0; slot < 3; ++slot) selector.Insert(slot, 1.0);
  selector.Clear();
  EXPECT_EQ(selector.size(), 0);
  selector.Insert(/*slot=*/2, /*priority=*/1.0);
  selector.Insert(/*slot=*/0, /*priority=*/1.0);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{2, 0}));
}

TEST(HeapSelectorTest, StampRenumberingKeepsTiesOldestFirst) {
  HeapSelector selector(/*capacity=*/16, Order::kMin,
                        /*first_stamp=*/0xFFFFFFFFu - 3);
  for (uint32_t slot = 0; slot < 10; ++slot) selector.Insert(slot, 1.0);
  selector.Delete(/*slot=*/0);
  selector.Insert(/*slot=*/0, /*priority=*/1.0);
  EXPECT_EQ(Drain(selector),
            (std::vector<uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 0}));
}

// Random operations against a brute-force reference: the top of the heap
// is always the (priority, insertion order) minimum or maximum.
TEST(HeapSelectorTest, MatchesABruteForceReferenceUnderRandomOperations) {
  for (Order order : {Order::kMin, Order::kMax}) {
    constexpr uint32_t kCapacity = 64;
    HeapSelector selector(kCapacity, order);
    // slot -> (priority, insertion number)
    std::map<uint32_t, std::pair<double, int>> reference;
    std::mt19937_64 rng(/*seed=*/21);
    int inserts = 0;
    for (int step = 0; step < 20000; ++step) {
      const uint32_t slot = absl::Uniform<uint32_t>(rng, 0, kCapacity);
      const double priority = absl::Uniform<int>(rng, 0, 8);
      auto it = reference.find(slot);
      const int op = absl::Uniform<int>(rng, 0, 3);
      if (it == reference.end()) {
        selector.Insert(slot, priority);
        reference[slot] = {priority, inserts++};
      } else if (op == 0) {
        selector.Delete(slot);
        reference.erase(it);
      } else {
        selector.Update(slot, priority);
        it->second.first = priority;
      }
      ASSERT_EQ(selector.size(), static_cast<int64_t>(reference.size()));
      if (reference.empty()) continue;
      auto best = reference.begin();
      for (auto c = reference.begin(); c != reference.end(); ++c) {
        const double pc = c->second.first, pb = best->second.first;
        const bool better = order == Order::kMin ? pc < pb : pc > pb;
        if (better || (pc == pb && c->second.second < best->second.second)) {
          best = c;
        }
      }
      ASSERT_EQ(selector.Select(rng).slot, best->first) << "step " << step;
    }
  }
}

}  // namespace
}  // namespace shoal
