#include "replay/rate_limiter.h"

#include <cfloat>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

// Small helpers that lock `mu` around one limiter call, so that the tests'
// lock scopes stay short and visible to -Wthread-safety.
void LockedInsert(absl::Mutex& mu, RateLimiter& limiter, int64_t n = 1) {
  absl::MutexLock lock(&mu);
  limiter.Insert(&mu, n);
}
RateLimiterState LockedState(absl::Mutex& mu, RateLimiter& limiter) {
  absl::MutexLock lock(&mu);
  return limiter.state(&mu);
}
RateLimiterCursor LockedCursor(absl::Mutex& mu, RateLimiter& limiter) {
  absl::MutexLock lock(&mu);
  return limiter.cursor(&mu);
}

// Polls (sleeping 1 ms) until `limiter` reports `inserts` blocked inserts
// and `samples` blocked samples that stay blocked: the limiter admits no
// insert (when any are blocked) and no sample (likewise). The count alone
// is not enough: a waiter already signalled still counts as blocked until
// it wakes and takes the mutex. After 10 s fails the test and cancels the
// limiter, so that the waiting threads return instead of hanging the test.
void WaitForBlocked(absl::Mutex& mu, RateLimiter& limiter, int64_t inserts,
                    int64_t samples) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    absl::MutexLock lock(&mu);
    const RateLimiterState state = limiter.state(&mu);
    if (state.blocked_inserts == inserts && state.blocked_samples == samples &&
        (inserts == 0 || !limiter.CanInsert(&mu)) &&
        (samples == 0 || !limiter.CanSample(&mu))) {
      return;
    }
    if (absl::Now() > deadline) {
      ADD_FAILURE() << "expected " << inserts << " blocked inserts and "
                    << samples << " blocked samples, got "
                    << state.blocked_inserts << " and "
                    << state.blocked_samples;
      limiter.Cancel(&mu);
      return;
    }
    mu.Unlock();
    absl::SleepFor(absl::Milliseconds(1));
    mu.Lock();
  }
}

TEST(RateLimiterTest, ValidateNamesTheOffendingField) {
  RateLimiterOptions options =
      RateLimiterOptions::MinSize(/*min_size_to_sample=*/1);
  EXPECT_TRUE(RateLimiter::Validate(options).ok());
  options.samples_per_insert = 0;
  EXPECT_THAT(std::string(RateLimiter::Validate(options).message()),
              HasSubstr("samples_per_insert must be finite and > 0, got 0"));
  options = RateLimiterOptions::MinSize(/*min_size_to_sample=*/0);
  EXPECT_THAT(std::string(RateLimiter::Validate(options).message()),
              HasSubstr("min_size_to_sample must be >= 1, got 0"));
  options = RateLimiterOptions::SampleToInsertRatio(
      /*samples_per_insert=*/1.0, /*min_size_to_sample=*/1,
      /*error_buffer=*/-1.0);
  absl::Status status = RateLimiter::Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("min_diff must be <= max_diff, got min_diff 2"));
}

TEST(RateLimiterTest, PresetsMatchReverb) {
  RateLimiterOptions min_size =
      RateLimiterOptions::MinSize(/*min_size_to_sample=*/5);
  EXPECT_EQ(min_size.samples_per_insert, 1.0);
  EXPECT_EQ(min_size.min_size_to_sample, 5);
  EXPECT_EQ(min_size.min_diff, -DBL_MAX);
  EXPECT_EQ(min_size.max_diff, DBL_MAX);
  RateLimiterOptions ratio = RateLimiterOptions::SampleToInsertRatio(
      /*samples_per_insert=*/4.0, /*min_size_to_sample=*/10,
      /*error_buffer=*/8.0);
  EXPECT_EQ(ratio.samples_per_insert, 4.0);
  EXPECT_EQ(ratio.min_size_to_sample, 10);
  EXPECT_EQ(ratio.min_diff, 32.0);
  EXPECT_EQ(ratio.max_diff, 48.0);
  RateLimiterOptions queue = RateLimiterOptions::Queue(/*size=*/7);
  EXPECT_EQ(queue.samples_per_insert, 1.0);
  EXPECT_EQ(queue.min_size_to_sample, 1);
  EXPECT_EQ(queue.min_diff, 0.0);
  EXPECT_EQ(queue.max_diff, 7.0);
}

TEST(RateLimiterTest, MinSizeBlocksSamplesUntilMinSizeReached) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::MinSize(/*min_size_to_sample=*/3));
  absl::MutexLock lock(&mu);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.CanSample(&mu));
    EXPECT_TRUE(limiter.CanInsert(&mu));
    limiter.Insert(&mu);
  }
  EXPECT_TRUE(limiter.CanSample(&mu));
  EXPECT_TRUE(limiter.CanSample(&mu, /*n=*/1000000));
  limiter.Sample(&mu, /*n=*/1000000);
  EXPECT_TRUE(limiter.CanSample(&mu));
  EXPECT_TRUE(limiter.CanInsert(&mu, /*n=*/1000000));
  limiter.Delete(&mu);
  EXPECT_FALSE(limiter.CanSample(&mu));
}

TEST(RateLimiterTest, SampleToInsertRatioBlocksInsertsWhenTooFarAhead) {
  absl::Mutex mu;
  // min_diff = 3*2 - 4 = 2, max_diff = 3*2 + 4 = 10.
  RateLimiter limiter(RateLimiterOptions::SampleToInsertRatio(
      /*samples_per_insert=*/2.0, /*min_size_to_sample=*/3,
      /*error_buffer=*/4.0));
  absl::MutexLock lock(&mu);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(limiter.CanInsert(&mu)) << i;
    limiter.Insert(&mu);
  }
  EXPECT_FALSE(limiter.CanInsert(&mu));  // 6*2 - 0 = 12 > 10
  limiter.Sample(&mu);
  EXPECT_FALSE(limiter.CanInsert(&mu));  // 12 - 1 = 11 > 10
  limiter.Sample(&mu);
  EXPECT_TRUE(limiter.CanInsert(&mu));  // 12 - 2 = 10
  EXPECT_FALSE(limiter.CanInsert(&mu, /*n=*/2));
}

TEST(RateLimiterTest, SampleToInsertRatioBlocksSamplesWhenTooFarBehind) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::SampleToInsertRatio(
      /*samples_per_insert=*/2.0, /*min_size_to_sample=*/3,
      /*error_buffer=*/4.0));
  absl::MutexLock lock(&mu);
  limiter.Insert(&mu, /*n=*/2);
  EXPECT_FALSE(limiter.CanSample(&mu));  // below min size
  limiter.Insert(&mu, /*n=*/3);          // diff 10
  int samples = 0;
  while (limiter.CanSample(&mu)) {
    limiter.Sample(&mu);
    ++samples;
  }
  EXPECT_EQ(samples, 8);  // 10 - 8 = 2 = min_diff
  limiter.Insert(&mu);    // diff 4
  EXPECT_TRUE(limiter.CanSample(&mu, /*n=*/2));
  EXPECT_FALSE(limiter.CanSample(&mu, /*n=*/3));
}

TEST(RateLimiterTest, QueueBlocksInsertsAtSizeAndSamplesWhenEmpty) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::Queue(/*size=*/3));
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(limiter.CanSample(&mu));
  limiter.Insert(&mu, /*n=*/3);
  EXPECT_FALSE(limiter.CanInsert(&mu));
  // The table deletes each item it hands out from a queue.
  limiter.Sample(&mu);
  limiter.Delete(&mu);
  EXPECT_TRUE(limiter.CanInsert(&mu));
  EXPECT_FALSE(limiter.CanInsert(&mu, /*n=*/2));
  limiter.Sample(&mu, /*n=*/2);
  limiter.Delete(&mu, /*n=*/2);
  EXPECT_FALSE(limiter.CanSample(&mu));
  EXPECT_TRUE(limiter.CanInsert(&mu, /*n=*/3));
}

TEST(RateLimiterTest, InsertRoomIsTheMostInsertsAllowedTogether) {
  absl::Mutex mu;
  // min_diff = 3*2 - 4 = 2, max_diff = 3*2 + 4 = 10.
  RateLimiter limiter(RateLimiterOptions::SampleToInsertRatio(
      /*samples_per_insert=*/2.0, /*min_size_to_sample=*/3,
      /*error_buffer=*/4.0));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(limiter.InsertRoom(&mu, /*at_most=*/100), 5);  // 5*2 = 10
  EXPECT_EQ(limiter.InsertRoom(&mu, /*at_most=*/3), 3);
  EXPECT_EQ(limiter.InsertRoom(&mu, /*at_most=*/0), 0);
  limiter.Insert(&mu, /*n=*/5);
  EXPECT_EQ(limiter.InsertRoom(&mu, /*at_most=*/100), 0);
  limiter.Sample(&mu, /*n=*/3);  // 10 - 3 = 7: one more insert makes 9
  EXPECT_EQ(limiter.InsertRoom(&mu, /*at_most=*/100), 1);
  limiter.Sample(&mu, /*n=*/4);  // 3: four more make 11, three make 9
  EXPECT_EQ(limiter.InsertRoom(&mu, /*at_most=*/100), 3);
  for (int64_t at_most = 1; at_most <= 100; ++at_most) {
    const int64_t room = limiter.InsertRoom(&mu, at_most);
    EXPECT_TRUE(limiter.CanInsert(&mu, room)) << at_most;
    EXPECT_TRUE(room == at_most || !limiter.CanInsert(&mu, room + 1))
        << at_most;
  }
  // The min size lets the table fill up to it whatever the ratio says.
  RateLimiter min_size(RateLimiterOptions::MinSize(/*min_size_to_sample=*/10));
  min_size.Insert(&mu, /*n=*/4);
  EXPECT_EQ(min_size.InsertRoom(&mu, /*at_most=*/int64_t{1} << 40),
            int64_t{1} << 40);
  RateLimiter queue(RateLimiterOptions::Queue(/*size=*/10));
  queue.Insert(&mu, /*n=*/4);
  EXPECT_EQ(queue.InsertRoom(&mu, /*at_most=*/100), 6);
}

TEST(RateLimiterTest, AwaitCanSampleReturnsOnceAnotherThreadReachesMinSize) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::MinSize(/*min_size_to_sample=*/2));
  absl::Status status = absl::UnknownError("not run");
  std::thread sampler([&] {
    absl::MutexLock lock(&mu);
    status = limiter.AwaitCanSample(&mu, absl::InfiniteFuture());
    if (status.ok()) limiter.Sample(&mu);
  });
  WaitForBlocked(mu, limiter, /*inserts=*/0, /*samples=*/1);
  LockedInsert(mu, limiter);
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(LockedState(mu, limiter).blocked_samples, 1);
  LockedInsert(mu, limiter);
  sampler.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(LockedCursor(mu, limiter).samples, 1);
}

TEST(RateLimiterTest, AwaitCanInsertReturnsOnceAnotherThreadSamples) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::Queue(/*size=*/1));
  LockedInsert(mu, limiter);
  absl::Status status = absl::UnknownError("not run");
  std::thread inserter([&] {
    absl::MutexLock lock(&mu);
    status = limiter.AwaitCanInsert(&mu, absl::InfiniteFuture());
    if (status.ok()) limiter.Insert(&mu);
  });
  WaitForBlocked(mu, limiter, /*inserts=*/1, /*samples=*/0);
  {
    absl::MutexLock lock(&mu);
    limiter.Sample(&mu);
    limiter.Delete(&mu);
  }
  inserter.join();
  EXPECT_TRUE(status.ok()) << status;
}

TEST(RateLimiterTest, DeadlinesReturnDeadlineExceededSayingWhatBlocked) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::Queue(/*size=*/2));
  absl::MutexLock lock(&mu);
  absl::Time start = absl::Now();
  absl::Status status =
      limiter.AwaitCanSample(&mu, start + absl::Milliseconds(100));
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, absl::Milliseconds(100));
  EXPECT_LT(elapsed, absl::Seconds(5));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("rate limiter: sample blocked for 1"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("ms: table has 0 items, min_size_to_sample is 1"));

  limiter.Insert(&mu, /*n=*/2);
  start = absl::Now();
  status = limiter.AwaitCanInsert(&mu, start + absl::Milliseconds(50));
  elapsed = absl::Now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, absl::Milliseconds(50));
  EXPECT_LT(elapsed, absl::Seconds(5));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("rate limiter: insert blocked for"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("samples 3 > max_diff 2 (inserts 2, samples 0"));
  EXPECT_EQ(limiter.state(&mu).blocked_inserts, 0);
}

TEST(RateLimiterTest, PastDeadlineSucceedsWhenAllowedNow) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::MinSize(/*min_size_to_sample=*/1));
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(limiter.AwaitCanInsert(&mu, absl::InfinitePast()).ok());
  limiter.Insert(&mu);
  EXPECT_TRUE(limiter.AwaitCanSample(&mu, absl::InfinitePast()).ok());
}

TEST(RateLimiterTest, ResetWakesBlockedInserters) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::Queue(/*size=*/2));
  LockedInsert(mu, limiter, /*n=*/2);
  absl::Status status = absl::UnknownError("not run");
  std::thread inserter([&] {
    absl::MutexLock lock(&mu);
    status = limiter.AwaitCanInsert(&mu, absl::InfiniteFuture());
  });
  WaitForBlocked(mu, limiter, /*inserts=*/1, /*samples=*/0);
  {
    absl::MutexLock lock(&mu);
    limiter.Reset(&mu);
  }
  inserter.join();
  EXPECT_TRUE(status.ok()) << status;
  RateLimiterCursor cursor = LockedCursor(mu, limiter);
  EXPECT_EQ(cursor.inserts, 0);
  EXPECT_EQ(cursor.samples, 0);
  EXPECT_EQ(cursor.deletes, 0);
}

// Four threads block, two on inserts and two on samples; Cancel must wake
// all of them with CANCELLED, and later Awaits must not block at all.
TEST(RateLimiterTest, CancelWakesEveryWaiterWithCancelled) {
  absl::Mutex mu;
  // With min_diff = max_diff = 1 and diff at 1, neither an insert (diff 2)
  // nor a sample (diff 0) is allowed.
  RateLimiterOptions options;
  options.samples_per_insert = 1.0;
  options.min_size_to_sample = 1;
  options.min_diff = 1.0;
  options.max_diff = 1.0;
  RateLimiter limiter(options);
  LockedInsert(mu, limiter);
  std::vector<absl::Status> statuses(4, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      absl::MutexLock lock(&mu);
      statuses[i] = i % 2 == 0
                        ? limiter.AwaitCanInsert(&mu, absl::InfiniteFuture())
                        : limiter.AwaitCanSample(&mu, absl::InfiniteFuture());
    });
  }
  WaitForBlocked(mu, limiter, /*inserts=*/2, /*samples=*/2);
  {
    absl::MutexLock lock(&mu);
    limiter.Cancel(&mu);
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& status : statuses) {
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  }
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(limiter.cancelled(&mu));
  EXPECT_EQ(limiter.AwaitCanInsert(&mu, absl::InfiniteFuture()).code(),
            absl::StatusCode::kCancelled);
  limiter.Reset(&mu);
  EXPECT_EQ(limiter.AwaitCanInsert(&mu, absl::InfiniteFuture()).code(),
            absl::StatusCode::kCancelled);
}

TEST(RateLimiterTest, CursorRoundTripsAndRestoreRejectsBadValues) {
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::Queue(/*size=*/10));
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(limiter
                  .set_cursor(&mu, RateLimiterCursor{/*inserts=*/7,
                                                     /*samples=*/5,
                                                     /*deletes=*/4})
                  .ok());
  RateLimiterState info = limiter.state(&mu);
  EXPECT_EQ(info.inserts, 7);
  EXPECT_EQ(info.samples, 5);
  EXPECT_EQ(info.deletes, 4);
  EXPECT_EQ(info.max_diff, 10.0);
  RateLimiterCursor cursor = limiter.cursor(&mu);
  EXPECT_EQ(cursor.inserts, 7);
  EXPECT_EQ(cursor.samples, 5);
  EXPECT_EQ(cursor.deletes, 4);
  v1::RateLimiterInfo proto;
  limiter.FillInfo(&mu, &proto);
  EXPECT_EQ(proto.inserts(), 7);
  EXPECT_EQ(proto.samples(), 5);
  EXPECT_EQ(proto.max_diff(), 10.0);
  EXPECT_EQ(proto.min_diff(), 0.0);
  EXPECT_EQ(proto.min_size_to_sample(), 1);
  EXPECT_EQ(proto.samples_per_insert(), 1.0);
  absl::Status status = limiter.set_cursor(
      &mu, RateLimiterCursor{/*inserts=*/1, /*samples=*/0, /*deletes=*/2});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("deletes 2"));
  EXPECT_EQ(limiter.cursor(&mu).inserts, 7);
}

// Producers and consumers share a Queue(3) limiter as a table with a fifo
// sampler would: each producer awaits an insert and records it, each consumer
// awaits a sample and records a sample and a delete, all under one mutex.
// Checks that with real threads racing, the queue never holds more than 3 or
// fewer than 0 items, that no item is sampled before it is inserted, that
// no wakeup is lost (every thread finishes), and that the totals match.
TEST(RateLimiterTest, QueueKeepsItsBoundsUnderConcurrentProducersAndConsumers) {
  constexpr int kThreads = 4;
  constexpr int kItemsPerThread = 2000;
  absl::Mutex mu;
  RateLimiter limiter(RateLimiterOptions::Queue(/*size=*/3));
  std::vector<std::thread> threads;
  std::vector<std::string> errors;
  for (int t = 0; t < 2 * kThreads; ++t) {
    const bool producer = t % 2 == 0;
    threads.emplace_back([&, producer] {
      for (int i = 0; i < kItemsPerThread; ++i) {
        absl::MutexLock lock(&mu);
        absl::Status status =
            producer ? limiter.AwaitCanInsert(&mu, absl::InfiniteFuture())
                     : limiter.AwaitCanSample(&mu, absl::InfiniteFuture());
        if (!status.ok()) errors.push_back(status.ToString());
        if (producer) {
          limiter.Insert(&mu);
        } else {
          limiter.Sample(&mu);
          limiter.Delete(&mu);
        }
        const RateLimiterCursor c = limiter.cursor(&mu);
        const int64_t size = c.inserts - c.deletes;
        if (size < 0 || size > 3 || c.samples > c.inserts) {
          errors.push_back(absl::StrCat("size ", size, " samples ", c.samples,
                                        " inserts ", c.inserts));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(errors, ::testing::IsEmpty());
  RateLimiterState info = limiter.state(&mu);
  EXPECT_EQ(info.inserts, kThreads * kItemsPerThread);
  EXPECT_EQ(info.samples, kThreads * kItemsPerThread);
  EXPECT_EQ(info.blocked_inserts, 0);
  EXPECT_EQ(info.blocked_samples, 0);
}

// Records in `errors` when diff = inserts * spi - samples is above max_diff,
// or below min_diff once sampling has started.
void CheckBand(absl::Mutex* mu, const RateLimiter& limiter,
               const RateLimiterOptions& options,
               std::vector<std::string>* errors)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
  const RateLimiterCursor c = limiter.cursor(mu);
  const double diff = c.inserts * options.samples_per_insert - c.samples;
  if (diff > options.max_diff || (c.samples > 0 && diff < options.min_diff)) {
    errors->push_back(absl::StrCat("diff ", diff, " inserts ", c.inserts,
                                   " samples ", c.samples));
  }
}

// Two inserters and three samplers share a SampleToInsertRatio limiter
// (spi 2, min size 10, buffer 6: diff in [14, 26]). Checks that under real
// contention diff = inserts*2 - samples never exceeds max_diff, never falls
// below min_diff once sampling has started, and that the samplers take every
// sample the inserts allow: when they are all blocked after the inserters
// finish, exactly one more sample would cross min_diff. Cancel then releases
// the blocked samplers with CANCELLED.
TEST(RateLimiterTest, SampleToInsertRatioHoldsItsBandUnderConcurrentThreads) {
  constexpr int kInserters = 2;
  constexpr int kSamplers = 3;
  constexpr int kInsertsPerThread = 3000;
  const RateLimiterOptions options = RateLimiterOptions::SampleToInsertRatio(
      /*samples_per_insert=*/2.0, /*min_size_to_sample=*/10,
      /*error_buffer=*/6.0);
  absl::Mutex mu;
  RateLimiter limiter(options);
  std::vector<std::string> errors;
  std::vector<std::thread> inserters, samplers;
  for (int t = 0; t < kInserters; ++t) {
    inserters.emplace_back([&] {
      for (int i = 0; i < kInsertsPerThread; ++i) {
        absl::MutexLock lock(&mu);
        absl::Status status =
            limiter.AwaitCanInsert(&mu, absl::InfiniteFuture());
        if (!status.ok()) errors.push_back(status.ToString());
        limiter.Insert(&mu);
        CheckBand(&mu, limiter, options, &errors);
      }
    });
  }
  std::vector<absl::Status> last(kSamplers);
  for (int t = 0; t < kSamplers; ++t) {
    samplers.emplace_back([&, t] {
      while (true) {
        absl::MutexLock lock(&mu);
        last[t] = limiter.AwaitCanSample(&mu, absl::InfiniteFuture());
        if (!last[t].ok()) return;
        limiter.Sample(&mu);
        CheckBand(&mu, limiter, options, &errors);
      }
    });
  }
  for (std::thread& t : inserters) t.join();
  WaitForBlocked(mu, limiter, /*inserts=*/0, /*samples=*/kSamplers);
  {
    absl::MutexLock lock(&mu);
    const RateLimiterCursor c = limiter.cursor(&mu);
    EXPECT_EQ(c.inserts, kInserters * kInsertsPerThread);
    EXPECT_EQ(c.samples,
              c.inserts * 2 - static_cast<int64_t>(options.min_diff));
    limiter.Cancel(&mu);
  }
  for (std::thread& t : samplers) t.join();
  for (const absl::Status& status : last) {
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  }
  absl::MutexLock lock(&mu);
  EXPECT_THAT(errors, ::testing::IsEmpty());
}

}  // namespace
}  // namespace shoal
