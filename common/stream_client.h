// The parts every reconnecting gRPC client of shoal shares (ParameterWatcher,
// EpisodeReporter, ReplayWriter, ShardedSampler):
//
// - CallTracker counts the client reactors an owner started and lets the
//   owner wait until every one is deleted, so that no reaction touches the
//   owner after it is gone.
// - TrackedContext is the grpc::ClientContext a tracked reactor uses. It
//   holds the tracker's handle and releases it only after the context (and
//   its reference to the channel) is destroyed: the owner's channel must
//   never lose its last reference on one of gRPC's callback threads, or
//   gRPC 1.51 joins that very thread, fails, and frees its completion queue
//   twice (grpc/grpc#32584; ASan caught it in replay_writer_test).
// - ReconnectSchedule decides when the next stream (or retried call) may
//   start: exponential backoff with jitter (common/backoff.h) after each
//   failure, reset by progress, with StreamClientStats.
//
//   // Owner:                         // Reactor (deletes itself in OnDone):
//   CallTracker calls_;               TrackedContext context_;
//   auto* call = new WatchCall(       WatchCall(Owner* o, CallTracker::Handle
//   h)
//       this, calls_.Start());            : owner_(o), context_(std::move(h))
//       {}
//   ...                               void OnDone(const grpc::Status& s)
//   override { Stop(): cancel, then                owner_->OnCallDone(s);
//   calls_.WaitUntilNone();             delete this;  // releases the handle
//                                     }
#ifndef SHOAL_COMMON_STREAM_CLIENT_H_
#define SHOAL_COMMON_STREAM_CLIENT_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"

#include "common/backoff.h"

namespace shoal {

// Counts live reactors. Thread-safe. The owner must call WaitUntilNone
// before it destroys anything a reaction may touch (the destructor waits
// too, as a last resort).
class CallTracker {
 public:
  // Proof that one reactor is alive; the count drops when it is destroyed.
  // Move-only. A default-constructed Handle counts nothing.
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& other) noexcept : tracker_(other.tracker_) {
      other.tracker_ = nullptr;
    }
    Handle& operator=(Handle&& other) noexcept;
    ~Handle() { Reset(); }

    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    // Releases the count now; the Handle then counts nothing.
    void Reset();

   private:
    friend class CallTracker;
    explicit Handle(CallTracker* tracker) : tracker_(tracker) {}

    CallTracker* tracker_ = nullptr;
  };

  CallTracker() = default;
  // WaitUntilNone().
  ~CallTracker();

  CallTracker(const CallTracker&) = delete;
  CallTracker& operator=(const CallTracker&) = delete;

  // Counts one more live reactor until the returned Handle is destroyed.
  Handle Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until every Handle from Start is destroyed.
  void WaitUntilNone() ABSL_LOCKS_EXCLUDED(mu_);

  // Handles from Start not yet destroyed.
  int live() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Release() ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  absl::CondVar none_;  // live_ reached 0
  int live_ ABSL_GUARDED_BY(mu_) = 0;
};

// A reactor's grpc::ClientContext plus its CallTracker::Handle, destroyed
// in the order grpc/grpc#32584 needs (file comment): use it as the
// reactor's context member and delete the reactor last thing in OnDone.
// Thread-compatible, like grpc::ClientContext (TryCancel is thread-safe).
class TrackedContext {
 public:
  explicit TrackedContext(CallTracker::Handle handle)
      : handle_(std::move(handle)) {}

  grpc::ClientContext* get() { return &context_; }
  grpc::ClientContext* operator->() { return &context_; }

 private:
  // Members are destroyed in reverse order: context_ (and its channel
  // reference) first, then handle_ lets the owner go on.
  CallTracker::Handle handle_;
  grpc::ClientContext context_;
};

struct StreamClientStats {
  // Streams (or calls) started.
  int64_t attempts = 0;
  // Ended with an error.
  int64_t failures = 0;
  // That error's status, "" if none.
  std::string last_error;
};

// When to start the next stream. Thread-compatible: the owner guards it
// with its own mutex (one schedule per reconnecting loop).
class ReconnectSchedule {
 public:
  // REQUIRES: Backoff::Validate(options).ok().
  ReconnectSchedule(const BackoffOptions& options, uint64_t seed)
      : backoff_(options, seed) {}

  // Whether a new stream may start at `now`. O(1).
  bool Due(absl::Time now) const { return now >= next_attempt_; }
  // When it may (InfinitePast at first and after RetryNow).
  absl::Time next_attempt() const { return next_attempt_; }
  // Since when no stream made progress: the first failure after the last
  // progress; InfiniteFuture while healthy.
  absl::Time down_since() const { return down_since_; }

  // Counts a stream started now. Returns true for every one after the
  // first (a reconnect).
  bool Started() { return stats_.attempts++ > 0; }
  // The stream made progress: the next failure waits the initial delay
  // again, and down_since is cleared.
  void Progressed() {
    backoff_.Reset();
    down_since_ = absl::InfiniteFuture();
  }
  // The stream (or call) ended at `now`: the next starts after the next
  // backoff delay (call Progressed first if it made progress). A non-OK
  // `why` counts as a failure and is recorded.
  void Ended(absl::Time now, const absl::Status& why);
  // The next stream may start at once (e.g. after switching servers).
  void RetryNow() { next_attempt_ = absl::InfinitePast(); }

  const StreamClientStats& stats() const { return stats_; }

 private:
  Backoff backoff_;
  absl::Time next_attempt_ = absl::InfinitePast();
  absl::Time down_since_ = absl::InfiniteFuture();
  StreamClientStats stats_;
};

}  // namespace shoal

#endif  // SHOAL_COMMON_STREAM_CLIENT_H_
