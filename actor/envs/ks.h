// The Kuramoto-Sivashinsky control task of jx-wang-s-group/PIMBRL (class
// `ks`): u_t = -u_xx - u_xxxx - u u_x + f(x; a) on a periodic 64-point grid
// of length 8 pi, integrated in float32 by 250 RK4 substeps of dt = 0.001
// per env step, with finite-difference stencils (6th-order u_xx, 4th-order
// u_xxxx, 4th-order upwind convection on u^2).
// Observation: the 64 values of u. Action: 4 amplitudes of fixed Gaussian
// actuators at x = 0, 2 pi, 4 pi, 6 pi; the box is [-0.5, 0.5]^4 but, as in
// PIMBRL, the env does not clip (NaN/infinite values are INVALID_ARGUMENT).
// Reward: minus the substep average of mean(lapa^2) + mean(gradient^2) +
// mean(u f) (dissipation plus actuation power, unscaled stencil outputs).
// Never terminates; truncated on step max_episode_steps (default 400).
// Reset(seed) starts from one of the 200 rows of PIMBRL's ks_init.tensor,
// which is compiled into the library.
//
// Cost: about 250 * 4 stencil passes over 64 floats per Step; no
// allocation after Create. Thread-compatible (see Env).
#ifndef SHOAL_ACTOR_ENVS_KS_H_
#define SHOAL_ACTOR_ENVS_KS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/env_util.h"

namespace shoal {

class Ks final : public Env {
 public:
  static constexpr int kDefaultMaxEpisodeSteps = 400;
  static constexpr int kGridSize = 64;
  static constexpr int kNumActuators = 4;
  static constexpr float kActionLimit = 0.5f;
  static constexpr int kSubsteps = 250;
  // Rows in the built-in initial-state table.
  static constexpr int kNumInitialStates = 200;

  // `max_episode_steps` 0 means kDefaultMaxEpisodeSteps; negative is
  // INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<Ks>> Create(int max_episode_steps = 0);

  // Row `index` of the initial-state table (kGridSize floats).
  // REQUIRES: 0 <= index < kNumInitialStates.
  static void InitialState(int index, float* u);

  const EnvSpec& spec() const override { return spec_; }
  // Starts from a row of the initial-state table drawn uniformly from
  // `seed`.
  absl::Status Reset(uint64_t seed, absl::Span<float> observation) override;
  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) override;
  // `state` is u (kGridSize values), rounded to float32.
  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) override;

  // Step without checks, for VectorEnv's batch path. No allocation.
  // REQUIRES: an episode is running, `action.box` holds kNumActuators
  // finite values, and `observation` holds kGridSize floats.
  StepResult StepUnchecked(const Action& action, float* observation);

 private:
  explicit Ks(int max_episode_steps);

  EnvSpec spec_;
  env_internal::EpisodeClock clock_;
  // The field u.
  alignas(64) float u_[kGridSize] = {};
  // Actuator profiles f_k(x_j), constant after construction.
  alignas(64) float profiles_[kNumActuators][kGridSize] = {};
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_KS_H_
