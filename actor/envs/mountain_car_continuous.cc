#include "actor/envs/mountain_car_continuous.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"

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

absl::StatusOr<std::unique_ptr<MountainCarContinuous>>
MountainCarContinuous::Create(int max_episode_steps) {
  if (max_episode_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_episode_steps must be >= 0, got ", max_episode_steps));
  }
  return std::unique_ptr<MountainCarContinuous>(new MountainCarContinuous(
      max_episode_steps == 0 ? kDefaultMaxEpisodeSteps : max_episode_steps));
}

MountainCarContinuous::MountainCarContinuous(int max_episode_steps)
    : clock_(max_episode_steps) {
  spec_.name = "mountain_car_continuous";
  spec_.observation_shape = {kObservationSize};
  spec_.action_space.kind = ActionSpace::Kind::kBox;
  spec_.action_space.low = {static_cast<float>(kMinAction)};
  spec_.action_space.high = {static_cast<float>(kMaxAction)};
  spec_.max_episode_steps = max_episode_steps;
}

absl::Status MountainCarContinuous::Reset(uint64_t seed,
                                          absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  env_internal::SeededRng rng(seed);
  position_ = rng.Uniform(kResetLow, kResetHigh);
  velocity_ = 0.0;
  float_state_ = false;
  clock_.Start();
  WriteObservation(observation.data());
  return absl::OkStatus();
}

absl::Status MountainCarContinuous::SetState(absl::Span<const double> state,
                                             absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("state", state.size(), kStateSize));
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  position_ = state[0];
  velocity_ = state[1];
  float_state_ = false;
  clock_.Start();
  WriteObservation(observation.data());
  return absl::OkStatus();
}

absl::StatusOr<StepResult> MountainCarContinuous::Step(
    const Action& action, absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(clock_.CheckActive());
  SHOAL_RETURN_IF_ERROR(env_internal::CheckBoxAction(action.box, 1));
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  return StepUnchecked(action, observation.data());
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
  result.truncated = clock_.Tick(terminated);
  WriteObservation(observation);
  return result;
}

void MountainCarContinuous::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(position_);
  observation[1] = static_cast<float>(velocity_);
}

}  // namespace shoal
