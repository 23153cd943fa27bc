#include "replay/selectors/heap_selector.h"

#include <algorithm>
#include <cassert>
#include <vector>

namespace shoal {

HeapSelector::HeapSelector(uint32_t capacity, Order order, uint32_t first_stamp)
    : capacity_(capacity),
      order_(order),
      heap_(new Entry[capacity]),
      index_(new uint32_t[capacity]),
      next_stamp_(first_stamp) {}

void HeapSelector::Place(uint32_t index, const Entry& entry) {
  heap_[index] = entry;
  index_[entry.slot] = index;
}

void HeapSelector::SiftUp(uint32_t index) {
  const Entry entry = heap_[index];
  while (index > 0) {
    const uint32_t parent = (index - 1) / 2;
    if (!Before(entry, heap_[parent])) break;
    Place(index, heap_[parent]);
    index = parent;
  }
  Place(index, entry);
}

void HeapSelector::SiftDown(uint32_t index) {
  const Entry entry = heap_[index];
  while (true) {
    const uint64_t left = 2 * static_cast<uint64_t>(index) + 1;
    if (left >= size_) break;
    uint32_t child = static_cast<uint32_t>(left);
    if (child + 1 < size_ && Before(heap_[child + 1], heap_[child])) ++child;
    if (!Before(heap_[child], entry)) break;
    Place(index, heap_[child]);
    index = child;
  }
  Place(index, entry);
}

void HeapSelector::Fix(uint32_t index) {
  if (index > 0 && Before(heap_[index], heap_[(index - 1) / 2])) {
    SiftUp(index);
  } else {
    SiftDown(index);
  }
}

void HeapSelector::RenumberStamps() {
  std::vector<uint32_t> order(size_);
  for (uint32_t i = 0; i < size_; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) {
    return heap_[a].stamp < heap_[b].stamp;
  });
  for (uint32_t rank = 0; rank < size_; ++rank) {
    heap_[order[rank]].stamp = rank;
  }
  next_stamp_ = size_;
}

void HeapSelector::Insert(uint32_t slot, double priority) {
  assert(slot < capacity_);
  assert(size_ < capacity_);
  if (next_stamp_ == 0xFFFFFFFFu) RenumberStamps();
  const uint32_t index = size_++;
  Place(index, Entry{priority, next_stamp_++, slot});
  SiftUp(index);
}

void HeapSelector::Update(uint32_t slot, double priority) {
  assert(slot < capacity_);
  const uint32_t index = index_[slot];
  assert(index < size_ && heap_[index].slot == slot);
  heap_[index].priority = priority;
  Fix(index);
}

void HeapSelector::Delete(uint32_t slot) {
  assert(slot < capacity_);
  const uint32_t index = index_[slot];
  assert(index < size_ && heap_[index].slot == slot);
  --size_;
  if (index == size_) return;
  Place(index, heap_[size_]);
  Fix(index);
}

Selection HeapSelector::Select(absl::BitGenRef /*rng*/) {
  assert(size_ > 0);
  return Selection{heap_[0].slot, 1.0};
}

}  // namespace shoal
