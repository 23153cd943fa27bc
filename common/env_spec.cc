#include "common/env_spec.h"

#include <cmath>

#include "absl/strings/str_cat.h"

#include "common/tensor_codec.h"

namespace shoal {
namespace {

const ColumnConfig* FindColumn(const TableConfig& table,
                               absl::string_view name) {
  for (const ColumnConfig& column : table.signature) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

}  // namespace

EnvShape EnvShapeOf(const EnvSpec& spec) {
  EnvShape shape;
  shape.observation_size = spec.observation_size();
  shape.discrete = spec.action_space.discrete();
  shape.num_actions = spec.action_space.num_actions;
  shape.low = spec.action_space.low;
  shape.high = spec.action_space.high;
  return shape;
}

absl::StatusOr<EnvShape> EnvShapeFromSignature(const TableConfig& table,
                                               AlgorithmKind algorithm) {
  const std::string where = absl::StrCat("table '", table.name, "' signature");
  // Unrolls carry a leading time extent on every column.
  const size_t time = algorithm == AlgorithmKind::kImpala ? 1 : 0;
  const ColumnConfig* observation = FindColumn(table, "observation");
  const ColumnConfig* action = FindColumn(table, "action");
  if (observation == nullptr || action == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " has no '", observation == nullptr ? "observation" : "action",
        "' column: the learner sizes its networks from the signature of the "
        "table it samples, never from an env"));
  }
  EnvShape shape;
  shape.observation_size = 1;
  for (size_t k = time; k < observation->shape.size(); ++k) {
    if (observation->shape[k] < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " column 'observation': shape ",
          ShapeString(observation->shape), " must be fixed and non-empty"));
    }
    shape.observation_size *= observation->shape[k];
  }
  if (observation->shape.size() < time) shape.observation_size = 0;
  if (shape.observation_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " column 'observation': shape ",
                     ShapeString(observation->shape), " has no elements"));
  }
  const std::string action_where = absl::StrCat(where, " column 'action'");
  if (action->minimum.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        action_where,
        ": needs minimum and maximum (the action space), e.g. {name: action, "
        "dtype: int64, shape: [], minimum: 0, maximum: 1} for 2 discrete "
        "actions or {name: action, dtype: float32, shape: [1], minimum: -2, "
        "maximum: 2} for a box"));
  }
  if (action->dtype == v1::DTYPE_INT64) {
    if (action->shape.size() != time || action->minimum.size() != 1 ||
        action->minimum[0] != 0 || action->maximum[0] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          action_where, ": a discrete action is one int64 per step (shape ",
          time == 0 ? "[]" : "[T]",
          ") with minimum 0 and maximum n - 1 for n actions, got shape ",
          ShapeString(action->shape), " and minimum ", action->minimum[0]));
    }
    shape.discrete = true;
    shape.num_actions = static_cast<int64_t>(action->maximum[0]) + 1;
    return shape;
  }
  if (action->dtype != v1::DTYPE_FLOAT32 || action->shape.size() != time + 1 ||
      action->shape.back() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        action_where, ": an action is int64 (discrete) or float32 of shape ",
        time == 0 ? "[dim]" : "[T, dim]", " (a box), got ",
        EnumName(action->dtype), " ", ShapeString(action->shape)));
  }
  const int64_t dim = action->shape.back();
  shape.discrete = false;
  for (int64_t d = 0; d < dim; ++d) {
    const size_t k = action->minimum.size() == 1 ? 0 : static_cast<size_t>(d);
    shape.low.push_back(static_cast<float>(action->minimum[k]));
    shape.high.push_back(static_cast<float>(action->maximum[k]));
  }
  return shape;
}

}  // namespace shoal
