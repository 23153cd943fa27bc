// Turns the actor's vector-env steps into replay items: n-step transitions
// for dqn and sac (TransitionBuilder), fixed-length unrolls for impala
// (UnrollBuilder). The actor calls Add() once per VectorEnv::Step with the
// whole batch of K envs and inserts whatever items come out.
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ItemBuilder> builder,
//                          MakeItemBuilder(config, venv->spec(), options));
//   ...
//   SHOAL_RETURN_IF_ERROR(builder->Add(batch, &items));
//
// Columns (observations are flattened to [obs] = spec.observation_size()):
//   dqn, sac  observation [obs] f32, action (int64 [] discrete, f32 [act]
//             box), reward [] f32, discount [] f32, next_observation [obs]
//             f32. See transition_builder.h for the n-step rules.
//   impala    observation [T+1, obs] f32, action (int64 [T] or f32 [T, act]),
//             reward [T], discount [T], behaviour_log_prob [T], mask [T] f32.
//             See unroll_builder.h for episode boundaries and padding.
// Items carry the columns in the order of the table's configured signature
// (ItemSignature's order when the signature is empty).
//
// Episode ends follow VectorEnv's auto-reset: the step that ends an episode
// brings its final observation in next_observations; the following step of
// that env (is_first) is a reset, not a step, and produces nothing.
//
// Thread-compatible: one thread calls Add at a time.
#ifndef SHOAL_ACTOR_ITEM_BUILDER_H_
#define SHOAL_ACTOR_ITEM_BUILDER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "shoal/v1/replay.pb.h"
#include "shoal/v1/tensor.pb.h"

#include "actor/envs/env.h"
#include "common/config.h"

namespace shoal {

// One VectorEnv step of K envs; views into the actor's buffers, valid for
// the Add call only. Env i's values are at i (times the per-env size).
struct StepBatch {
  // [K * obs]: the observations the actions were chosen from.
  absl::Span<const float> observations;
  // [K] for a discrete action space, [K * act] for a box; the other empty.
  absl::Span<const int64_t> discrete_actions;
  absl::Span<const float> box_actions;
  // [K] each, as VectorEnv::Step wrote them.
  absl::Span<const float> rewards;
  absl::Span<const bool> terminated;
  absl::Span<const bool> truncated;
  absl::Span<const bool> is_first;
  // [K * obs]: what Step returned (the final observation at an episode end).
  absl::Span<const float> next_observations;
  // [K]: log pi(action | observation) of the behaviour policy; impala only.
  absl::Span<const float> behaviour_log_probs;
  // Version of the policy that chose these actions.
  int64_t policy_version = 0;
};

// The columns builders fill.
enum class ItemColumn {
  kObservation,
  kAction,
  kReward,
  kDiscount,
  kNextObservation,
  kBehaviourLogProb,
  kMask,
};
inline constexpr int kNumItemColumns = 7;

// "observation", "action", ... as in table signatures.
absl::string_view ItemColumnName(ItemColumn column);

// Settings that are not in the experiment config.
struct ItemBuilderOptions {
  // Recorded in every item's actor_index.
  int actor_index = 0;
  // Priority of new items (see ItemBuilder::set_initial_priority); >= 0.
  double initial_priority = 1.0;
};

class ItemBuilder {
 public:
  // Where a builder's items go and what they hold. Built by MakeItemBuilder.
  struct Layout {
    std::string table;
    int num_envs = 1;
    int64_t observation_size = 1;
    bool discrete = true;
    // Floats per box action; 1 for discrete.
    int action_dim = 1;
    // Position of each ItemColumn in Item.columns; -1 when not produced.
    std::array<int, kNumItemColumns> slot = {-1, -1, -1, -1, -1, -1, -1};
    int num_columns = 0;
    int actor_index = 0;
    double initial_priority = 1.0;
  };

  virtual ~ItemBuilder() = default;

  // Consumes one vector step and appends the items it completes to `*out`
  // (existing elements are kept). A span of the wrong size is
  // INVALID_ARGUMENT naming it, and no state changes. Allocates nothing
  // besides the new items. O(K * (obs + n)) for transitions, O(K * obs)
  // for unrolls, plus the items' bytes.
  virtual absl::Status Add(const StepBatch& batch,
                           std::vector<v1::Item>* out) = 0;

  // The priority given to items built from now on (e.g. the largest
  // priority seen so far). REQUIRES: finite and >= 0.
  void set_initial_priority(double priority) {
    layout_.initial_priority = priority;
  }
  double initial_priority() const { return layout_.initial_priority; }
  const Layout& layout() const { return layout_; }

 protected:
  explicit ItemBuilder(Layout layout) : layout_(std::move(layout)) {}

  // Checks every span's size against the layout; `log_probs` says whether
  // behaviour_log_probs is needed.
  absl::Status CheckBatch(const StepBatch& batch, bool log_probs) const;
  // Appends an item for `env_id` with its metadata set and num_columns
  // empty columns.
  v1::Item* NewItem(int env_id, int64_t policy_version,
                    std::vector<v1::Item>* out) const;
  // The column `column` of an item made by NewItem. REQUIRES: produced.
  v1::Tensor* Column(v1::Item* item, ItemColumn column) const {
    return item->mutable_columns(layout_.slot[static_cast<int>(column)]);
  }

  Layout layout_;
};

// The columns `algorithm.name` produces for `spec`, in the builders'
// default order; use it to write a table signature (shoalctl prints it).
std::vector<v1::TensorSpec> ItemSignature(const AlgorithmConfig& algorithm,
                                          const EnvSpec& spec);

// OK when `table.signature` is empty (unchecked) or holds exactly
// ItemSignature's columns, in any order, with the same dtypes and shapes
// (an extent of -1 matches any size; allow_nonfinite is not compared).
// Otherwise INVALID_ARGUMENT naming the table and the column.
absl::Status CheckItemSignature(const TableConfig& table,
                                const AlgorithmConfig& algorithm,
                                const EnvSpec& spec);

// The builder for config.algorithm, inserting into config.actor.table, for
// config.actor.num_envs envs of `spec`. Checks the table's signature with
// CheckItemSignature, and n_step, unroll_length, unroll_overlap and
// discount. INVALID_ARGUMENT (or NOT_FOUND for a missing table) otherwise.
absl::StatusOr<std::unique_ptr<ItemBuilder>> MakeItemBuilder(
    const ExperimentConfig& config, const EnvSpec& spec,
    const ItemBuilderOptions& options);

}  // namespace shoal

#endif  // SHOAL_ACTOR_ITEM_BUILDER_H_
