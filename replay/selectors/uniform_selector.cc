#include "replay/selectors/uniform_selector.h"

#include <cassert>

#include "absl/random/distributions.h"

namespace shoal {

UniformSelector::UniformSelector(uint32_t capacity)
    : capacity_(capacity),
      slots_(new uint32_t[capacity]),
      position_(new uint32_t[capacity]) {}

void UniformSelector::Insert(uint32_t slot, double /*priority*/) {
  assert(slot < capacity_);
  assert(size_ < capacity_);
  slots_[size_] = slot;
  position_[slot] = size_;
  ++size_;
}

void UniformSelector::Update(uint32_t slot, double /*priority*/) {
  assert(slot < capacity_);
  assert(position_[slot] < size_ && slots_[position_[slot]] == slot);
}

void UniformSelector::Delete(uint32_t slot) {
  assert(slot < capacity_);
  const uint32_t pos = position_[slot];
  assert(pos < size_ && slots_[pos] == slot);
  const uint32_t last = slots_[size_ - 1];
  slots_[pos] = last;
  position_[last] = pos;
  --size_;
}

Selection UniformSelector::Select(absl::BitGenRef rng) {
  assert(size_ > 0);
  const uint32_t pos = absl::Uniform<uint32_t>(rng, 0, size_);
  return Selection{slots_[pos], 1.0 / size_};
}

}  // namespace shoal
