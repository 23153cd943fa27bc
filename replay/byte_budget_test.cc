#include "replay/byte_budget.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

TEST(ByteBudgetTest, AcquiresWithinTheLimitAndRefusesPastItAtTheDeadline) {
  ByteBudget budget(/*limit=*/100);
  EXPECT_TRUE(budget.Acquire(60, absl::InfinitePast()));
  EXPECT_TRUE(budget.Acquire(40, absl::InfinitePast()));
  EXPECT_FALSE(budget.Acquire(1, absl::Now() + absl::Milliseconds(20)));
  EXPECT_EQ(budget.held(), 100);
  budget.Release(40);
  EXPECT_TRUE(budget.Acquire(40, absl::InfinitePast()));
}

TEST(ByteBudgetTest, AnEmptyBudgetAdmitsOneAcquisitionOverTheLimit) {
  ByteBudget budget(/*limit=*/100);
  EXPECT_TRUE(budget.Acquire(500, absl::InfinitePast()));
  EXPECT_FALSE(budget.Acquire(1, absl::InfinitePast()));
  budget.Release(500);
  EXPECT_EQ(budget.held(), 0);
}

TEST(ByteBudgetTest, TakeGoesPastTheLimitWithoutWaiting) {
  ByteBudget budget(/*limit=*/10);
  budget.Take(25);
  EXPECT_EQ(budget.held(), 25);
  EXPECT_FALSE(budget.Acquire(1, absl::InfinitePast()));
}

// A waiter blocked on a full budget proceeds once another thread releases.
TEST(ByteBudgetTest, ReleaseWakesAWaiter) {
  ByteBudget budget(/*limit=*/10);
  ASSERT_TRUE(budget.Acquire(10, absl::InfinitePast()));
  absl::Notification acquired;
  std::thread waiter([&] {
    if (budget.Acquire(5, absl::Now() + absl::Seconds(30))) acquired.Notify();
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(acquired.HasBeenNotified());
  budget.Release(10);
  EXPECT_TRUE(acquired.WaitForNotificationWithTimeout(absl::Seconds(30)));
  waiter.join();
  EXPECT_EQ(budget.held(), 5);
}

}  // namespace
}  // namespace shoal
