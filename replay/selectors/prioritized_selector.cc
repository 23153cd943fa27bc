#include "replay/selectors/prioritized_selector.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>

#include "absl/random/distributions.h"

namespace shoal {
namespace {

// A total the descent can use: positive and finite. Table refuses the
// weights that could make it Inf (MaxPriorityWeight), but a selector never
// trusts that: an Inf total would make every descent go right.
bool UsableTotal(double total) { return total > 0.0 && std::isfinite(total); }

// calloc, so that the zeroed tree costs no page until it is written; aborts
// on exhaustion like operator new does without exceptions.
double* AllocateZeroedTree(uint32_t capacity) {
  void* p = std::calloc(2 * static_cast<size_t>(capacity), sizeof(double));
  if (p == nullptr) std::abort();
  return static_cast<double*>(p);
}

}  // namespace

PrioritizedSelector::PrioritizedSelector(uint32_t capacity, double exponent)
    : capacity_(capacity),
      exponent_(exponent),
      tree_(AllocateZeroedTree(capacity)),
      slots_(new uint32_t[capacity]),
      position_(new uint32_t[capacity]) {}

double PrioritizedSelector::Weight(double priority) const {
  if (priority == 0.0) return 0.0;
  if (exponent_ == 1.0) return priority;
  return std::pow(priority, exponent_);
}

uint32_t PrioritizedSelector::PresentPosition(size_t leaf) const {
  const size_t position = leaf - capacity_;
  assert(position < size_);
  // Unreachable with a usable total (see Select); never read past the
  // present slots if it were not.
  return position < size_ ? static_cast<uint32_t>(position) : size_ - 1;
}

void PrioritizedSelector::SetLeaf(uint32_t position, double weight) {
  double* tree = tree_.get();
  size_t node = static_cast<size_t>(capacity_) + position;
  tree[node] = weight;
  // Recompute, never adjust: see "Floating-point drift" in the header.
  while (node > 1) {
    node >>= 1;
    tree[node] = tree[2 * node] + tree[2 * node + 1];
  }
}

void PrioritizedSelector::Insert(uint32_t slot, double priority) {
  assert(slot < capacity_);
  assert(size_ < capacity_);
  assert(priority >= 0 && std::isfinite(priority));
  slots_[size_] = slot;
  position_[slot] = size_;
  SetLeaf(size_, Weight(priority));
  ++size_;
}

void PrioritizedSelector::Update(uint32_t slot, double priority) {
  assert(slot < capacity_);
  assert(priority >= 0 && std::isfinite(priority));
  const uint32_t position = position_[slot];
  assert(position < size_ && slots_[position] == slot);
  SetLeaf(position, Weight(priority));
}

void PrioritizedSelector::Delete(uint32_t slot) {
  assert(slot < capacity_);
  const uint32_t position = position_[slot];
  assert(position < size_ && slots_[position] == slot);
  const uint32_t last_position = size_ - 1;
  if (position != last_position) {
    const uint32_t last_slot = slots_[last_position];
    slots_[position] = last_slot;
    position_[last_slot] = position;
    SetLeaf(position, tree_[static_cast<size_t>(capacity_) + last_position]);
  }
  SetLeaf(last_position, 0.0);
  --size_;
}

Selection PrioritizedSelector::Select(absl::BitGenRef rng) {
  assert(size_ > 0);
  const double* tree = tree_.get();
  const double total = tree[1];
  if (!UsableTotal(total)) {
    const uint32_t position = absl::Uniform<uint32_t>(rng, 0, size_);
    return Selection{slots_[position], 1.0 / size_};
  }
  // Invariant: 0 <= target < tree[node]. Going left needs target < left;
  // going right then needs right > 0, which holds because
  // target >= left and target < fl(left + right). The clamp keeps the
  // invariant when the subtraction rounds up, so a leaf of weight 0 is
  // never reached.
  double target = absl::Uniform<double>(rng, 0.0, total);
  size_t node = 1;
  while (node < capacity_) {
    const double left = tree[2 * node];
    if (target < left) {
      node = 2 * node;
    } else {
      node = 2 * node + 1;
      target = std::min(target - left, std::nextafter(tree[node], 0.0));
    }
  }
  const uint32_t position = PresentPosition(node);
  return Selection{slots_[position], tree[capacity_ + position] / total};
}

void PrioritizedSelector::SelectBatch(absl::BitGenRef rng,
                                      absl::Span<Selection> out) {
  assert(size_ > 0);
  const double* tree = tree_.get();
  const double total = tree[1];
  if (!UsableTotal(total)) {
    ItemSelector::SelectBatch(rng, out);
    return;
  }
  constexpr size_t kChunk = 64;
  size_t nodes[kChunk];
  double targets[kChunk];
  for (size_t begin = 0; begin < out.size(); begin += kChunk) {
    const size_t n = std::min(kChunk, out.size() - begin);
    for (size_t i = 0; i < n; ++i) {
      nodes[i] = 1;
      targets[i] = absl::Uniform<double>(rng, 0.0, total);
    }
    // Leaves sit at one or two depths; a pick that reached a leaf waits.
    bool descending = true;
    while (descending) {
      descending = false;
      for (size_t i = 0; i < n; ++i) {
        if (nodes[i] < capacity_) __builtin_prefetch(&tree[2 * nodes[i]]);
      }
      for (size_t i = 0; i < n; ++i) {
        size_t node = nodes[i];
        if (node >= capacity_) continue;
        // The same step and invariant as Select.
        const double left = tree[2 * node];
        if (targets[i] < left) {
          node = 2 * node;
        } else {
          node = 2 * node + 1;
          targets[i] =
              std::min(targets[i] - left, std::nextafter(tree[node], 0.0));
        }
        nodes[i] = node;
        descending |= node < capacity_;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t position = PresentPosition(nodes[i]);
      out[begin + i] =
          Selection{slots_[position], tree[capacity_ + position] / total};
    }
  }
}

void PrioritizedSelector::Clear() {
  for (uint32_t position = 0; position < size_; ++position) {
    SetLeaf(position, 0.0);
  }
  size_ = 0;
}

}  // namespace shoal
