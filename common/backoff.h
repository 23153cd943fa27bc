// Exponential backoff with jitter for reconnect loops: the k-th delay is
// min(max_delay, initial_delay * multiplier^k) scaled by a uniform factor in
// [1 - jitter, 1 + jitter], so that many clients cut off together do not
// reconnect together.
//
// Thread-compatible: one Backoff per reconnecting loop.
#ifndef SHOAL_COMMON_BACKOFF_H_
#define SHOAL_COMMON_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace shoal {

struct BackoffOptions {
  // First delay. Default 100 ms; > 0.
  absl::Duration initial_delay = absl::Milliseconds(100);
  // Upper bound before jitter. Default 10 s; >= initial_delay.
  absl::Duration max_delay = absl::Seconds(10);
  // Growth per attempt. Default 2; >= 1.
  double multiplier = 2.0;
  // Relative spread of each delay. Default 0.2; in [0, 1).
  double jitter = 0.2;
};

class Backoff {
 public:
  // INVALID_ARGUMENT naming the field when `options` are out of range.
  static absl::Status Validate(const BackoffOptions& options);

  // REQUIRES: Validate(options).ok().
  Backoff(const BackoffOptions& options, uint64_t seed);

  // The delay to wait before the next attempt; grows with each call.
  absl::Duration NextDelay();

  // Call after a success: the next delay is initial_delay again.
  void Reset() { attempts_ = 0; }

  // Delays handed out since the last Reset().
  int attempts() const { return attempts_; }

 private:
  const BackoffOptions options_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_COMMON_BACKOFF_H_
