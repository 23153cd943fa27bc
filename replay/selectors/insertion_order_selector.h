// InsertionOrderSelector: picks the oldest present slot ("fifo") or the
// newest ("lifo"), by order of Insert; Update does not change the order.
//
// An intrusive doubly linked list threaded through two uint32 arrays indexed
// by slot. Memory: 8 bytes per slot of capacity, allocated uninitialized so
// that pages are touched only as slots are used.
//
// Not thread-safe (see ItemSelector).
#ifndef SHOAL_REPLAY_SELECTORS_INSERTION_ORDER_SELECTOR_H_
#define SHOAL_REPLAY_SELECTORS_INSERTION_ORDER_SELECTOR_H_

#include <cstdint>
#include <memory>

#include "replay/selectors/item_selector.h"

namespace shoal {

class InsertionOrderSelector final : public ItemSelector {
 public:
  enum class Order { kFifo, kLifo };

  // REQUIRES: 1 <= capacity <= kMaxSelectorCapacity.
  InsertionOrderSelector(uint32_t capacity, Order order);

  // O(1). The priority is ignored.
  void Insert(uint32_t slot, double priority) override;
  // O(1); does nothing.
  void Update(uint32_t slot, double priority) override;
  // O(1).
  void Delete(uint32_t slot) override;
  // O(1). The oldest (fifo) or newest (lifo) slot, with probability 1.
  Selection Select(absl::BitGenRef rng) override;
  // O(1).
  void Clear() override;

  int64_t size() const override { return size_; }
  absl::string_view name() const override {
    return order_ == Order::kFifo ? "fifo" : "lifo";
  }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  // Constant after construction.
  const uint32_t capacity_;
  const Order order_;
  // For a present slot, the next older (prev_) and next newer (next_) present
  // slot, or kNone. Undefined for absent slots.
  std::unique_ptr<uint32_t[]> prev_;
  std::unique_ptr<uint32_t[]> next_;
  uint32_t oldest_ = kNone;
  uint32_t newest_ = kNone;
  uint32_t size_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_SELECTORS_INSERTION_ORDER_SELECTOR_H_
