// ItemSelector: the strategy a replay table uses to pick an item, either to
// sample it (the table's sampler) or to evict it (the table's remover).
//
// The table stores items in dense slots 0..capacity-1 and tells its selectors
// which slots hold items and with what priority. Selectors only know slots;
// they never see the items.
//
// Not thread-safe: the owning table calls every method under its own mutex,
// so implementations need no synchronization of their own.
//
// Implementations and their costs (n = size(), memory is per slot of
// capacity, allocated at creation but touched only as slots are used):
//   uniform      O(1) insert/update/delete/select                  8 bytes
//   prioritized  O(log n) insert/update/delete/select             24 bytes
//   fifo, lifo   O(1) insert/update/delete/select                  8 bytes
//   min_heap,    O(log n) insert/update/delete, O(1) select       20 bytes
//   max_heap
#ifndef SHOAL_REPLAY_SELECTORS_ITEM_SELECTOR_H_
#define SHOAL_REPLAY_SELECTORS_ITEM_SELECTOR_H_

#include <cstdint>
#include <memory>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "common/config.h"

namespace shoal {

// A slot picked by Select, and the probability it had of being picked.
struct Selection {
  uint32_t slot;
  double probability;
};

class ItemSelector {
 public:
  virtual ~ItemSelector() = default;

  // Adds `slot` with `priority`.
  // REQUIRES: slot < capacity, slot not present; priority >= 0 and finite
  // (the table validates).
  virtual void Insert(uint32_t slot, double priority) = 0;

  // Sets the priority of `slot`. Selectors that ignore priorities do nothing.
  // REQUIRES: slot present; priority >= 0 and finite.
  virtual void Update(uint32_t slot, double priority) = 0;

  // Removes `slot`.
  // REQUIRES: slot present.
  virtual void Delete(uint32_t slot) = 0;

  // Picks a present slot. Deterministic selectors (fifo, lifo, heaps) return
  // probability 1.
  // REQUIRES: size() > 0.
  virtual Selection Select(absl::BitGenRef rng) = 0;

  // Picks `out.size()` slots independently (with replacement), as that many
  // Select calls would. Selectors whose picks chase pointers override it to
  // overlap the memory reads of the whole batch.
  // REQUIRES: size() > 0.
  virtual void SelectBatch(absl::BitGenRef rng, absl::Span<Selection> out) {
    for (Selection& selection : out) selection = Select(rng);
  }

  // Removes every slot. O(n) or better.
  virtual void Clear() = 0;

  // Number of present slots.
  virtual int64_t size() const = 0;

  // "uniform", "prioritized", "fifo", "lifo", "min_heap" or "max_heap".
  virtual absl::string_view name() const = 0;

  // Sum of priority^exponent over present slots for prioritized; 0 otherwise.
  virtual double TotalPriority() const { return 0.0; }
};

// SelectorKind (kUniform, kPrioritized, kFifo, kLifo, kMinHeap, kMaxHeap)
// is defined in common/config.h, next to the config that names it.

// The kind named by `name` ("uniform", "prioritized", "fifo", "lifo",
// "min_heap", "max_heap"); INVALID_ARGUMENT listing the valid names otherwise.
absl::StatusOr<SelectorKind> SelectorKindFromName(absl::string_view name);

// The name of `kind`, as accepted by SelectorKindFromName.
absl::string_view SelectorKindName(SelectorKind kind);

// Largest capacity a selector accepts: slots and positions are uint32 and
// the top values are reserved as sentinels.
inline constexpr uint32_t kMaxSelectorCapacity = 0xFFFFFFF0u;

// A selector of `kind` for slots 0..capacity-1. `priority_exponent` is used
// by prioritized only (others ignore it).
// INVALID_ARGUMENT unless 1 <= capacity <= kMaxSelectorCapacity and
// priority_exponent is finite and >= 0.
absl::StatusOr<std::unique_ptr<ItemSelector>> MakeSelector(
    SelectorKind kind, uint32_t capacity, double priority_exponent = 1.0);

}  // namespace shoal

#endif  // SHOAL_REPLAY_SELECTORS_ITEM_SELECTOR_H_
