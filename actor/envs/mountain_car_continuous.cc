#include "actor/envs/mountain_car_continuous.h"

#include <algorithm>
#include <cmath>

namespace shoal {
namespace {

constexpr double kMinAction = -1.0;
constexpr double kMaxAction = 1.0;
constexpr double kMinPosition = -1.2;
constexpr double kMaxPosition = 0.6;
constexpr double kMaxSpeed = 0.07;
constexpr double kGoalPosition = 0.45;
constexpr double kPower = 0.0015;
constexpr double kGravity = 0.0025;
constexpr double kGoalReward = 100.0;
constexpr double kActionCost = 0.1;
constexpr double kResetLow = -0.6;
constexpr double kResetHigh = -0.4;

// The same constants as NumPy 2 casts them next to a float32 ("weak" Python
// floats).
constexpr float kPowerF = static_cast<float>(kPower);
constexpr float kMinPositionF = static_cast<float>(kMinPosition);
constexpr float kMaxPositionF = static_cast<float>(kMaxPosition);
constexpr float kMaxSpeedF = static_cast<float>(kMaxSpeed);
constexpr float kGoalPositionF = static_cast<float>(kGoalPosition);

}  // namespace

MountainCarContinuous::MountainCarContinuous(int max_episode_steps)
    : ClassicControlEnv("mountain_car_continuous",
                        BoxSpace(static_cast<float>(kMinAction),
                                 static_cast<float>(kMaxAction)),
                        max_episode_steps) {}

void MountainCarContinuous::ResetState(env_internal::SeededRng* rng) {
  position_ = rng->Uniform(kResetLow, kResetHigh);
  velocity_ = 0.0;
  float_state_ = false;
}

void MountainCarContinuous::LoadState(absl::Span<const double> state) {
  position_ = state[0];
  velocity_ = state[1];
  float_state_ = false;
}

StepResult MountainCarContinuous::StepUnchecked(const Action& action,
                                                float* observation) {
  const float a = action.box[0];
  // Python's min(max(a, -1.0), 1.0) returns the Python float bound when it
  // clips, so an out-of-range force is a double, an in-range one a float32.
  const bool force_is_double = a < kMinAction || a > kMaxAction;
  const double force_d = a < kMinAction ? kMinAction : kMaxAction;
  bool terminated;
  if (!float_state_) {
    // First step after reset: the state is float64.
    double p = position_;
    double v = velocity_;
    const double gravity_term = kGravity * std::cos(3.0 * p);
    if (force_is_double) {
      v = v + (force_d * kPower - gravity_term);
    } else {
      const float inc = a * kPowerF - static_cast<float>(gravity_term);
      v = v + static_cast<double>(inc);
    }
    v = std::min(std::max(v, -kMaxSpeed), kMaxSpeed);
    p = p + v;
    p = std::min(std::max(p, kMinPosition), kMaxPosition);
    if (p == kMinPosition && v < 0) v = 0.0;
    terminated = p >= kGoalPosition && v >= 0;
    position_ = static_cast<float>(p);
    velocity_ = static_cast<float>(v);
    float_state_ = true;
  } else {
    float p = static_cast<float>(position_);
    float v = static_cast<float>(velocity_);
    const double gravity_term =
        kGravity * std::cos(static_cast<double>(3.0f * p));
    float inc;
    if (force_is_double) {
      inc = static_cast<float>(force_d * kPower - gravity_term);
    } else {
      inc = a * kPowerF - static_cast<float>(gravity_term);
    }
    v = v + inc;
    v = std::min(std::max(v, -kMaxSpeedF), kMaxSpeedF);
    p = p + v;
    p = std::min(std::max(p, kMinPositionF), kMaxPositionF);
    if (p == kMinPositionF && v < 0) v = 0.0f;
    terminated = p >= kGoalPositionF && v >= 0;
    position_ = p;
    velocity_ = v;
  }

  StepResult result;
  result.terminated = terminated;
  result.reward = (terminated ? kGoalReward : 0.0) -
                  env_internal::Pow(static_cast<double>(a), 2.0) * kActionCost;
  result.truncated = clock().Tick(terminated);
  WriteObservation(observation);
  return result;
}

void MountainCarContinuous::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(position_);
  observation[1] = static_cast<float>(velocity_);
}

}  // namespace shoal
