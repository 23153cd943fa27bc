// An Env decorator that makes every Step last at least `step_cost`, by
// sleeping for whatever the wrapped Step did not use (never spinning).
// Emulates an expensive simulator for throughput experiments.
//
// Thread-compatible (see Env). Owns the wrapped env.
#ifndef SHOAL_ACTOR_ENVS_PACED_ENV_H_
#define SHOAL_ACTOR_ENVS_PACED_ENV_H_

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"

namespace shoal {

class PacedEnv final : public Env {
 public:
  // `env` must be non-null and `step_cost` positive (else INVALID_ARGUMENT).
  static absl::StatusOr<std::unique_ptr<PacedEnv>> Create(
      std::unique_ptr<Env> env, absl::Duration step_cost);

  const EnvSpec& spec() const override { return env_->spec(); }
  absl::Status Reset(uint64_t seed, absl::Span<float> observation) override {
    return env_->Reset(seed, observation);
  }
  // The wrapped Step, then a sleep until `step_cost` has passed since the
  // call began. Failed steps return at once.
  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) override;
  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) override {
    return env_->SetState(state, observation);
  }

 private:
  PacedEnv(std::unique_ptr<Env> env, absl::Duration step_cost)
      : env_(std::move(env)), step_cost_(step_cost) {}

  // Constant after construction.
  const std::unique_ptr<Env> env_;
  const absl::Duration step_cost_;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_PACED_ENV_H_
