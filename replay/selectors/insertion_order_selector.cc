#include "replay/selectors/insertion_order_selector.h"

#include <cassert>

namespace shoal {

InsertionOrderSelector::InsertionOrderSelector(uint32_t capacity, Order order)
    : capacity_(capacity),
      order_(order),
      prev_(new uint32_t[capacity]),
      next_(new uint32_t[capacity]) {}

void InsertionOrderSelector::Insert(uint32_t slot, double /*priority*/) {
  assert(slot < capacity_);
  assert(size_ < capacity_);
  prev_[slot] = newest_;
  next_[slot] = kNone;
  if (newest_ == kNone) {
    oldest_ = slot;
  } else {
    next_[newest_] = slot;
  }
  newest_ = slot;
  ++size_;
}

void InsertionOrderSelector::Update(uint32_t slot, double /*priority*/) {
  assert(slot < capacity_);
}

void InsertionOrderSelector::Delete(uint32_t slot) {
  assert(slot < capacity_);
  assert(size_ > 0);
  const uint32_t prev = prev_[slot];
  const uint32_t next = next_[slot];
  if (prev == kNone) {
    assert(oldest_ == slot);
    oldest_ = next;
  } else {
    next_[prev] = next;
  }
  if (next == kNone) {
    assert(newest_ == slot);
    newest_ = prev;
  } else {
    prev_[next] = prev;
  }
  --size_;
}

Selection InsertionOrderSelector::Select(absl::BitGenRef /*rng*/) {
  assert(size_ > 0);
  return Selection{order_ == Order::kFifo ? oldest_ : newest_, 1.0};
}

void InsertionOrderSelector::Clear() {
  oldest_ = kNone;
  newest_ = kNone;
  size_ = 0;
}

}  // namespace shoal
