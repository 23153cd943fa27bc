#include "actor/envs/paced_env.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<PacedEnv>> PacedEnv::Create(
    std::unique_ptr<Env> env, absl::Duration step_cost) {
  if (env == nullptr) {
    return absl::InvalidArgumentError("PacedEnv needs an env, got null");
  }
  if (step_cost <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "step_cost must be positive, got ", absl::FormatDuration(step_cost)));
  }
  return std::unique_ptr<PacedEnv>(new PacedEnv(std::move(env), step_cost));
}

absl::StatusOr<StepResult> PacedEnv::Step(const Action& action,
                                          absl::Span<float> observation) {
  const absl::Time deadline = absl::Now() + step_cost_;
  absl::StatusOr<StepResult> result = env_->Step(action, observation);
  if (!result.ok()) return result;
  const absl::Duration left = deadline - absl::Now();
  if (left > absl::ZeroDuration()) absl::SleepFor(left);
  return result;
}

}  // namespace shoal
