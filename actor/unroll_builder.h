// Fixed-length unrolls (impala). Per env it collects the steps of the
// current episode; an item of T = unroll_length steps t_0 .. t_{T-1} holds
//   observation         [T+1, obs]: o_{t_0} .. o_{t_{T-1}}, then the
//                       bootstrap row o_{t_T} (what the last step returned)
//   action              [T] int64 (or [T, act] f32 for a box space)
//   reward              [T]
//   discount            [T]: gamma per step, 0 on the step that TERMINATED
//   behaviour_log_prob  [T]
//   mask                [T]: 1 for real steps, 0 for padding
//   policy_version      the version that chose a_{t_0}
// Consecutive unrolls of an episode share unroll_overlap steps: after an
// item the last `overlap` steps start the next one.
//
// Episode boundaries: an unroll never crosses one. When an episode ends
// (terminated or truncated) on its m-th step (m <= T), the unroll is
// emitted at once with m real steps: row m of observation is the episode's
// final observation, steps m .. T-1 are padding (mask 0, action 0, reward
// 0, discount 0, behaviour_log_prob 0, observation rows m+1 .. T repeat the
// final observation). A TERMINATED last step has discount 0; a TRUNCATED
// one keeps gamma, so V-trace bootstraps from the final observation, as
// it must for a time limit. The next episode's first unroll starts empty
// (no overlap across episodes). The learner must weigh every loss term by
// mask and treat padded steps as rho = c = 0 (so that vs = V there and
// nothing flows back into the real steps). The auto-reset step (is_first)
// is ignored; an is_first for an env with a partial unroll (VectorEnv
// Reset mid-episode) drops that unroll.
//
// Steady state allocates only the items: per-env buffers are preallocated.
// Thread-compatible.
#ifndef SHOAL_ACTOR_UNROLL_BUILDER_H_
#define SHOAL_ACTOR_UNROLL_BUILDER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shoal/v1/replay.pb.h"

#include "actor/item_builder.h"

namespace shoal {

class UnrollBuilder final : public ItemBuilder {
 public:
  // `layout` must produce observation, action, reward, discount,
  // behaviour_log_prob and mask (MakeItemBuilder checks it).
  // unroll_length >= 1, 0 <= unroll_overlap < unroll_length, discount in
  // (0, 1]. INVALID_ARGUMENT otherwise.
  static absl::StatusOr<std::unique_ptr<UnrollBuilder>> Create(
      Layout layout, int64_t unroll_length, int64_t unroll_overlap,
      double discount);

  // REQUIRES: batch.behaviour_log_probs holds K values.
  absl::Status Add(const StepBatch& batch, std::vector<v1::Item>* out) override;

  // Steps in env `env_id`'s current unroll (overlap included), < T.
  int pending(int env_id) const { return count_[env_id]; }

 private:
  UnrollBuilder(Layout layout, int length, int overlap, double discount);

  // Emits env i's unroll of count_[i] real steps; its bootstrap row is
  // already in place.
  absl::Status Emit(int i, std::vector<v1::Item>* out);
  // Moves env i's last `overlap_` steps to the front of its buffers.
  void KeepOverlap(int i);

  // Constant after construction.
  const int length_;
  const int overlap_;
  const float discount_;
  std::vector<int64_t> observation_shape_;  // {T+1, obs}
  std::vector<int64_t> action_shape_;       // {T} or {T, act}
  std::vector<int64_t> step_shape_;         // {T}

  // Per env i: rows i * (T+1) .. (observations), steps i * T .. (others).
  std::vector<float> observations_;
  std::vector<int64_t> discrete_actions_;
  std::vector<float> box_actions_;
  std::vector<float> rewards_;
  std::vector<float> discounts_;
  std::vector<float> log_probs_;
  std::vector<int64_t> versions_;
  // Steps in each env's current unroll.
  std::vector<int> count_;
  // Scratch for the mask column, [T].
  std::vector<float> mask_;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_UNROLL_BUILDER_H_
