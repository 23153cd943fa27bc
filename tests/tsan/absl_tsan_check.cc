// Checks that TSan sees Abseil's synchronisation (absl_tsan_shim.cc):
//   absl_tsan_check locked   correct code: no report with the shim
//   absl_tsan_check racy     a real race: still reported with the shim
// tests/tsan/tsan.cmake runs both, and `locked` without the shim, where
// TSan must report a (false) race: the reason the shim exists.
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

constexpr int kRounds = 1000;

// Two threads add to a counter under one mutex, then hand data over by
// CondVar, Await, Notification and HasBeenNotified.
int Locked() {
  absl::Mutex mu;
  int counter = 0;
  auto add = [&] {
    for (int i = 0; i < kRounds; ++i) {
      absl::MutexLock lock(&mu);
      ++counter;
    }
  };
  std::thread a(add), b(add);
  a.join();
  b.join();

  int payload = 0;  // written before the handoff, read after it
  bool ready = false;
  absl::CondVar cv;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    while (!ready) cv.Wait(&mu);
    payload += 1;
  });
  {
    absl::MutexLock lock(&mu);
    payload = 41;
    ready = true;
    cv.Signal();
  }
  waiter.join();

  int other = 0;
  std::thread awaiter([&] {
    mu.LockWhen(absl::Condition(&ready));
    mu.Unlock();
    other = payload;
  });
  awaiter.join();

  int late = 0;
  absl::Notification written, polled;
  std::thread reader([&] {
    written.WaitForNotification();
    late += other;
    polled.Notify();
  });
  late = 1;
  written.Notify();
  while (!polled.HasBeenNotified()) std::this_thread::yield();
  late += 1;
  reader.join();
  return counter == 2 * kRounds && late == 44 ? 0 : 1;
}

// Each thread locks its own mutex: no happens-before between them.
int Racy() {
  absl::Mutex mu_a, mu_b;
  int counter = 0;
  std::thread a([&] {
    for (int i = 0; i < kRounds; ++i) {
      absl::MutexLock lock(&mu_a);
      ++counter;
    }
  });
  std::thread b([&] {
    for (int i = 0; i < kRounds; ++i) {
      absl::MutexLock lock(&mu_b);
      ++counter;
    }
  });
  a.join();
  b.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "locked") == 0) return Locked();
  if (argc == 2 && std::strcmp(argv[1], "racy") == 0) return Racy();
  std::fprintf(stderr, "usage: %s locked|racy\n", argv[0]);
  return 2;
}
