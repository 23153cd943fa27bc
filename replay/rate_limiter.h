// RateLimiter: decides when a replay table may accept an insert and when it
// may serve a sample, by Reverb's cursor rule. With
//   size = inserts - deletes,  diff(i, s) = i * samples_per_insert - s:
// - n inserts are allowed iff size + n <= min_size_to_sample (the table may
//   always fill up to the min size) or diff(inserts + n, samples) <= max_diff;
// - n samples are allowed iff size >= min_size_to_sample and
//   diff(inserts, samples + n) >= min_diff.
//
// Thread-safety: it has no mutex of its own. Every method takes the owning
// table's mutex `mu` and requires it held, so the limiter's state is
// protected by the table's lock; the Await methods release `mu` while they
// wait, like absl::CondVar::Wait. Always pass the same mutex.
#ifndef SHOAL_REPLAY_RATE_LIMITER_H_
#define SHOAL_REPLAY_RATE_LIMITER_H_

#include <cfloat>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shoal/v1/replay.pb.h"

namespace shoal {

struct RateLimiterOptions {
  // Samples each insert pays for. > 0.
  double samples_per_insert = 1.0;
  // Samples wait until the table holds at least this many items. >= 1.
  int64_t min_size_to_sample = 1;
  // Bounds on inserts * samples_per_insert - samples. min_diff <= max_diff.
  double min_diff = -DBL_MAX;
  double max_diff = DBL_MAX;

  // Reverb's presets.
  // Samples wait for `min_size_to_sample` items; nothing else is limited.
  static RateLimiterOptions MinSize(int64_t min_size_to_sample);
  // Keeps samples/inserts near `samples_per_insert` once `min_size_to_sample`
  // items are in: diff stays within min_size_to_sample * samples_per_insert
  // +- error_buffer.
  static RateLimiterOptions SampleToInsertRatio(double samples_per_insert,
                                                int64_t min_size_to_sample,
                                                double error_buffer);
  // Each item is sampled exactly once, in a queue of at most `size` items
  // (used with a fifo sampler that deletes on sample).
  static RateLimiterOptions Queue(int64_t size);
};

// The cursor: what a checkpoint saves and restores.
struct RateLimiterCursor {
  int64_t inserts = 0;
  int64_t samples = 0;
  int64_t deletes = 0;
};

// A snapshot of the limiter for tests and logs (the wire form is
// v1::RateLimiterInfo, see FillInfo).
struct RateLimiterState {
  double samples_per_insert;
  int64_t min_size_to_sample;
  double min_diff;
  double max_diff;
  int64_t inserts;
  int64_t samples;
  int64_t deletes;
  // Callers waiting in AwaitCanInsert / AwaitCanSample right now.
  int64_t blocked_inserts;
  int64_t blocked_samples;
};

class RateLimiter {
 public:
  // INVALID_ARGUMENT naming the field when `options` are out of range.
  static absl::Status Validate(const RateLimiterOptions& options);

  // REQUIRES: Validate(options).ok().
  explicit RateLimiter(const RateLimiterOptions& options);

  using Cursor = RateLimiterCursor;

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Whether `n` more inserts / samples are allowed now. O(1).
  // REQUIRES: n >= 1.
  bool CanInsert(absl::Mutex* mu, int64_t n = 1) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  bool CanSample(absl::Mutex* mu, int64_t n = 1) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // The most inserts, up to `at_most`, allowed now together (the largest n
  // with CanInsert(n)); 0 when none is. O(log at_most).
  int64_t InsertRoom(absl::Mutex* mu, int64_t at_most) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Waits, releasing `mu`, until one insert / sample is allowed: OK. Returns
  // DEADLINE_EXCEEDED saying what blocked it once `deadline` passes, and
  // CANCELLED once Cancel() has been called (even if allowed). A past
  // deadline still returns OK when allowed now. The caller records the
  // operation with Insert()/Sample() before releasing `mu`.
  absl::Status AwaitCanInsert(absl::Mutex* mu, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status AwaitCanSample(absl::Mutex* mu, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Record `n` inserts, samples or deletes (an item left the table, for any
  // reason) and wake the Await callers this may unblock. They do not check
  // CanInsert/CanSample. O(1). (A table wakes its parked inserts itself,
  // asking InsertRoom; see InsertWaitQueue.)
  // REQUIRES: n >= 0; Delete: n <= size.
  void Insert(absl::Mutex* mu, int64_t n = 1) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Sample(absl::Mutex* mu, int64_t n = 1) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Delete(absl::Mutex* mu, int64_t n = 1) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Sets the counters to zero (the table was emptied) and wakes waiters.
  // Does not undo Cancel().
  void Reset(absl::Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Makes every current and future Await return CANCELLED (e.g. at
  // shutdown). Permanent.
  void Cancel(absl::Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  bool cancelled(absl::Mutex* mu) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // The counters, for checkpoints. set_cursor replaces them (waking
  // waiters); INVALID_ARGUMENT, changing nothing, unless 0 <= deletes <=
  // inserts and samples >= 0.
  Cursor cursor(absl::Mutex* mu) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status set_cursor(absl::Mutex* mu, const Cursor& cursor)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  RateLimiterState state(absl::Mutex* mu) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Writes options, cursor and blocked callers into `info`.
  void FillInfo(absl::Mutex* mu, v1::RateLimiterInfo* info) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

 private:
  // Signals the waiters that can now proceed.
  void StateChanged(absl::Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Why an insert / sample is blocked now, for DEADLINE_EXCEEDED.
  std::string InsertBlockedReason(absl::Mutex* mu) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  std::string SampleBlockedReason(absl::Mutex* mu) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Constant after construction.
  const RateLimiterOptions options_;

  // Protected by the owning table's mutex (the `mu` passed to every method);
  // it lives outside this class, so these cannot carry ABSL_GUARDED_BY.
  int64_t inserts_ = 0;
  int64_t samples_ = 0;
  int64_t deletes_ = 0;
  int64_t blocked_inserts_ = 0;
  int64_t blocked_samples_ = 0;
  bool cancelled_ = false;
  // Waited on with the table's mutex.
  absl::CondVar can_insert_cv_;
  absl::CondVar can_sample_cv_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_RATE_LIMITER_H_
