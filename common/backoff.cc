#include "common/backoff.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace shoal {

absl::Status Backoff::Validate(const BackoffOptions& options) {
  if (options.initial_delay <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("backoff initial_delay must be > 0, got ",
                     absl::FormatDuration(options.initial_delay)));
  }
  if (options.max_delay < options.initial_delay) {
    return absl::InvalidArgumentError(
        absl::StrCat("backoff max_delay must be >= initial_delay, got ",
                     absl::FormatDuration(options.max_delay)));
  }
  if (!(options.multiplier >= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backoff multiplier must be >= 1, got ", options.multiplier));
  }
  if (!(options.jitter >= 0.0 && options.jitter < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backoff jitter must be in [0, 1), got ", options.jitter));
  }
  return absl::OkStatus();
}

Backoff::Backoff(const BackoffOptions& options, uint64_t seed)
    : options_(options), rng_(seed) {}

absl::Duration Backoff::NextDelay() {
  const double initial_s = absl::ToDoubleSeconds(options_.initial_delay);
  const double max_s = absl::ToDoubleSeconds(options_.max_delay);
  // Capping the exponent keeps pow() finite however long the outage.
  const double grown =
      initial_s * std::pow(options_.multiplier, std::min(attempts_, 64));
  const double base = std::min(max_s, grown);
  std::uniform_real_distribution<double> spread(1.0 - options_.jitter,
                                                1.0 + options_.jitter);
  ++attempts_;
  return absl::Seconds(base * spread(rng_));
}

}  // namespace shoal
