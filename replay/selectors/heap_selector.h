// HeapSelector: picks the present slot with the lowest ("min_heap") or the
// highest ("max_heap") priority; among equal priorities, the one inserted
// first. Update keeps a slot's place in the insertion order.
//
// An indexed binary heap: heap entries hold the priority, an insertion stamp
// and the slot (16 bytes), and each slot knows its heap index (4 bytes).
// Memory: 20 bytes per slot of capacity, allocated uninitialized so that
// pages are touched only as slots are used.
//
// Insertion stamps are uint32. When the counter runs out (every ~4e9
// inserts) the present slots are renumbered 0..n-1 in stamp order, which
// changes no comparison and so keeps the heap valid: O(n log n) and O(n)
// temporary memory, once per ~4e9 inserts.
//
// Not thread-safe (see ItemSelector).
#ifndef SHOAL_REPLAY_SELECTORS_HEAP_SELECTOR_H_
#define SHOAL_REPLAY_SELECTORS_HEAP_SELECTOR_H_

#include <cstdint>
#include <memory>

#include "replay/selectors/item_selector.h"

namespace shoal {

class HeapSelector final : public ItemSelector {
 public:
  enum class Order { kMin, kMax };

  // REQUIRES: 1 <= capacity <= kMaxSelectorCapacity. `first_stamp` is for
  // tests of stamp renumbering.
  HeapSelector(uint32_t capacity, Order order, uint32_t first_stamp = 0);

  // O(log n) (amortized; see renumbering above).
  void Insert(uint32_t slot, double priority) override;
  // O(log n).
  void Update(uint32_t slot, double priority) override;
  // O(log n).
  void Delete(uint32_t slot) override;
  // O(1). The top of the heap, with probability 1.
  Selection Select(absl::BitGenRef rng) override;
  // O(1).
  void Clear() override { size_ = 0; }

  int64_t size() const override { return size_; }
  absl::string_view name() const override {
    return order_ == Order::kMin ? "min_heap" : "max_heap";
  }

 private:
  struct Entry {
    double priority;
    uint32_t stamp;
    uint32_t slot;
  };

  // Whether `a` must be above `b` in the heap.
  bool Before(const Entry& a, const Entry& b) const {
    if (a.priority != b.priority) {
      return order_ == Order::kMin ? a.priority < b.priority
                                   : a.priority > b.priority;
    }
    return a.stamp < b.stamp;
  }
  // Writes `entry` at heap index `index` and records the index for its slot.
  void Place(uint32_t index, const Entry& entry);
  // Moves the entry at `index` up or down to its place. O(log n).
  void SiftUp(uint32_t index);
  void SiftDown(uint32_t index);
  void Fix(uint32_t index);
  // Renumbers the stamps of present slots to 0..size_-1. O(n log n).
  void RenumberStamps();

  // Constant after construction. capacity_ is read by asserts only.
  [[maybe_unused]] const uint32_t capacity_;
  const Order order_;
  // heap_[0..size_) is a binary heap under Before().
  std::unique_ptr<Entry[]> heap_;
  // index_[slot] is the heap index of a present slot; undefined otherwise.
  std::unique_ptr<uint32_t[]> index_;
  uint32_t size_ = 0;
  uint32_t next_stamp_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_SELECTORS_HEAP_SELECTOR_H_
