#include "common/backoff.h"

#include "gtest/gtest.h"

namespace shoal {
namespace {

BackoffOptions MakeOptions(double jitter) {
  BackoffOptions options;
  options.initial_delay = absl::Milliseconds(100);
  options.max_delay = absl::Seconds(2);
  options.multiplier = 2.0;
  options.jitter = jitter;
  return options;
}

TEST(BackoffTest, DelaysDoubleUntilTheCapWithoutJitter) {
  Backoff backoff(MakeOptions(/*jitter=*/0.0), /*seed=*/1);
  const int64_t expected_ms[] = {100, 200, 400, 800, 1600, 2000, 2000};
  for (int64_t ms : expected_ms) {
    EXPECT_EQ(absl::ToInt64Milliseconds(backoff.NextDelay()), ms);
  }
  EXPECT_EQ(backoff.attempts(), 7);
}

TEST(BackoffTest, JitterStaysWithinItsBandAndVaries) {
  Backoff backoff(MakeOptions(/*jitter=*/0.2), /*seed=*/7);
  absl::Duration first = backoff.NextDelay();
  EXPECT_GE(first, absl::Milliseconds(80));
  EXPECT_LE(first, absl::Milliseconds(120));
  for (int i = 0; i < 20; ++i) backoff.NextDelay();
  bool varied = false;
  absl::Duration previous = backoff.NextDelay();
  for (int i = 0; i < 50; ++i) {
    absl::Duration d = backoff.NextDelay();
    EXPECT_GE(d, absl::Milliseconds(1600));
    EXPECT_LE(d, absl::Milliseconds(2400));
    varied |= d != previous;
    previous = d;
  }
  EXPECT_TRUE(varied);
}

TEST(BackoffTest, ResetStartsOverAtTheInitialDelay) {
  Backoff backoff(MakeOptions(/*jitter=*/0.0), /*seed=*/1);
  for (int i = 0; i < 5; ++i) backoff.NextDelay();
  backoff.Reset();
  EXPECT_EQ(backoff.attempts(), 0);
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(100));
}

TEST(BackoffTest, SameSeedGivesTheSameDelays) {
  Backoff a(MakeOptions(/*jitter=*/0.5), /*seed=*/42);
  Backoff b(MakeOptions(/*jitter=*/0.5), /*seed=*/42);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.NextDelay(), b.NextDelay());
}

TEST(BackoffTest, LongOutagesNeverOverflow) {
  Backoff backoff(MakeOptions(/*jitter=*/0.0), /*seed=*/1);
  for (int i = 0; i < 10000; ++i) backoff.NextDelay();
  EXPECT_EQ(backoff.NextDelay(), absl::Seconds(2));
}

TEST(BackoffTest, ValidateNamesTheBadField) {
  BackoffOptions options = MakeOptions(0.1);
  options.jitter = 1.5;
  EXPECT_EQ(Backoff::Validate(options).message(),
            "backoff jitter must be in [0, 1), got 1.5");
  options = MakeOptions(0.1);
  options.multiplier = 0.5;
  EXPECT_EQ(Backoff::Validate(options).message(),
            "backoff multiplier must be >= 1, got 0.5");
  options = MakeOptions(0.1);
  options.max_delay = absl::Milliseconds(10);
  EXPECT_EQ(Backoff::Validate(options).message(),
            "backoff max_delay must be >= initial_delay, got 10ms");
  EXPECT_TRUE(Backoff::Validate(MakeOptions(0.1)).ok());
}

}  // namespace
}  // namespace shoal
