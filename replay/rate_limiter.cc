#include "replay/rate_limiter.h"

#include <cassert>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"

namespace shoal {

RateLimiterOptions RateLimiterOptions::MinSize(int64_t min_size_to_sample) {
  RateLimiterOptions options;
  options.samples_per_insert = 1.0;
  options.min_size_to_sample = min_size_to_sample;
  options.min_diff = -DBL_MAX;
  options.max_diff = DBL_MAX;
  return options;
}

RateLimiterOptions RateLimiterOptions::SampleToInsertRatio(
    double samples_per_insert, int64_t min_size_to_sample,
    double error_buffer) {
  const double offset = min_size_to_sample * samples_per_insert;
  RateLimiterOptions options;
  options.samples_per_insert = samples_per_insert;
  options.min_size_to_sample = min_size_to_sample;
  options.min_diff = offset - error_buffer;
  options.max_diff = offset + error_buffer;
  return options;
}

RateLimiterOptions RateLimiterOptions::Queue(int64_t size) {
  RateLimiterOptions options;
  options.samples_per_insert = 1.0;
  options.min_size_to_sample = 1;
  options.min_diff = 0.0;
  options.max_diff = static_cast<double>(size);
  return options;
}

absl::Status RateLimiter::Validate(const RateLimiterOptions& options) {
  if (!(options.samples_per_insert > 0) ||
      !std::isfinite(options.samples_per_insert)) {
    return absl::InvalidArgumentError(
        absl::StrCat("samples_per_insert must be finite and > 0, got ",
                     options.samples_per_insert));
  }
  if (options.min_size_to_sample < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_size_to_sample must be >= 1, got ", options.min_size_to_sample));
  }
  if (std::isnan(options.min_diff) || std::isnan(options.max_diff) ||
      options.min_diff > options.max_diff) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_diff must be <= max_diff, got min_diff ",
                     options.min_diff, " and max_diff ", options.max_diff));
  }
  return absl::OkStatus();
}

RateLimiter::RateLimiter(const RateLimiterOptions& options)
    : options_(options) {
  assert(Validate(options).ok());
}

bool RateLimiter::CanInsert(absl::Mutex* /*mu*/, int64_t n) const {
  assert(n >= 1);
  // Until the min size is reached inserts are always allowed.
  if (inserts_ - deletes_ + n <= options_.min_size_to_sample) return true;
  const double diff =
      static_cast<double>(inserts_ + n) * options_.samples_per_insert -
      static_cast<double>(samples_);
  return diff <= options_.max_diff;
}

bool RateLimiter::CanSample(absl::Mutex* /*mu*/, int64_t n) const {
  assert(n >= 1);
  if (inserts_ - deletes_ < options_.min_size_to_sample) return false;
  const double diff =
      static_cast<double>(inserts_) * options_.samples_per_insert -
      static_cast<double>(samples_ + n);
  return diff >= options_.min_diff;
}

int64_t RateLimiter::InsertRoom(absl::Mutex* mu, int64_t at_most) const {
  if (at_most < 1 || !CanInsert(mu, 1)) return 0;
  // CanInsert(n) only turns false as n grows: search for where it does.
  int64_t allowed = 1;  // CanInsert(allowed) holds
  int64_t high = at_most;
  while (allowed < high) {
    const int64_t mid = allowed + (high - allowed + 1) / 2;
    if (CanInsert(mu, mid)) {
      allowed = mid;
    } else {
      high = mid - 1;
    }
  }
  return allowed;
}

std::string RateLimiter::InsertBlockedReason(absl::Mutex* /*mu*/) const {
  const double diff =
      static_cast<double>(inserts_ + 1) * options_.samples_per_insert -
      static_cast<double>(samples_);
  return absl::StrCat("one more insert makes inserts*samples_per_insert - ",
                      "samples ", diff, " > max_diff ", options_.max_diff,
                      " (inserts ", inserts_, ", samples ", samples_,
                      ", table has ", inserts_ - deletes_, " items)");
}

std::string RateLimiter::SampleBlockedReason(absl::Mutex* /*mu*/) const {
  const int64_t size = inserts_ - deletes_;
  if (size < options_.min_size_to_sample) {
    return absl::StrCat("table has ", size, " items, min_size_to_sample is ",
                        options_.min_size_to_sample);
  }
  const double diff =
      static_cast<double>(inserts_) * options_.samples_per_insert -
      static_cast<double>(samples_ + 1);
  return absl::StrCat("one more sample makes inserts*samples_per_insert - ",
                      "samples ", diff, " < min_diff ", options_.min_diff,
                      " (inserts ", inserts_, ", samples ", samples_, ")");
}

absl::Status RateLimiter::AwaitCanInsert(absl::Mutex* mu, absl::Time deadline) {
  mu->AssertHeld();
  const absl::Time start = absl::Now();
  ++blocked_inserts_;
  bool timed_out = false;
  while (!cancelled_ && !CanInsert(mu) && !timed_out) {
    timed_out = can_insert_cv_.WaitWithDeadline(mu, deadline);
  }
  --blocked_inserts_;
  if (cancelled_) {
    return absl::CancelledError(
        "rate limiter cancelled while waiting to insert");
  }
  if (CanInsert(mu)) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("rate limiter: insert blocked for ",
                   absl::FormatDuration(
                       absl::Trunc(absl::Now() - start, absl::Milliseconds(1))),
                   ": ", InsertBlockedReason(mu)));
}

absl::Status RateLimiter::AwaitCanSample(absl::Mutex* mu, absl::Time deadline) {
  mu->AssertHeld();
  const absl::Time start = absl::Now();
  ++blocked_samples_;
  bool timed_out = false;
  while (!cancelled_ && !CanSample(mu) && !timed_out) {
    timed_out = can_sample_cv_.WaitWithDeadline(mu, deadline);
  }
  --blocked_samples_;
  if (cancelled_) {
    return absl::CancelledError(
        "rate limiter cancelled while waiting to sample");
  }
  if (CanSample(mu)) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("rate limiter: sample blocked for ",
                   absl::FormatDuration(
                       absl::Trunc(absl::Now() - start, absl::Milliseconds(1))),
                   ": ", SampleBlockedReason(mu)));
}

void RateLimiter::StateChanged(absl::Mutex* mu) {
  mu->AssertHeld();
  // SignalAll, not Signal: a woken waiter may time out or its caller may not
  // go on to Insert/Sample, and a single signal would then be lost.
  if (blocked_inserts_ > 0 && (cancelled_ || CanInsert(mu))) {
    can_insert_cv_.SignalAll();
  }
  if (blocked_samples_ > 0 && (cancelled_ || CanSample(mu))) {
    can_sample_cv_.SignalAll();
  }
}

void RateLimiter::Insert(absl::Mutex* mu, int64_t n) {
  assert(n >= 0);
  inserts_ += n;
  StateChanged(mu);
}

void RateLimiter::Sample(absl::Mutex* mu, int64_t n) {
  assert(n >= 0);
  samples_ += n;
  StateChanged(mu);
}

void RateLimiter::Delete(absl::Mutex* mu, int64_t n) {
  assert(n >= 0 && deletes_ + n <= inserts_);
  deletes_ += n;
  StateChanged(mu);
}

void RateLimiter::Reset(absl::Mutex* mu) {
  inserts_ = 0;
  samples_ = 0;
  deletes_ = 0;
  StateChanged(mu);
}

void RateLimiter::Cancel(absl::Mutex* mu) {
  cancelled_ = true;
  StateChanged(mu);
}

bool RateLimiter::cancelled(absl::Mutex* /*mu*/) const { return cancelled_; }

RateLimiter::Cursor RateLimiter::cursor(absl::Mutex* /*mu*/) const {
  return Cursor{inserts_, samples_, deletes_};
}

absl::Status RateLimiter::set_cursor(absl::Mutex* mu, const Cursor& cursor) {
  if (cursor.inserts < 0 || cursor.samples < 0 || cursor.deletes < 0 ||
      cursor.deletes > cursor.inserts) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rate limiter cursor needs 0 <= deletes <= inserts and samples >= 0, "
        "got inserts ",
        cursor.inserts, ", samples ", cursor.samples, ", deletes ",
        cursor.deletes));
  }
  inserts_ = cursor.inserts;
  samples_ = cursor.samples;
  deletes_ = cursor.deletes;
  StateChanged(mu);
  return absl::OkStatus();
}

RateLimiterState RateLimiter::state(absl::Mutex* /*mu*/) const {
  return RateLimiterState{options_.samples_per_insert,
                          options_.min_size_to_sample,
                          options_.min_diff,
                          options_.max_diff,
                          inserts_,
                          samples_,
                          deletes_,
                          blocked_inserts_,
                          blocked_samples_};
}

void RateLimiter::FillInfo(absl::Mutex* /*mu*/,
                           v1::RateLimiterInfo* info) const {
  info->set_samples_per_insert(options_.samples_per_insert);
  info->set_min_diff(options_.min_diff);
  info->set_max_diff(options_.max_diff);
  info->set_min_size_to_sample(options_.min_size_to_sample);
  info->set_inserts(inserts_);
  info->set_samples(samples_);
  info->set_blocked_inserts(blocked_inserts_);
  info->set_blocked_samples(blocked_samples_);
}

}  // namespace shoal
