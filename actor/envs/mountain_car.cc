#include "actor/envs/mountain_car.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"

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

absl::StatusOr<std::unique_ptr<MountainCar>> MountainCar::Create(
    int max_episode_steps) {
  if (max_episode_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_episode_steps must be >= 0, got ", max_episode_steps));
  }
  return std::unique_ptr<MountainCar>(new MountainCar(
      max_episode_steps == 0 ? kDefaultMaxEpisodeSteps : max_episode_steps));
}

MountainCar::MountainCar(int max_episode_steps) : clock_(max_episode_steps) {
  spec_.name = "mountain_car";
  spec_.observation_shape = {kObservationSize};
  spec_.action_space.kind = ActionSpace::Kind::kDiscrete;
  spec_.action_space.num_actions = 3;
  spec_.max_episode_steps = max_episode_steps;
}

absl::Status MountainCar::Reset(uint64_t seed, absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  env_internal::SeededRng rng(seed);
  position_ = rng.Uniform(kResetLow, kResetHigh);
  velocity_ = 0.0;
  clock_.Start();
  WriteObservation(observation.data());
  return absl::OkStatus();
}

absl::Status MountainCar::SetState(absl::Span<const double> state,
                                   absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("state", state.size(), kStateSize));
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  position_ = state[0];
  velocity_ = state[1];
  clock_.Start();
  WriteObservation(observation.data());
  return absl::OkStatus();
}

absl::StatusOr<StepResult> MountainCar::Step(const Action& action,
                                             absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(clock_.CheckActive());
  SHOAL_RETURN_IF_ERROR(env_internal::CheckDiscreteAction(
      action.discrete, spec_.action_space.num_actions));
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  return StepUnchecked(action, observation.data());
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
  result.truncated = clock_.Tick(result.terminated);
  WriteObservation(observation);
  return result;
}

void MountainCar::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(position_);
  observation[1] = static_cast<float>(velocity_);
}

}  // namespace shoal
