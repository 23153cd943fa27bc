// Makes Debian's Abseil synchronisation visible to ThreadSanitizer.
//
// libabsl_synchronization.so is not built with -fsanitize=thread, so the
// TSan annotations inside absl::Mutex (ABSL_TSAN_MUTEX_*) are compiled out:
// TSan never learns that an Unlock happens before the next Lock, and it
// reports every correctly locked access as a data race. This file, linked
// into every executable of a SHOAL_SANITIZE=thread build (see
// cmake/ShoalTargets.cmake), interposes the out-of-line functions of
// absl::Mutex, absl::CondVar and absl::Notification: each definition below
// tells TSan what the call does, through the same __tsan_mutex_* calls an
// instrumented Abseil makes, and calls the real function, found with
// dlsym(RTLD_NEXT). The executable exports these symbols
// (absl_tsan_shim.dynlist), so calls from shared libraries (libgrpc's
// absl::Mutex, Abseil's own Notification) land here too.
//
// What TSan sees:
// - Lock / ReaderLock / TryLock / LockWhen*: a (read) lock; Unlock /
//   ReaderUnlock: an unlock (release). Accesses inside the real call, e.g.
//   Condition functions Abseil evaluates while it holds the lock, are
//   ignored, as in an instrumented Abseil.
// - Await* and CondVar::Wait*: an unlock followed by a lock of the mutex.
//   They assume the mutex is held in writer mode (shoal takes no reader
//   locks).
// - Notification::Notify releases, WaitForNotification* acquires, on the
//   address of the notified flag: the inline HasBeenNotified(), compiled
//   into our own instrumented code, acquire-loads that flag, so TSan pairs
//   the two as well.
// - CondVar::Signal / SignalAll need nothing: the happens-before between
//   a signaller and a waiter runs through the mutex.
// - Abseil's functions call each other (WaitWithTimeout calls
//   WaitWithDeadline); only the outermost call on a thread annotates.
// Everything else (inline functions in the headers: MutexLock, WriterLock,
// HasBeenNotified, ...) is compiled into our instrumented code already.
//
// tests/tsan/tsan.cmake proves it: a correctly locked counter passes with
// the shim and is reported without it; a racy one is reported with it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/options.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

static_assert(ABSL_OPTION_USE_INLINE_NAMESPACE == 1,
              "the mangled names below assume Abseil's inline namespace");

namespace {

#define SHOAL_TSAN_STR2(x) #x
#define SHOAL_TSAN_STR(x) SHOAL_TSAN_STR2(x)

// The real Abseil function `_Z<qual>4absl<inline ns><rest>`, e.g. qual "N",
// rest "5Mutex4LockEv" for absl::Mutex::Lock(). Aborts when it is missing
// (another Abseil version: update the names here).
void* Lookup(const char* qual, const char* rest) {
  const char* ns = SHOAL_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string("_Z") + qual + "4absl" +
                           std::to_string(std::strlen(ns)) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_tsan_shim: %s not found: %s\n", name.c_str(),
                 dlerror());
    std::abort();
  }
  return fn;
}

// The real function as a `Fn`, looked up once.
#define SHOAL_REAL(Fn, qual, rest)                                             \
  ([] {                                                                        \
    using RealFn = Fn;                                                         \
    static const RealFn fn = reinterpret_cast<RealFn>(Lookup((qual), (rest))); \
    return fn;                                                                 \
  }())

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kTryFailed = __tsan_mutex_try_lock_failed;

// Abseil's functions call each other (CondVar::WaitWithTimeout calls
// WaitWithDeadline, Notification calls LockWhen and Unlock), and those
// calls land here too: only the outermost call on a thread annotates.
thread_local int shim_depth = 0;

class Outermost {
 public:
  Outermost() : outermost_(shim_depth++ == 0) {}
  ~Outermost() { --shim_depth; }
  explicit operator bool() const { return outermost_; }

 private:
  const bool outermost_;
};

// Each helper below brackets the real call `call` with TSan's pre and post
// annotations; between the two, TSan ignores the thread's memory accesses:
// Abseil's own, and those of Condition functions that Abseil evaluates while
// it holds the lock (as an instrumented Abseil does).

// `call` locks `mu` (Lock, LockWhen*; `flags` kRead for the reader
// versions).
template <typename Call>
auto Locking(Mutex* mu, unsigned flags, Call call) {
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(mu, flags);
  auto result = call();
  if (outermost) __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// `call` may lock `mu` and returns whether it did (TryLock).
template <typename Call>
bool TryLocking(Mutex* mu, unsigned flags, Call call) {
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(mu, flags | kTry);
  const bool locked = call();
  if (outermost) {
    __tsan_mutex_post_lock(mu, flags | kTry | (locked ? 0 : kTryFailed), 0);
  }
  return locked;
}

// `call` unlocks `mu` (Unlock, ReaderUnlock).
template <typename Call>
void Unlocking(Mutex* mu, unsigned flags, Call call) {
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(mu, flags);
  call();
  if (outermost) __tsan_mutex_post_unlock(mu, flags);
}

// `call` unlocks `mu` and locks it again (Await*, CondVar::Wait*).
template <typename Call>
auto Relocking(Mutex* mu, Call call) {
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(mu, 0);
  auto result = call();
  if (outermost) {
    __tsan_mutex_post_unlock(mu, 0);
    __tsan_mutex_pre_lock(mu, 0);
    __tsan_mutex_post_lock(mu, 0, 0);
  }
  return result;
}

}  // namespace

// The definitions replace Abseil's; they only annotate and forward. (No
// thread-safety analysis: clang cannot see that the forwarded call locks.)

void Mutex::Lock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Locking(this, 0, [this] {
    SHOAL_REAL(void (*)(Mutex*), "N", "5Mutex4LockEv")(this);
    return 0;
  });
}

void Mutex::ReaderLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Locking(this, kRead, [this] {
    SHOAL_REAL(void (*)(Mutex*), "N", "5Mutex10ReaderLockEv")(this);
    return 0;
  });
}

bool Mutex::TryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return TryLocking(this, 0, [this] {
    return SHOAL_REAL(bool (*)(Mutex*), "N", "5Mutex7TryLockEv")(this);
  });
}

bool Mutex::ReaderTryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return TryLocking(this, kRead, [this] {
    return SHOAL_REAL(bool (*)(Mutex*), "N", "5Mutex13ReaderTryLockEv")(this);
  });
}

void Mutex::Unlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Unlocking(this, 0, [this] {
    SHOAL_REAL(void (*)(Mutex*), "N", "5Mutex6UnlockEv")(this);
  });
}

void Mutex::ReaderUnlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Unlocking(this, kRead, [this] {
    SHOAL_REAL(void (*)(Mutex*), "N", "5Mutex12ReaderUnlockEv")(this);
  });
}

void Mutex::LockWhen(const Condition& cond) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  using Fn = void (*)(Mutex*, const Condition&);
  Locking(this, 0, [&] {
    SHOAL_REAL(Fn, "N", "5Mutex8LockWhenERKNS0_9ConditionE")(this, cond);
    return 0;
  });
}

void Mutex::ReaderLockWhen(const Condition& cond)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  using Fn = void (*)(Mutex*, const Condition&);
  Locking(this, kRead, [&] {
    SHOAL_REAL(Fn, "N", "5Mutex14ReaderLockWhenERKNS0_9ConditionE")
    (this, cond);
    return 0;
  });
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  using Fn = bool (*)(Mutex*, const Condition&, Duration);
  return Locking(this, 0, [&] {
    return SHOAL_REAL(
        Fn, "N", "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE")(
        this, cond, timeout);
  });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond,
                                 Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  using Fn = bool (*)(Mutex*, const Condition&, Time);
  return Locking(this, 0, [&] {
    return SHOAL_REAL(
        Fn, "N", "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE")(
        this, cond, deadline);
  });
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  using Fn = bool (*)(Mutex*, const Condition&, Duration);
  return Locking(this, kRead, [&] {
    return SHOAL_REAL(Fn, "N",
                      "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_"
                      "8DurationE")(this, cond, timeout);
  });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  using Fn = bool (*)(Mutex*, const Condition&, Time);
  return Locking(this, kRead, [&] {
    return SHOAL_REAL(Fn, "N",
                      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_"
                      "4TimeE")(this, cond, deadline);
  });
}

void Mutex::Await(const Condition& cond) {
  using Fn = void (*)(Mutex*, const Condition&);
  Relocking(this, [&] {
    SHOAL_REAL(Fn, "N", "5Mutex5AwaitERKNS0_9ConditionE")(this, cond);
    return 0;
  });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  using Fn = bool (*)(Mutex*, const Condition&, Duration);
  return Relocking(this, [&] {
    return SHOAL_REAL(
        Fn, "N", "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE")(
        this, cond, timeout);
  });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  using Fn = bool (*)(Mutex*, const Condition&, Time);
  return Relocking(this, [&] {
    return SHOAL_REAL(Fn, "N",
                      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE")(
        this, cond, deadline);
  });
}

Mutex::~Mutex() {
  SHOAL_REAL(void (*)(Mutex*), "N", "5MutexD1Ev")(this);
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
}

void CondVar::Wait(Mutex* mu) {
  using Fn = void (*)(CondVar*, Mutex*);
  Relocking(mu, [&] {
    SHOAL_REAL(Fn, "N", "7CondVar4WaitEPNS0_5MutexE")(this, mu);
    return 0;
  });
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  using Fn = bool (*)(CondVar*, Mutex*, Duration);
  return Relocking(mu, [&] {
    return SHOAL_REAL(Fn, "N",
                      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE")(
        this, mu, timeout);
  });
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  using Fn = bool (*)(CondVar*, Mutex*, Time);
  return Relocking(mu, [&] {
    return SHOAL_REAL(
        Fn, "N", "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE")(this, mu,
                                                                      deadline);
  });
}

void Notification::Notify() {
  const Outermost outermost;
  if (outermost) __tsan_release(&notified_yet_);
  SHOAL_REAL(void (*)(Notification*), "N", "12Notification6NotifyEv")(this);
}

void Notification::WaitForNotification() const {
  const Outermost outermost;
  SHOAL_REAL(void (*)(const Notification*), "NK",
             "12Notification19WaitForNotificationEv")
  (this);
  if (outermost) __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  using Fn = bool (*)(const Notification*, Duration);
  const Outermost outermost;
  const bool notified = SHOAL_REAL(
      Fn, "NK",
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE")(this,
                                                                       timeout);
  if (outermost && notified) {
    __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  }
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  using Fn = bool (*)(const Notification*, Time);
  const Outermost outermost;
  const bool notified = SHOAL_REAL(
      Fn, "NK", "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE")(
      this, deadline);
  if (outermost && notified) {
    __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  }
  return notified;
}
