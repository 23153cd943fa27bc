#include "common/thread_pool.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

TEST(ThreadPoolTest, RunsEveryTaskOnce) {
  std::atomic<int> sum{0};
  {
    ThreadPool pool("test", /*num_threads=*/4, /*max_queued=*/8);
    for (int i = 1; i <= 1000; ++i) {
      pool.Schedule([&sum, i] { sum += i; });
    }
  }  // the destructor drains the queue
  EXPECT_EQ(sum.load(), 500500);
}

// A full queue makes Schedule wait rather than grow: with one worker held
// busy and max_queued = 2, the third Schedule blocks until the worker is
// released.
TEST(ThreadPoolTest, ScheduleWaitsWhileTheQueueIsFull) {
  ThreadPool pool("test", /*num_threads=*/1, /*max_queued=*/2);
  absl::Notification release;
  absl::Notification started;
  pool.Schedule([&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  pool.Schedule([] {});
  pool.Schedule([] {});
  std::atomic<bool> third_queued{false};
  std::thread producer([&] {
    pool.Schedule([] {});
    third_queued = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(third_queued.load());
  release.Notify();
  producer.join();
  EXPECT_TRUE(third_queued.load());
}

}  // namespace
}  // namespace shoal
