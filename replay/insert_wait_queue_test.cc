#include "replay/insert_wait_queue.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A waiter that only counts its wakes (the queue never calls it; the table
// does).
class CountingWaiter final : public InsertWaiter {
 public:
  void OnInsertReady() override { ++wakes; }
  int wakes = 0;
};

TEST(InsertWaitQueueTest, GrantsWakeWaitersInArrivalOrder) {
  InsertWaitQueue queue;
  CountingWaiter a, b, c;
  queue.Park(&a, /*front=*/false);
  queue.Park(&b, /*front=*/false);
  queue.Park(&c, /*front=*/false);
  EXPECT_EQ(queue.size(), 3);
  std::vector<InsertWaiter*> woken;
  queue.Grant(/*n=*/2, &woken);
  EXPECT_THAT(woken, ElementsAre(&a, &b));
  EXPECT_EQ(queue.size(), 1);
  EXPECT_EQ(queue.grants(), 2);
  woken.clear();
  queue.Grant(/*n=*/5, &woken);
  EXPECT_THAT(woken, ElementsAre(&c));
  EXPECT_EQ(queue.grants(), 3);
  EXPECT_TRUE(queue.empty());
  queue.Grant(/*n=*/1, &woken);  // nobody left
  EXPECT_EQ(queue.grants(), 3);
  EXPECT_TRUE(queue.TakeGrant(&a));
  EXPECT_FALSE(queue.TakeGrant(&a));
  EXPECT_TRUE(queue.TakeGrant(&b));
  EXPECT_TRUE(queue.TakeGrant(&c));
  EXPECT_EQ(queue.grants(), 0);
}

TEST(InsertWaitQueueTest, AWaiterParkedAtTheFrontIsWokenFirst) {
  InsertWaitQueue queue;
  CountingWaiter a, b;
  queue.Park(&a, /*front=*/false);
  queue.Park(&b, /*front=*/true);
  std::vector<InsertWaiter*> woken;
  queue.Grant(/*n=*/1, &woken);
  EXPECT_THAT(woken, ElementsAre(&b));
  queue.TakeGrant(&b);
  queue.Park(&b, /*front=*/true);  // held back again: it keeps its turn
  woken.clear();
  queue.TakeAll(&woken);
  EXPECT_THAT(woken, ElementsAre(&b, &a));
  EXPECT_EQ(queue.grants(), 0);  // TakeAll grants nothing
}

TEST(InsertWaitQueueTest, RemoveTakesOutOnlyParkedWaiters) {
  InsertWaitQueue queue;
  CountingWaiter a, b, c, d;
  for (CountingWaiter* w : {&a, &b, &c}) queue.Park(w, /*front=*/false);
  EXPECT_TRUE(queue.Remove(&b));  // from the middle
  EXPECT_FALSE(queue.Remove(&b));
  EXPECT_FALSE(queue.Remove(&d));  // never parked
  EXPECT_TRUE(queue.Remove(&c));   // the back
  queue.Park(&d, /*front=*/false);
  EXPECT_TRUE(queue.Remove(&a));  // the front
  std::vector<InsertWaiter*> woken;
  queue.TakeAll(&woken);
  EXPECT_THAT(woken, ElementsAre(&d));
  EXPECT_TRUE(queue.empty());
  woken.clear();
  queue.TakeAll(&woken);
  EXPECT_THAT(woken, IsEmpty());
  for (CountingWaiter* w : {&a, &b, &c, &d}) EXPECT_EQ(w->wakes, 0);
}

}  // namespace
}  // namespace shoal
