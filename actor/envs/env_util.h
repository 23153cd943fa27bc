// Small helpers shared by the built-in environments: argument checks that
// name the offending value, libm calls the compiler must not fold, a seeded
// RNG for Reset(), and the TimeLimit step counter.
//
// Everything here is thread-compatible and allocation-free.
#ifndef SHOAL_ACTOR_ENVS_ENV_UTIL_H_
#define SHOAL_ACTOR_ENVS_ENV_UTIL_H_

#include <cstdint>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/types/span.h"

namespace shoal {
namespace env_internal {

// libm pow(x, y), called through a volatile function pointer so that the
// compiler cannot rewrite pow(x, 2.0) as x*x (the two differ in ~0.08% of
// inputs; Gymnasium's `x ** 2` on a NumPy float is libm pow).
double Pow(double x, double y);
float Powf(float x, float y);

// Python's float `%` (NumPy's floor modulo): the result has the sign of `b`,
// and an exact zero is +0.0.
double FloorMod(double a, double b);

// SplitMix64's finalizer: a bijection on 64-bit values that scrambles
// every input bit into every output bit.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A tiny deterministic generator (SplitMix64 started from a mixed seed, so
// that seeds in arithmetic progression give unrelated streams). Same seed,
// same stream, on every platform. Used only to draw initial states.
class SeededRng {
 public:
  explicit SeededRng(uint64_t seed) : state_(Mix64(seed ^ kSeedSalt)) {}

  uint64_t Next() { return Mix64(state_ += kGamma); }
  // Uniform on [low, high), 53 random bits.
  double Uniform(double low, double high) {
    const double u = static_cast<double>(Next() >> 11) * 0x1.0p-53;
    return low + (high - low) * u;
  }
  // Uniform integer in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >>
                                 64);
  }

 private:
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;
  static constexpr uint64_t kSeedSalt = 0x5DEECE66DULL;

  uint64_t state_;
};

// Gymnasium's TimeLimit plus the "has an episode started / ended" guard.
class EpisodeClock {
 public:
  explicit EpisodeClock(int max_steps) : max_steps_(max_steps) {}

  // Starts an episode (Reset or SetState).
  void Start() {
    steps_ = 0;
    active_ = true;
  }
  // OK while an episode is running; FAILED_PRECONDITION before the first
  // Reset and after the episode ended.
  absl::Status CheckActive() const {
    if (ABSL_PREDICT_TRUE(active_)) return absl::OkStatus();
    return NotActiveError();
  }
  // Counts one step; returns `truncated` and ends the episode when it is
  // over. REQUIRES: CheckActive() is OK.
  bool Tick(bool terminated) {
    ++steps_;
    const bool truncated = max_steps_ > 0 && steps_ >= max_steps_;
    if (terminated || truncated) active_ = false;
    return truncated;
  }
  int steps() const { return steps_; }
  int max_steps() const { return max_steps_; }

 private:
  absl::Status NotActiveError() const;

  int max_steps_;
  int steps_ = 0;
  bool active_ = false;
};

// The errors behind the inline checks below (kept out of line).
absl::Status DiscreteActionError(int64_t action, int64_t num_actions);
absl::Status SizeError(const char* what, size_t span_size, int64_t expected);

// OK if `action` is in [0, num_actions); else INVALID_ARGUMENT naming it.
inline absl::Status CheckDiscreteAction(int64_t action, int64_t num_actions) {
  if (ABSL_PREDICT_TRUE(action >= 0 && action < num_actions)) {
    return absl::OkStatus();
  }
  return DiscreteActionError(action, num_actions);
}

// OK if `action` has `dim` values and none is NaN or infinite; else
// INVALID_ARGUMENT naming the size or the value.
absl::Status CheckBoxAction(absl::Span<const float> action, int dim);

// OK if `span_size` == `expected`; else INVALID_ARGUMENT naming `what`.
inline absl::Status CheckSize(const char* what, size_t span_size,
                              int64_t expected) {
  if (ABSL_PREDICT_TRUE(static_cast<int64_t>(span_size) == expected)) {
    return absl::OkStatus();
  }
  return SizeError(what, span_size, expected);
}

}  // namespace env_internal
}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_UTIL_H_
