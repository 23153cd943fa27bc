#include "actor/unroll_builder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "shoal/v1/replay.pb.h"

#include "common/config_limits.h"
#include "common/status_macros.h"
#include "common/tensor_codec.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<UnrollBuilder>> UnrollBuilder::Create(
    Layout layout, int64_t unroll_length, int64_t unroll_overlap,
    double discount) {
  if (unroll_length < 1 || unroll_length > kMaxUnrollLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unroll_length must be in [1, 2^20], got ", unroll_length));
  }
  if (unroll_overlap < 0 || unroll_overlap >= unroll_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unroll_overlap must be in [0, unroll_length = ", unroll_length,
        "), got ", unroll_overlap));
  }
  if (!(discount > 0.0 && discount <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("discount must be in (0, 1], got ", discount));
  }
  for (ItemColumn c : {ItemColumn::kObservation, ItemColumn::kAction,
                       ItemColumn::kReward, ItemColumn::kDiscount,
                       ItemColumn::kBehaviourLogProb, ItemColumn::kMask}) {
    if (layout.slot[static_cast<int>(c)] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unroll items need column '", ItemColumnName(c), "'"));
    }
  }
  return absl::WrapUnique(
      new UnrollBuilder(std::move(layout), static_cast<int>(unroll_length),
                        static_cast<int>(unroll_overlap), discount));
}

UnrollBuilder::UnrollBuilder(Layout layout, int length, int overlap,
                             double discount)
    : ItemBuilder(std::move(layout)),
      length_(length),
      overlap_(overlap),
      discount_(static_cast<float>(discount)),
      observation_shape_({length + 1, layout_.observation_size}),
      step_shape_({length}),
      count_(layout_.num_envs, 0),
      mask_(length) {
  const size_t k = layout_.num_envs;
  observations_.resize(k * (length_ + 1) * layout_.observation_size);
  if (layout_.discrete) {
    action_shape_ = {length_};
    discrete_actions_.resize(k * length_);
  } else {
    action_shape_ = {length_, layout_.action_dim};
    box_actions_.resize(k * length_ * layout_.action_dim);
  }
  rewards_.resize(k * length_);
  discounts_.resize(k * length_);
  log_probs_.resize(k * length_);
  versions_.resize(k * length_);
}

absl::Status UnrollBuilder::Add(const StepBatch& batch,
                                std::vector<v1::Item>* out) {
  SHOAL_RETURN_IF_ERROR(CheckBatch(batch, /*log_probs=*/true));
  const int64_t obs = layout_.observation_size;
  const int dim = layout_.action_dim;
  for (int i = 0; i < layout_.num_envs; ++i) {
    if (batch.is_first[i]) {
      count_[i] = 0;  // The auto-reset step: not a step of any episode.
      continue;
    }
    const size_t row0 = static_cast<size_t>(i) * (length_ + 1);
    const size_t step = static_cast<size_t>(i) * length_ + count_[i];
    std::copy_n(batch.observations.data() + i * obs, obs,
                observations_.data() + (row0 + count_[i]) * obs);
    if (layout_.discrete) {
      discrete_actions_[step] = batch.discrete_actions[i];
    } else {
      std::copy_n(batch.box_actions.data() + static_cast<size_t>(i) * dim, dim,
                  box_actions_.data() + step * dim);
    }
    const bool terminated = batch.terminated[i];
    rewards_[step] = batch.rewards[i];
    discounts_[step] = terminated ? 0.0f : discount_;
    log_probs_[step] = batch.behaviour_log_probs[i];
    versions_[step] = batch.policy_version;
    ++count_[i];

    const bool ended = terminated || batch.truncated[i];
    if (count_[i] < length_ && !ended) continue;
    // The bootstrap row: what this step returned.
    std::copy_n(batch.next_observations.data() + i * obs, obs,
                observations_.data() + (row0 + count_[i]) * obs);
    SHOAL_RETURN_IF_ERROR(Emit(i, out));
    if (ended) {
      count_[i] = 0;
    } else {
      KeepOverlap(i);
    }
  }
  return absl::OkStatus();
}

absl::Status UnrollBuilder::Emit(int i, std::vector<v1::Item>* out) {
  const int64_t obs = layout_.observation_size;
  const int dim = layout_.action_dim;
  const int m = count_[i];
  const size_t row0 = static_cast<size_t>(i) * (length_ + 1);
  const size_t s0 = static_cast<size_t>(i) * length_;
  float* rows = observations_.data() + row0 * obs;
  // Padding after an episode end; overwritten by the next episode's steps.
  for (int r = m + 1; r <= length_; ++r) {
    std::copy_n(rows + m * obs, obs, rows + r * obs);
  }
  for (int t = m; t < length_; ++t) {
    if (layout_.discrete) {
      discrete_actions_[s0 + t] = 0;
    } else {
      std::fill_n(box_actions_.data() + (s0 + t) * dim, dim, 0.0f);
    }
    rewards_[s0 + t] = 0.0f;
    discounts_[s0 + t] = 0.0f;
    log_probs_[s0 + t] = 0.0f;
  }
  std::fill_n(mask_.begin(), m, 1.0f);
  std::fill(mask_.begin() + m, mask_.end(), 0.0f);

  const size_t t_steps = length_;
  v1::Item* item = NewItem(i, versions_[s0], out);
  SHOAL_RETURN_IF_ERROR(EncodeTensor<float>(
      absl::MakeConstSpan(rows, (t_steps + 1) * obs), observation_shape_,
      Column(item, ItemColumn::kObservation)));
  if (layout_.discrete) {
    SHOAL_RETURN_IF_ERROR(EncodeTensor<int64_t>(
        absl::MakeConstSpan(discrete_actions_.data() + s0, t_steps),
        action_shape_, Column(item, ItemColumn::kAction)));
  } else {
    SHOAL_RETURN_IF_ERROR(EncodeTensor<float>(
        absl::MakeConstSpan(box_actions_.data() + s0 * dim, t_steps * dim),
        action_shape_, Column(item, ItemColumn::kAction)));
  }
  const struct {
    ItemColumn column;
    const float* values;
  } steps[] = {
      {ItemColumn::kReward, rewards_.data() + s0},
      {ItemColumn::kDiscount, discounts_.data() + s0},
      {ItemColumn::kBehaviourLogProb, log_probs_.data() + s0},
      {ItemColumn::kMask, mask_.data()},
  };
  for (const auto& s : steps) {
    SHOAL_RETURN_IF_ERROR(
        EncodeTensor<float>(absl::MakeConstSpan(s.values, t_steps), step_shape_,
                            Column(item, s.column)));
  }
  return absl::OkStatus();
}

void UnrollBuilder::KeepOverlap(int i) {
  // REQUIRES: count_[i] == length_. Steps T-O .. T-1 move to 0 .. O-1;
  // row O is the next step's observation (the old bootstrap row), which
  // that step writes.
  const int64_t obs = layout_.observation_size;
  const int dim = layout_.action_dim;
  const int from = length_ - overlap_;
  const size_t s0 = static_cast<size_t>(i) * length_;
  if (overlap_ > 0) {
    float* rows =
        observations_.data() + static_cast<size_t>(i) * (length_ + 1) * obs;
    std::memmove(rows, rows + from * obs, sizeof(float) * overlap_ * obs);
    auto move = [&](auto* base, size_t width) {
      std::memmove(base + s0 * width, base + (s0 + from) * width,
                   sizeof(*base) * overlap_ * width);
    };
    if (layout_.discrete) {
      move(discrete_actions_.data(), 1);
    } else {
      move(box_actions_.data(), dim);
    }
    move(rewards_.data(), 1);
    move(discounts_.data(), 1);
    move(log_probs_.data(), 1);
    move(versions_.data(), 1);
  }
  count_[i] = overlap_;
}

}  // namespace shoal
