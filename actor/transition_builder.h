// N-step transitions (dqn, sac). Per env it keeps a ring of the last n
// steps of the current episode; once it holds n steps it emits one item
// for the oldest, t:
//   observation       o_t (the observation a_t was chosen from)
//   action            a_t
//   reward            sum_{k<n} gamma^k r_{t+k}   (discount folded in)
//   discount          gamma^n, or 0 when the episode terminated at t+n-1
//   next_observation  o_{t+n} (what the step t+n-1 returned)
//   policy_version    the version that chose a_t
// When the episode ends at step e, the window of every step still in the
// ring is cut there and emitted too: a window of m <= n steps gets reward
// sum_{k<m} gamma^k r_{t+k}, next_observation = the episode's final
// observation and discount
//   0         when it TERMINATED (no bootstrap), or
//   gamma^m   when it was TRUNCATED (bootstrap from the final observation).
// So every step of an episode yields exactly one transition. The auto-reset
// step (is_first) is ignored: its action, reward and observation never
// reach an item. An is_first for an env with steps still in its ring (only
// when the VectorEnv was Reset mid-episode) drops them, as their episode's
// outcome is unknown.
//
// Steady state allocates only the items: the ring is preallocated.
// Thread-compatible.
#ifndef SHOAL_ACTOR_TRANSITION_BUILDER_H_
#define SHOAL_ACTOR_TRANSITION_BUILDER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shoal/v1/replay.pb.h"

#include "actor/item_builder.h"

namespace shoal {

class TransitionBuilder final : public ItemBuilder {
 public:
  // `layout` must produce observation, action, reward, discount and
  // next_observation (MakeItemBuilder checks it). n_step >= 1; discount
  // (gamma) in (0, 1]. INVALID_ARGUMENT otherwise.
  static absl::StatusOr<std::unique_ptr<TransitionBuilder>> Create(
      Layout layout, int64_t n_step, double discount);

  absl::Status Add(const StepBatch& batch, std::vector<v1::Item>* out) override;

  // Steps of env `env_id`'s current episode not yet emitted (< n).
  int pending(int env_id) const { return count_[env_id]; }

 private:
  TransitionBuilder(Layout layout, int n_step, double discount);

  // Ring slot of env i's k-th oldest pending step.
  int Slot(int i, int k) const { return (head_[i] + k) % n_; }
  // Copies env i's step from `batch` into the ring.
  void Push(int i, const StepBatch& batch);
  // Emits an item for env i's oldest pending step with a window of `m`
  // steps bootstrapping from `next_observation`, and drops that step.
  absl::Status EmitOldest(int i, int m, bool terminated,
                          const float* next_observation,
                          std::vector<v1::Item>* out);

  // Constant after construction.
  const int n_;
  // gamma^k for k = 0..n.
  std::vector<double> gamma_pow_;
  std::vector<int64_t> observation_shape_;  // {obs}
  std::vector<int64_t> action_shape_;       // {} discrete, {act} box

  // Per env i, ring slot s: index i * n + s (times obs or act for vectors).
  std::vector<float> observations_;
  std::vector<int64_t> discrete_actions_;
  std::vector<float> box_actions_;
  std::vector<float> rewards_;
  std::vector<int64_t> versions_;
  // Per env: ring start and number of pending steps.
  std::vector<int> head_;
  std::vector<int> count_;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_TRANSITION_BUILDER_H_
