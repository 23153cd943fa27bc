#include "actor/transition_builder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
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

absl::StatusOr<std::unique_ptr<TransitionBuilder>> TransitionBuilder::Create(
    Layout layout, int64_t n_step, double discount) {
  if (n_step < 1 || n_step > kMaxNStep) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_step must be in [1, 2^20], got ", n_step));
  }
  if (!(discount > 0.0 && discount <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("discount must be in (0, 1], got ", discount));
  }
  for (ItemColumn c :
       {ItemColumn::kObservation, ItemColumn::kAction, ItemColumn::kReward,
        ItemColumn::kDiscount, ItemColumn::kNextObservation}) {
    if (layout.slot[static_cast<int>(c)] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "transition items need column '", ItemColumnName(c), "'"));
    }
  }
  return absl::WrapUnique(new TransitionBuilder(
      std::move(layout), static_cast<int>(n_step), discount));
}

TransitionBuilder::TransitionBuilder(Layout layout, int n_step, double discount)
    : ItemBuilder(std::move(layout)),
      n_(n_step),
      gamma_pow_(n_step + 1),
      observation_shape_({layout_.observation_size}),
      head_(layout_.num_envs, 0),
      count_(layout_.num_envs, 0) {
  gamma_pow_[0] = 1.0;
  for (int k = 1; k <= n_; ++k) gamma_pow_[k] = gamma_pow_[k - 1] * discount;
  const size_t slots = static_cast<size_t>(layout_.num_envs) * n_;
  observations_.resize(slots * layout_.observation_size);
  if (layout_.discrete) {
    discrete_actions_.resize(slots);
  } else {
    action_shape_ = {layout_.action_dim};
    box_actions_.resize(slots * layout_.action_dim);
  }
  rewards_.resize(slots);
  versions_.resize(slots);
}

absl::Status TransitionBuilder::Add(const StepBatch& batch,
                                    std::vector<v1::Item>* out) {
  SHOAL_RETURN_IF_ERROR(CheckBatch(batch, /*log_probs=*/false));
  const int64_t obs = layout_.observation_size;
  for (int i = 0; i < layout_.num_envs; ++i) {
    if (batch.is_first[i]) {
      // The auto-reset step: not a step of any episode.
      head_[i] = 0;
      count_[i] = 0;
      continue;
    }
    Push(i, batch);
    const bool terminated = batch.terminated[i];
    const float* next = batch.next_observations.data() + i * obs;
    if (count_[i] == n_) {
      SHOAL_RETURN_IF_ERROR(EmitOldest(i, n_, terminated, next, out));
    }
    if (terminated || batch.truncated[i]) {
      while (count_[i] > 0) {
        SHOAL_RETURN_IF_ERROR(EmitOldest(i, count_[i], terminated, next, out));
      }
      head_[i] = 0;
    }
  }
  return absl::OkStatus();
}

void TransitionBuilder::Push(int i, const StepBatch& batch) {
  const int64_t obs = layout_.observation_size;
  const size_t slot = static_cast<size_t>(i) * n_ + Slot(i, count_[i]);
  std::copy_n(batch.observations.data() + i * obs, obs,
              observations_.data() + slot * obs);
  if (layout_.discrete) {
    discrete_actions_[slot] = batch.discrete_actions[i];
  } else {
    const int dim = layout_.action_dim;
    std::copy_n(batch.box_actions.data() + static_cast<size_t>(i) * dim, dim,
                box_actions_.data() + slot * dim);
  }
  rewards_[slot] = batch.rewards[i];
  versions_[slot] = batch.policy_version;
  ++count_[i];
}

absl::Status TransitionBuilder::EmitOldest(int i, int m, bool terminated,
                                           const float* next_observation,
                                           std::vector<v1::Item>* out) {
  const int64_t obs = layout_.observation_size;
  const size_t base = static_cast<size_t>(i) * n_;
  const size_t first = base + head_[i];
  double ret = 0.0;
  for (int k = 0; k < m; ++k) {
    ret += gamma_pow_[k] * rewards_[base + Slot(i, k)];
  }
  const float reward = static_cast<float>(ret);
  const float discount = terminated ? 0.0f : static_cast<float>(gamma_pow_[m]);

  v1::Item* item = NewItem(i, versions_[first], out);
  SHOAL_RETURN_IF_ERROR(EncodeTensor<float>(
      absl::MakeConstSpan(observations_.data() + first * obs, obs),
      observation_shape_, Column(item, ItemColumn::kObservation)));
  if (layout_.discrete) {
    SHOAL_RETURN_IF_ERROR(EncodeTensor<int64_t>(
        absl::MakeConstSpan(&discrete_actions_[first], 1), action_shape_,
        Column(item, ItemColumn::kAction)));
  } else {
    const int dim = layout_.action_dim;
    SHOAL_RETURN_IF_ERROR(EncodeTensor<float>(
        absl::MakeConstSpan(box_actions_.data() + first * dim, dim),
        action_shape_, Column(item, ItemColumn::kAction)));
  }
  SHOAL_RETURN_IF_ERROR(EncodeTensor<float>(absl::MakeConstSpan(&reward, 1), {},
                                            Column(item, ItemColumn::kReward)));
  SHOAL_RETURN_IF_ERROR(
      EncodeTensor<float>(absl::MakeConstSpan(&discount, 1), {},
                          Column(item, ItemColumn::kDiscount)));
  SHOAL_RETURN_IF_ERROR(EncodeTensor<float>(
      absl::MakeConstSpan(next_observation, obs), observation_shape_,
      Column(item, ItemColumn::kNextObservation)));

  head_[i] = (head_[i] + 1) % n_;
  --count_[i];
  return absl::OkStatus();
}

}  // namespace shoal
