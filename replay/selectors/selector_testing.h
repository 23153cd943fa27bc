// Helpers for the selectors' statistical tests: Pearson's chi-square
// statistic and its critical value at p = 1e-4. Header-only, tests only.
#ifndef SHOAL_REPLAY_SELECTORS_SELECTOR_TESTING_H_
#define SHOAL_REPLAY_SELECTORS_SELECTOR_TESTING_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace shoal {
namespace selector_testing {

// Sum over bins of (observed - expected)^2 / expected; bins with an expected
// count of 0 must have observed 0 and are skipped (they add no freedom).
inline double ChiSquareStatistic(const std::vector<int64_t>& observed,
                                 const std::vector<double>& expected) {
  double statistic = 0.0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (expected[i] == 0.0) continue;
    const double d = static_cast<double>(observed[i]) - expected[i];
    statistic += d * d / expected[i];
  }
  return statistic;
}

// The chi-square quantile with P(X > x) = 1e-4 for `dof` degrees of freedom,
// by the Wilson-Hilferty cube-root normal approximation with the normal
// quantile z(1 - 1e-4) = 3.719016. Slightly above the exact value and
// within 1.5% of it for dof >= 9 (dof 9: 34.15 vs 33.72; dof 99: 160.17 vs
// 160.06, exact values from mpmath's regularized incomplete gamma).
inline double ChiSquareCritical1e4(int dof) {
  constexpr double kZ = 3.719016485455709;
  const double k = dof;
  const double t = 1.0 - 2.0 / (9.0 * k) + kZ * std::sqrt(2.0 / (9.0 * k));
  return k * t * t * t;
}

}  // namespace selector_testing
}  // namespace shoal

#endif  // SHOAL_REPLAY_SELECTORS_SELECTOR_TESTING_H_
