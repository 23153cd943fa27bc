#include "actor/envs/pendulum.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"

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

absl::StatusOr<std::unique_ptr<Pendulum>> Pendulum::Create(
    int max_episode_steps) {
  if (max_episode_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_episode_steps must be >= 0, got ", max_episode_steps));
  }
  return std::unique_ptr<Pendulum>(new Pendulum(
      max_episode_steps == 0 ? kDefaultMaxEpisodeSteps : max_episode_steps));
}

Pendulum::Pendulum(int max_episode_steps) : clock_(max_episode_steps) {
  spec_.name = "pendulum";
  spec_.observation_shape = {kObservationSize};
  spec_.action_space.kind = ActionSpace::Kind::kBox;
  spec_.action_space.low = {-kMaxTorque};
  spec_.action_space.high = {kMaxTorque};
  spec_.max_episode_steps = max_episode_steps;
}

absl::Status Pendulum::Reset(uint64_t seed, absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  env_internal::SeededRng rng(seed);
  theta_ = rng.Uniform(-kPi, kPi);
  theta_dot_ = rng.Uniform(-kResetSpeed, kResetSpeed);
  clock_.Start();
  WriteObservation(observation.data());
  return absl::OkStatus();
}

absl::Status Pendulum::SetState(absl::Span<const double> state,
                                absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("state", state.size(), kStateSize));
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  theta_ = state[0];
  theta_dot_ = state[1];
  clock_.Start();
  WriteObservation(observation.data());
  return absl::OkStatus();
}

absl::StatusOr<StepResult> Pendulum::Step(const Action& action,
                                          absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(clock_.CheckActive());
  SHOAL_RETURN_IF_ERROR(env_internal::CheckBoxAction(action.box, 1));
  SHOAL_RETURN_IF_ERROR(env_internal::CheckSize(
      "observation", observation.size(), kObservationSize));
  return StepUnchecked(action, observation.data());
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
  result.truncated = clock_.Tick(/*terminated=*/false);
  WriteObservation(observation);
  return result;
}

void Pendulum::WriteObservation(float* observation) const {
  observation[0] = static_cast<float>(std::cos(theta_));
  observation[1] = static_cast<float>(std::sin(theta_));
  observation[2] = static_cast<float>(theta_dot_);
}

}  // namespace shoal
