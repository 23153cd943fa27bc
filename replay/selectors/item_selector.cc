#include "replay/selectors/item_selector.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "replay/selectors/heap_selector.h"
#include "replay/selectors/insertion_order_selector.h"
#include "replay/selectors/prioritized_selector.h"
#include "replay/selectors/uniform_selector.h"

namespace shoal {
namespace {

struct KindName {
  SelectorKind kind;
  absl::string_view name;
};

constexpr KindName kKindNames[] = {
    {SelectorKind::kUniform, "uniform"},
    {SelectorKind::kPrioritized, "prioritized"},
    {SelectorKind::kFifo, "fifo"},
    {SelectorKind::kLifo, "lifo"},
    {SelectorKind::kMinHeap, "min_heap"},
    {SelectorKind::kMaxHeap, "max_heap"},
};

}  // namespace

absl::StatusOr<SelectorKind> SelectorKindFromName(absl::string_view name) {
  for (const KindName& entry : kKindNames) {
    if (entry.name == name) return entry.kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown selector \"", name,
      "\"; valid selectors are uniform, prioritized, fifo, lifo, min_heap, "
      "max_heap"));
}

absl::string_view SelectorKindName(SelectorKind kind) {
  for (const KindName& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<ItemSelector>> MakeSelector(
    SelectorKind kind, uint32_t capacity, double priority_exponent) {
  if (capacity < 1 || capacity > kMaxSelectorCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector capacity must be in [1, ", kMaxSelectorCapacity,
                     "], got ", capacity));
  }
  switch (kind) {
    case SelectorKind::kUniform:
      return std::make_unique<UniformSelector>(capacity);
    case SelectorKind::kPrioritized:
      if (!std::isfinite(priority_exponent) || priority_exponent < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("priority_exponent must be finite and >= 0, got ",
                         priority_exponent));
      }
      return std::make_unique<PrioritizedSelector>(capacity, priority_exponent);
    case SelectorKind::kFifo:
      return std::make_unique<InsertionOrderSelector>(
          capacity, InsertionOrderSelector::Order::kFifo);
    case SelectorKind::kLifo:
      return std::make_unique<InsertionOrderSelector>(
          capacity, InsertionOrderSelector::Order::kLifo);
    case SelectorKind::kMinHeap:
      return std::make_unique<HeapSelector>(capacity,
                                            HeapSelector::Order::kMin);
    case SelectorKind::kMaxHeap:
      return std::make_unique<HeapSelector>(capacity,
                                            HeapSelector::Order::kMax);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown selector kind ", static_cast<int>(kind)));
}

}  // namespace shoal
