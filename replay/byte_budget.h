// ByteBudget: bytes held against a limit, for memory that clients pin (the
// sampled items a slow reader has not taken yet: one budget per sample
// stream and one per shard). Acquire waits until the bytes fit; an empty
// budget always admits one acquisition, so a single chunk larger than the
// limit still goes out alone.
//
//   if (!budget.Acquire(cap, deadline)) return;  // waited until deadline
//   ... encode at most cap bytes ...
//   budget.Release(cap - used);                  // keep what is used
//
// Thread-safe.
#ifndef SHOAL_REPLAY_BYTE_BUDGET_H_
#define SHOAL_REPLAY_BYTE_BUDGET_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace shoal {

class ByteBudget {
 public:
  // REQUIRES: limit >= 1.
  explicit ByteBudget(int64_t limit) : limit_(limit) {}

  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // Takes `bytes` once held + bytes <= limit, or at once when nothing is
  // held; waits until `deadline` (a past one: does not wait) for that.
  // Returns whether it took them.
  bool Acquire(int64_t bytes, absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // Takes `bytes` without waiting, past the limit if need be (an item
  // larger than what was acquired for it).
  void Take(int64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // Gives back bytes taken; wakes waiters.
  void Release(int64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t held() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t limit() const { return limit_; }

 private:
  bool Fits(int64_t bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return held_ == 0 || held_ + bytes <= limit_;
  }

  const int64_t limit_;
  mutable absl::Mutex mu_;
  int64_t held_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_BYTE_BUDGET_H_
