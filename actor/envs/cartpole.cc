#include "actor/envs/cartpole.h"

#include <cmath>

namespace shoal {
namespace {

// Gymnasium's constants, combined in the same order as its __init__.
constexpr double kGravity = 9.8;
constexpr double kMassCart = 1.0;
constexpr double kMassPole = 0.1;
constexpr double kTotalMass = kMassPole + kMassCart;
constexpr double kLength = 0.5;  // half the pole's length
constexpr double kPoleMassLength = kMassPole * kLength;
constexpr double kForceMag = 10.0;
constexpr double kTau = 0.02;
constexpr double kPi = 3.141592653589793;
constexpr double kThetaThreshold = 12 * 2 * kPi / 360;
constexpr double kXThreshold = 2.4;
constexpr double kResetBound = 0.05;

}  // namespace

CartPole::CartPole(int max_episode_steps)
    : ClassicControlEnv("cartpole", DiscreteSpace(2), max_episode_steps) {}

void CartPole::ResetState(env_internal::SeededRng* rng) {
  x_ = rng->Uniform(-kResetBound, kResetBound);
  x_dot_ = rng->Uniform(-kResetBound, kResetBound);
  theta_ = rng->Uniform(-kResetBound, kResetBound);
  theta_dot_ = rng->Uniform(-kResetBound, kResetBound);
}

void CartPole::LoadState(absl::Span<const double> state) {
  x_ = state[0];
  x_dot_ = state[1];
  theta_ = state[2];
  theta_dot_ = state[3];
}

StepResult CartPole::StepUnchecked(const Action& action, float* observation) {
  const double force = action.discrete == 1 ? kForceMag : -kForceMag;
  const double costheta = std::cos(theta_);
  const double sintheta = std::sin(theta_);
  const double temp =
      (force + kPoleMassLength * (theta_dot_ * theta_dot_) * sintheta) /
      kTotalMass;
  const double thetaacc =
      (kGravity * sintheta - costheta * temp) /
      (kLength * (4.0 / 3.0 - kMassPole * (costheta * costheta) / kTotalMass));
  const double xacc = temp - kPoleMassLength * thetaacc * costheta / kTotalMass;
  // Explicit Euler: positions use the old velocities.
  x_ = x_ + kTau * x_dot_;
  x_dot_ = x_dot_ + kTau * xacc;
  theta_ = theta_ + kTau * theta_dot_;
  theta_dot_ = theta_dot_ + kTau * thetaacc;

  StepResult result;
  result.terminated = x_ < -kXThreshold || x_ > kXThreshold ||
                      theta_ < -kThetaThreshold || theta_ > kThetaThreshold;
  result.reward = 1.0;
  result.truncated = clock().Tick(result.terminated);
  WriteObservation(observation);
  return result;
}

void CartPole::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(x_);
  observation[1] = static_cast<float>(x_dot_);
  observation[2] = static_cast<float>(theta_);
  observation[3] = static_cast<float>(theta_dot_);
}

}  // namespace shoal
