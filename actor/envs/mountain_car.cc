#include "actor/envs/mountain_car.h"

#include <algorithm>
#include <cmath>

namespace shoal {
namespace {

constexpr double kMinPosition = -1.2;
constexpr double kMaxPosition = 0.6;
constexpr double kMaxSpeed = 0.07;
constexpr double kGoalPosition = 0.5;
constexpr double kGoalVelocity = 0.0;
constexpr double kForce = 0.001;
constexpr double kGravity = 0.0025;
constexpr double kResetLow = -0.6;
constexpr double kResetHigh = -0.4;

}  // namespace

MountainCar::MountainCar(int max_episode_steps)
    : ClassicControlEnv("mountain_car", DiscreteSpace(3), max_episode_steps) {}

void MountainCar::ResetState(env_internal::SeededRng* rng) {
  position_ = rng->Uniform(kResetLow, kResetHigh);
  velocity_ = 0.0;
}

void MountainCar::LoadState(absl::Span<const double> state) {
  position_ = state[0];
  velocity_ = state[1];
}

StepResult MountainCar::StepUnchecked(const Action& action,
                                      float* observation) {
  velocity_ = velocity_ + (static_cast<double>(action.discrete - 1) * kForce +
                           std::cos(3 * position_) * (-kGravity));
  velocity_ = std::min(std::max(velocity_, -kMaxSpeed), kMaxSpeed);
  position_ = position_ + velocity_;
  position_ = std::min(std::max(position_, kMinPosition), kMaxPosition);
  if (position_ == kMinPosition && velocity_ < 0) velocity_ = 0.0;

  StepResult result;
  result.terminated = position_ >= kGoalPosition && velocity_ >= kGoalVelocity;
  result.reward = -1.0;
  result.truncated = clock().Tick(result.terminated);
  WriteObservation(observation);
  return result;
}

void MountainCar::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(position_);
  observation[1] = static_cast<float>(velocity_);
}

}  // namespace shoal
