// PrioritizedSelector: picks a present slot with probability
// w(slot) / sum of w over present slots, where w = priority^exponent and
// w = 0 for a priority of 0 (even with exponent 0).
//
// Zero priorities: a slot with w = 0 is never picked while the total is > 0.
// When every present slot has w = 0 (or the total is not finite, which
// Table prevents by refusing weights over Table::MaxPriorityWeight()) the
// pick is uniform among them and the reported probability is 1/size.
//
// Layout: the present slots are kept dense (positions 0..size-1; Delete moves
// the last one into the hole) and a sum tree sits over the positions. The
// tree is the array form of a full binary tree with `capacity` leaves:
// node 1 is the root, node i has children 2i and 2i+1, and the leaves are
// nodes capacity..2*capacity-1 (this works for any capacity, not only powers
// of two). Memory: 24 bytes per slot of capacity (2 doubles of tree, 2 uint32
// of slot <-> position maps), from calloc so that untouched pages stay
// unmapped.
//
// Floating-point drift: none accumulates. An update never adds a delta to the
// ancestors; it recomputes each ancestor as fl(left + right) from its two
// children. Every internal node is therefore always exactly the value an
// O(n) rebuild from the leaves would give, however many updates ran, and the
// root differs from an exact sum only by the O(log n) rounding of one
// summation. So there is no rebuild schedule and no drift check to run. The
// cost is one extra (cache-adjacent) read per level.
//
// Not thread-safe (see ItemSelector).
#ifndef SHOAL_REPLAY_SELECTORS_PRIORITIZED_SELECTOR_H_
#define SHOAL_REPLAY_SELECTORS_PRIORITIZED_SELECTOR_H_

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "replay/selectors/item_selector.h"

namespace shoal {

class PrioritizedSelector final : public ItemSelector {
 public:
  // REQUIRES: 1 <= capacity <= kMaxSelectorCapacity; exponent finite, >= 0.
  PrioritizedSelector(uint32_t capacity, double exponent);

  // O(log n).
  // REQUIRES: priority >= 0; priority^exponent and the new total finite.
  void Insert(uint32_t slot, double priority) override;
  // O(log n). Same requirements as Insert.
  void Update(uint32_t slot, double priority) override;
  // O(log n).
  void Delete(uint32_t slot) override;
  // O(log n). probability = w(slot) / TotalPriority(), or 1/size() when the
  // total is 0.
  Selection Select(absl::BitGenRef rng) override;
  // Walks the tree for the whole batch one level at a time, prefetching
  // every pick's next node first: the batch's cache misses overlap.
  void SelectBatch(absl::BitGenRef rng, absl::Span<Selection> out) override;
  // O(n log n) in the present slots; touches no other pages.
  void Clear() override;

  int64_t size() const override { return size_; }
  absl::string_view name() const override { return "prioritized"; }
  // O(1). Sum of w over present slots.
  double TotalPriority() const override { return tree_[1]; }

  // The weight a priority gets: 0 for 0, else priority^exponent.
  double Weight(double priority) const;

 private:
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };

  // The dense position of a leaf a descent reached, clamped to a present
  // one. O(1).
  uint32_t PresentPosition(size_t leaf) const;

  // Sets the leaf of dense `position` to `weight` and recomputes its
  // ancestors from their children. O(log capacity).
  void SetLeaf(uint32_t position, double weight);

  // Constant after construction.
  const uint32_t capacity_;
  const double exponent_;
  // tree_[1..2*capacity_); see the class comment. tree_[0] is unused.
  std::unique_ptr<double[], FreeDeleter> tree_;
  // slots_[position] for positions 0..size_-1, and position_[slot] for
  // present slots; other entries are undefined.
  std::unique_ptr<uint32_t[]> slots_;
  std::unique_ptr<uint32_t[]> position_;
  uint32_t size_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_SELECTORS_PRIORITIZED_SELECTOR_H_
