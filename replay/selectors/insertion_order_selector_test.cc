#include "replay/selectors/insertion_order_selector.h"

#include <cstdint>
#include <vector>

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using Order = InsertionOrderSelector::Order;

// Selects and deletes until empty; returns the slots in selection order.
std::vector<uint32_t> Drain(InsertionOrderSelector& selector) {
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

TEST(InsertionOrderSelectorTest, FifoSelectsOldestFirst) {
  InsertionOrderSelector selector(/*capacity=*/8, Order::kFifo);
  EXPECT_EQ(selector.name(), "fifo");
  for (uint32_t slot : {5u, 2u, 7u, 0u}) selector.Insert(slot, 1.0);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{5, 2, 7, 0}));
}

TEST(InsertionOrderSelectorTest, LifoSelectsNewestFirst) {
  InsertionOrderSelector selector(/*capacity=*/8, Order::kLifo);
  EXPECT_EQ(selector.name(), "lifo");
  for (uint32_t slot : {5u, 2u, 7u, 0u}) selector.Insert(slot, 1.0);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{0, 7, 2, 5}));
}

TEST(InsertionOrderSelectorTest, DeletesFromHeadMiddleAndTailKeepTheOrder) {
  InsertionOrderSelector selector(/*capacity=*/6, Order::kFifo);
  for (uint32_t slot = 0; slot < 6; ++slot) selector.Insert(slot, 1.0);
  selector.Delete(/*slot=*/0);
  selector.Delete(/*slot=*/3);
  selector.Delete(/*slot=*/5);
  EXPECT_EQ(selector.size(), 3);
  // A reused slot goes to the back.
  selector.Insert(/*slot=*/0, /*priority=*/1.0);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{1, 2, 4, 0}));
}

TEST(InsertionOrderSelectorTest, UpdateDoesNotChangeTheOrder) {
  InsertionOrderSelector selector(/*capacity=*/3, Order::kLifo);
  for (uint32_t slot = 0; slot < 3; ++slot) selector.Insert(slot, 1.0);
  selector.Update(/*slot=*/0, /*priority=*/100.0);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{2, 1, 0}));
}

TEST(InsertionOrderSelectorTest, ClearEmptiesAndAllowsReinsertion) {
  InsertionOrderSelector selector(/*capacity=*/4, Order::kFifo);
  for (uint32_t slot = 0; slot < 4; ++slot) selector.Insert(slot, 1.0);
  selector.Clear();
  EXPECT_EQ(selector.size(), 0);
  selector.Insert(/*slot=*/3, /*priority=*/1.0);
  selector.Insert(/*slot=*/1, /*priority=*/1.0);
  EXPECT_EQ(Drain(selector), (std::vector<uint32_t>{3, 1}));
}

}  // namespace
}  // namespace shoal
