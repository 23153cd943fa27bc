#include "actor/envs/acrobot.h"

#include <algorithm>
#include <cmath>

namespace shoal {
namespace {

constexpr double kPi = 3.141592653589793;
constexpr double kDt = 0.2;
constexpr double kLinkLength1 = 1.0;
constexpr double kLinkMass1 = 1.0;
constexpr double kLinkMass2 = 1.0;
constexpr double kLinkComPos1 = 0.5;
constexpr double kLinkComPos2 = 0.5;
constexpr double kLinkMoi = 1.0;
constexpr double kGravity = 9.8;
constexpr double kMaxVel1 = 4 * kPi;
constexpr double kMaxVel2 = 9 * kPi;
constexpr double kTorques[3] = {-1.0, 0.0, +1.0};
constexpr double kResetBound = 0.1;
// The augmented state {theta1, theta2, dtheta1, dtheta2, torque}.
constexpr int kAugmentedSize = 5;

// Gymnasium's _dsdt, operation for operation. Products of the constants
// (all exact: 1, 0.5, 0.25, or multiplications by 1) are grouped as Python
// evaluates them, left to right.
void Dsdt(const double* s, double* out) {
  constexpr double m1 = kLinkMass1;
  constexpr double m2 = kLinkMass2;
  constexpr double l1 = kLinkLength1;
  constexpr double lc1 = kLinkComPos1;
  constexpr double lc2 = kLinkComPos2;
  constexpr double i1 = kLinkMoi;
  constexpr double i2 = kLinkMoi;
  constexpr double g = kGravity;
  const double theta1 = s[0];
  const double theta2 = s[1];
  const double dtheta1 = s[2];
  const double dtheta2 = s[3];
  const double a = s[4];
  const double cos_theta2 = std::cos(theta2);
  const double sin_theta2 = std::sin(theta2);
  const double d1 = m1 * (lc1 * lc1) +
                    m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos_theta2) +
                    i1 + i2;
  const double d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos_theta2) + i2;
  const double phi2 = m2 * lc2 * g * std::cos(theta1 + theta2 - kPi / 2.0);
  const double phi1 =
      -m2 * l1 * lc2 * env_internal::Pow(dtheta2, 2.0) * sin_theta2 -
      2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin_theta2 +
      (m1 * lc1 + m2 * l1) * g * std::cos(theta1 - kPi / 2) + phi2;
  const double ddtheta2 =
      (a + d2 / d1 * phi1 -
       m2 * l1 * lc2 * env_internal::Pow(dtheta1, 2.0) * sin_theta2 - phi2) /
      (m2 * (lc2 * lc2) + i2 - env_internal::Pow(d2, 2.0) / d1);
  const double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
  out[0] = dtheta1;
  out[1] = dtheta2;
  out[2] = ddtheta1;
  out[3] = ddtheta2;
  out[4] = 0.0;
}

// Gymnasium's wrap(x, m, M).
double Wrap(double x, double m, double big_m) {
  const double diff = big_m - m;
  while (x > big_m) x = x - diff;
  while (x < m) x = x + diff;
  return x;
}

}  // namespace

Acrobot::Acrobot(int max_episode_steps)
    : ClassicControlEnv("acrobot", DiscreteSpace(3), max_episode_steps) {}

void Acrobot::ResetState(env_internal::SeededRng* rng) {
  for (double& s : state_) {
    s = static_cast<float>(rng->Uniform(-kResetBound, kResetBound));
  }
}

void Acrobot::LoadState(absl::Span<const double> state) {
  std::copy(state.begin(), state.end(), state_);
}

StepResult Acrobot::StepUnchecked(const Action& action, float* observation) {
  double y0[kAugmentedSize] = {state_[0], state_[1], state_[2], state_[3],
                               kTorques[action.discrete]};
  // Gymnasium's rk4 over t = [0, dt]: one interval of h = dt - 0.
  constexpr double h = kDt - 0.0;
  constexpr double h2 = h / 2.0;
  double k1[kAugmentedSize], k2[kAugmentedSize], k3[kAugmentedSize],
      k4[kAugmentedSize], y[kAugmentedSize];
  Dsdt(y0, k1);
  for (int i = 0; i < kAugmentedSize; ++i) y[i] = y0[i] + h2 * k1[i];
  Dsdt(y, k2);
  for (int i = 0; i < kAugmentedSize; ++i) y[i] = y0[i] + h2 * k2[i];
  Dsdt(y, k3);
  for (int i = 0; i < kAugmentedSize; ++i) y[i] = y0[i] + h * k3[i];
  Dsdt(y, k4);
  constexpr double h6 = h / 6.0;
  for (int i = 0; i < kStateSize; ++i) {
    state_[i] = y0[i] + h6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  }
  state_[0] = Wrap(state_[0], -kPi, kPi);
  state_[1] = Wrap(state_[1], -kPi, kPi);
  state_[2] = std::min(std::max(state_[2], -kMaxVel1), kMaxVel1);
  state_[3] = std::min(std::max(state_[3], -kMaxVel2), kMaxVel2);

  StepResult result;
  result.terminated =
      -std::cos(state_[0]) - std::cos(state_[1] + state_[0]) > 1.0;
  result.reward = result.terminated ? 0.0 : -1.0;
  result.truncated = clock().Tick(result.terminated);
  WriteObservation(observation);
  return result;
}

void Acrobot::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(std::cos(state_[0]));
  observation[1] = static_cast<float>(std::sin(state_[0]));
  observation[2] = static_cast<float>(std::cos(state_[1]));
  observation[3] = static_cast<float>(std::sin(state_[1]));
  observation[4] = static_cast<float>(state_[2]);
  observation[5] = static_cast<float>(state_[3]);
}

}  // namespace shoal
