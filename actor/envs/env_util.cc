#include "actor/envs/env_util.h"

#include <cmath>

#include "absl/strings/str_cat.h"

#include <math.h>

namespace shoal {
namespace env_internal {
namespace {

// Volatile, so every call loads the pointer and the call cannot be folded.
double (*volatile g_pow)(double, double) = &::pow;
float (*volatile g_powf)(float, float) = &::powf;

}  // namespace

double Pow(double x, double y) { return g_pow(x, y); }
float Powf(float x, float y) { return g_powf(x, y); }

double FloorMod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0.0 && ((r < 0.0) != (b < 0.0))) r += b;
  if (r == 0.0) r = 0.0;  // turns -0.0 into +0.0
  return r;
}

absl::Status EpisodeClock::NotActiveError() const {
  return absl::FailedPreconditionError(
      absl::StrCat("Step called with no running episode (after ", steps_,
                   " steps): call Reset or SetState first"));
}

absl::Status DiscreteActionError(int64_t action, int64_t num_actions) {
  return absl::InvalidArgumentError(absl::StrCat(
      "discrete action must be in [0, ", num_actions, "), got ", action));
}

absl::Status CheckBoxAction(absl::Span<const float> action, int dim) {
  if (static_cast<int>(action.size()) != dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "box action must have ", dim, " values, got ", action.size()));
  }
  for (size_t i = 0; i < action.size(); ++i) {
    if (!std::isfinite(action[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "box action value ", i, " must be finite, got ", action[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status SizeError(const char* what, size_t span_size, int64_t expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " must have ", expected, " values, got ", span_size));
}

}  // namespace env_internal
}  // namespace shoal
