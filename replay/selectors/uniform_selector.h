// UniformSelector: picks each present slot with probability 1/size.
//
// A dense array of the present slots plus each slot's position in it; Delete
// moves the last slot into the hole. Memory: 8 bytes per slot of capacity
// (two uint32), allocated uninitialized so that pages are touched only as
// slots are used.
//
// Not thread-safe (see ItemSelector).
#ifndef SHOAL_REPLAY_SELECTORS_UNIFORM_SELECTOR_H_
#define SHOAL_REPLAY_SELECTORS_UNIFORM_SELECTOR_H_

#include <cstdint>
#include <memory>

#include "replay/selectors/item_selector.h"

namespace shoal {

class UniformSelector final : public ItemSelector {
 public:
  // REQUIRES: 1 <= capacity <= kMaxSelectorCapacity.
  explicit UniformSelector(uint32_t capacity);

  // O(1). The priority is ignored.
  void Insert(uint32_t slot, double priority) override;
  // O(1); does nothing.
  void Update(uint32_t slot, double priority) override;
  // O(1).
  void Delete(uint32_t slot) override;
  // O(1). probability = 1 / size().
  Selection Select(absl::BitGenRef rng) override;
  // O(1).
  void Clear() override { size_ = 0; }

  int64_t size() const override { return size_; }
  absl::string_view name() const override { return "uniform"; }

 private:
  // Constant after construction.
  const uint32_t capacity_;
  // slots_[0..size_) are the present slots, in no particular order.
  std::unique_ptr<uint32_t[]> slots_;
  // position_[slot] is the index of a present slot in slots_; undefined for
  // absent slots.
  std::unique_ptr<uint32_t[]> position_;
  uint32_t size_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_SELECTORS_UNIFORM_SELECTOR_H_
