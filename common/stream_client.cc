#include "common/stream_client.h"

#include <utility>

namespace shoal {

CallTracker::Handle& CallTracker::Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Reset();
    tracker_ = other.tracker_;
    other.tracker_ = nullptr;
  }
  return *this;
}

void CallTracker::Handle::Reset() {
  CallTracker* const tracker = tracker_;
  tracker_ = nullptr;
  if (tracker != nullptr) tracker->Release();
}

CallTracker::~CallTracker() { WaitUntilNone(); }

CallTracker::Handle CallTracker::Start() {
  absl::MutexLock lock(&mu_);
  ++live_;
  return Handle(this);
}

void CallTracker::Release() {
  // The owner may destroy this tracker as soon as live_ reaches 0 and mu_
  // is free; nothing here touches `this` after the unlock.
  absl::MutexLock lock(&mu_);
  if (--live_ == 0) none_.SignalAll();
}

void CallTracker::WaitUntilNone() {
  absl::MutexLock lock(&mu_);
  while (live_ > 0) none_.Wait(&mu_);
}

int CallTracker::live() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

void ReconnectSchedule::Ended(absl::Time now, const absl::Status& why) {
  if (!why.ok()) {
    ++stats_.failures;
    stats_.last_error = why.ToString();
  }
  if (down_since_ == absl::InfiniteFuture()) down_since_ = now;
  next_attempt_ = now + backoff_.NextDelay();
}

}  // namespace shoal
