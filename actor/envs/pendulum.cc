#include "actor/envs/pendulum.h"

#include <algorithm>
#include <cmath>

namespace shoal {
namespace {

constexpr double kPi = 3.141592653589793;
constexpr double kMaxSpeed = 8.0;
constexpr double kDt = 0.05;
// 3 * g / (2 * l) with g = 10, l = 1, and 3 / (m * l**2) with m = 1.
constexpr double kGravityTerm = 15.0;
constexpr float kTorqueTerm = 3.0f;
constexpr double kSpeedCost = 0.1;
constexpr float kTorqueCost = 0.001f;
constexpr double kResetSpeed = 1.0;

}  // namespace

Pendulum::Pendulum(int max_episode_steps)
    : ClassicControlEnv("pendulum", BoxSpace(-kMaxTorque, kMaxTorque),
                        max_episode_steps) {}

void Pendulum::ResetState(env_internal::SeededRng* rng) {
  theta_ = rng->Uniform(-kPi, kPi);
  theta_dot_ = rng->Uniform(-kResetSpeed, kResetSpeed);
}

void Pendulum::LoadState(absl::Span<const double> state) {
  theta_ = state[0];
  theta_dot_ = state[1];
}

StepResult Pendulum::StepUnchecked(const Action& action, float* observation) {
  const float u = std::min(std::max(action.box[0], -kMaxTorque), kMaxTorque);
  const double angle = env_internal::FloorMod(theta_ + kPi, 2 * kPi) - kPi;
  const double costs =
      env_internal::Pow(angle, 2.0) +
      kSpeedCost * env_internal::Pow(theta_dot_, 2.0) +
      static_cast<double>(kTorqueCost * env_internal::Powf(u, 2.0f));
  double new_theta_dot = theta_dot_ + (kGravityTerm * std::sin(theta_) +
                                       static_cast<double>(kTorqueTerm * u)) *
                                          kDt;
  new_theta_dot = std::min(std::max(new_theta_dot, -kMaxSpeed), kMaxSpeed);
  theta_ = theta_ + new_theta_dot * kDt;
  theta_dot_ = new_theta_dot;

  StepResult result;
  result.reward = -costs;
  result.terminated = false;
  result.truncated = clock().Tick(/*terminated=*/false);
  WriteObservation(observation);
  return result;
}

void Pendulum::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(std::cos(theta_));
  observation[1] = static_cast<float>(std::sin(theta_));
  observation[2] = static_cast<float>(theta_dot_);
}

}  // namespace shoal
