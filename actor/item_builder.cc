#include "actor/item_builder.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "shoal/v1/replay.pb.h"
#include "shoal/v1/tensor.pb.h"

#include "actor/transition_builder.h"
#include "actor/unroll_builder.h"
#include "common/config_limits.h"
#include "common/status_macros.h"
#include "common/tensor_codec.h"

namespace shoal {
namespace {

constexpr absl::string_view kColumnNames[kNumItemColumns] = {
    "observation",        "action", "reward", "discount", "next_observation",
    "behaviour_log_prob", "mask",
};

// The columns `algorithm` produces, in default order.
std::vector<ItemColumn> Columns(AlgorithmKind algorithm) {
  if (algorithm == AlgorithmKind::kImpala) {
    return {ItemColumn::kObservation,      ItemColumn::kAction,
            ItemColumn::kReward,           ItemColumn::kDiscount,
            ItemColumn::kBehaviourLogProb, ItemColumn::kMask};
  }
  return {ItemColumn::kObservation, ItemColumn::kAction, ItemColumn::kReward,
          ItemColumn::kDiscount, ItemColumn::kNextObservation};
}

v1::TensorSpec MakeSpec(ItemColumn column, v1::DType dtype,
                        std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(std::string(ItemColumnName(column)));
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// "dqn items for cartpole (discrete actions)", for messages.
std::string ItemsFor(const AlgorithmConfig& algorithm, const EnvSpec& spec) {
  return absl::StrCat(
      EnumName(algorithm.name), " items for ", spec.name,
      spec.action_space.discrete() ? " (discrete actions)" : " (box actions)");
}

bool ShapeMatches(absl::Span<const int64_t> got,
                  absl::Span<const int64_t> want) {
  if (got.size() != want.size()) return false;
  for (size_t d = 0; d < got.size(); ++d) {
    if (got[d] != -1 && got[d] != want[d]) return false;
  }
  return true;
}

absl::Status CheckSize(absl::string_view field, size_t got, size_t want) {
  if (got == want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "StepBatch.", field, " has ", got, " values, expected ", want));
}

}  // namespace

absl::string_view ItemColumnName(ItemColumn column) {
  return kColumnNames[static_cast<int>(column)];
}

absl::Status ItemBuilder::CheckBatch(const StepBatch& batch,
                                     bool log_probs) const {
  const size_t k = layout_.num_envs;
  const size_t obs = k * layout_.observation_size;
  SHOAL_RETURN_IF_ERROR(
      CheckSize("observations", batch.observations.size(), obs));
  SHOAL_RETURN_IF_ERROR(
      CheckSize("next_observations", batch.next_observations.size(), obs));
  if (layout_.discrete) {
    SHOAL_RETURN_IF_ERROR(
        CheckSize("discrete_actions", batch.discrete_actions.size(), k));
  } else {
    SHOAL_RETURN_IF_ERROR(CheckSize("box_actions", batch.box_actions.size(),
                                    k * layout_.action_dim));
  }
  SHOAL_RETURN_IF_ERROR(CheckSize("rewards", batch.rewards.size(), k));
  SHOAL_RETURN_IF_ERROR(CheckSize("terminated", batch.terminated.size(), k));
  SHOAL_RETURN_IF_ERROR(CheckSize("truncated", batch.truncated.size(), k));
  SHOAL_RETURN_IF_ERROR(CheckSize("is_first", batch.is_first.size(), k));
  if (log_probs) {
    SHOAL_RETURN_IF_ERROR(
        CheckSize("behaviour_log_probs", batch.behaviour_log_probs.size(), k));
  }
  return absl::OkStatus();
}

v1::Item* ItemBuilder::NewItem(int env_id, int64_t policy_version,
                               std::vector<v1::Item>* out) const {
  v1::Item& item = out->emplace_back();
  item.set_table(layout_.table);
  item.set_priority(layout_.initial_priority);
  item.set_policy_version(policy_version);
  item.set_actor_index(layout_.actor_index);
  item.set_env_id(env_id);
  auto* columns = item.mutable_columns();
  columns->Reserve(layout_.num_columns);
  for (int c = 0; c < layout_.num_columns; ++c) columns->Add();
  return &item;
}

std::vector<v1::TensorSpec> ItemSignature(const AlgorithmConfig& algorithm,
                                          const EnvSpec& spec) {
  const int64_t obs = spec.observation_size();
  const bool discrete = spec.action_space.discrete();
  const v1::DType action_dtype = discrete ? v1::DTYPE_INT64 : v1::DTYPE_FLOAT32;
  const int64_t dim = spec.action_space.dim();
  std::vector<v1::TensorSpec> out;
  if (algorithm.name == AlgorithmKind::kImpala) {
    const int64_t t = algorithm.impala.unroll_length;
    out.push_back(
        MakeSpec(ItemColumn::kObservation, v1::DTYPE_FLOAT32, {t + 1, obs}));
    out.push_back(MakeSpec(
        ItemColumn::kAction, action_dtype,
        discrete ? std::vector<int64_t>{t} : std::vector<int64_t>{t, dim}));
    for (ItemColumn c : {ItemColumn::kReward, ItemColumn::kDiscount,
                         ItemColumn::kBehaviourLogProb, ItemColumn::kMask}) {
      out.push_back(MakeSpec(c, v1::DTYPE_FLOAT32, {t}));
    }
    return out;
  }
  out.push_back(MakeSpec(ItemColumn::kObservation, v1::DTYPE_FLOAT32, {obs}));
  out.push_back(
      MakeSpec(ItemColumn::kAction, action_dtype,
               discrete ? std::vector<int64_t>{} : std::vector<int64_t>{dim}));
  out.push_back(MakeSpec(ItemColumn::kReward, v1::DTYPE_FLOAT32, {}));
  out.push_back(MakeSpec(ItemColumn::kDiscount, v1::DTYPE_FLOAT32, {}));
  out.push_back(
      MakeSpec(ItemColumn::kNextObservation, v1::DTYPE_FLOAT32, {obs}));
  return out;
}

namespace {

// The action column's minimum and maximum, when given, are the env's
// action space: 0 and num_actions - 1, or the box's low and high.
absl::Status CheckActionBounds(const ColumnConfig& column, const EnvSpec& spec,
                               const std::string& where) {
  if (column.minimum.empty()) return absl::OkStatus();
  const ActionSpace& space = spec.action_space;
  std::vector<double> low, high;
  if (space.discrete()) {
    low = {0.0};
    high = {static_cast<double>(space.num_actions - 1)};
  } else {
    low.assign(space.low.begin(), space.low.end());
    high.assign(space.high.begin(), space.high.end());
  }
  auto bound = [](const std::vector<double>& values, size_t k) {
    return static_cast<float>(values.size() == 1 ? values[0] : values[k]);
  };
  bool same = column.minimum.size() == 1 || column.minimum.size() == low.size();
  for (size_t k = 0; same && k < low.size(); ++k) {
    same = bound(column.minimum, k) == static_cast<float>(low[k]) &&
           bound(column.maximum, k) == static_cast<float>(high[k]);
  }
  if (same) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      where, " column 'action': minimum [", absl::StrJoin(column.minimum, ", "),
      "] and maximum [", absl::StrJoin(column.maximum, ", "), "], but env '",
      spec.name, "' has actions in [", absl::StrJoin(low, ", "), "] .. [",
      absl::StrJoin(high, ", "), "]"));
}

}  // namespace

absl::Status CheckItemSignature(const TableConfig& table,
                                const AlgorithmConfig& algorithm,
                                const EnvSpec& spec) {
  if (table.signature.empty()) return absl::OkStatus();
  const std::vector<v1::TensorSpec> want = ItemSignature(algorithm, spec);
  const std::string where = absl::StrCat("table '", table.name, "'");
  std::vector<bool> seen(want.size(), false);
  for (size_t j = 0; j < table.signature.size(); ++j) {
    const ColumnConfig& got = table.signature[j];
    size_t w = 0;
    while (w < want.size() && want[w].name() != got.name) ++w;
    if (w == want.size()) {
      std::vector<std::string> names;
      for (const v1::TensorSpec& s : want) names.push_back(s.name());
      return absl::InvalidArgumentError(
          absl::StrCat(where, " signature[", j, "] column '", got.name,
                       "' is not in ", ItemsFor(algorithm, spec),
                       ", which have columns ", absl::StrJoin(names, ", ")));
    }
    seen[w] = true;
    if (got.dtype != want[w].dtype()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " column '", got.name, "': dtype ",
                       EnumName(got.dtype), ", but ", ItemsFor(algorithm, spec),
                       " have ", EnumName(want[w].dtype())));
    }
    if (!ShapeMatches(got.shape, want[w].shape())) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " column '", got.name, "': shape ", ShapeString(got.shape),
          ", but ", ItemsFor(algorithm, spec), " have ",
          ShapeString(want[w].shape())));
    }
    if (got.name == ItemColumnName(ItemColumn::kAction)) {
      SHOAL_RETURN_IF_ERROR(CheckActionBounds(got, spec, where));
    }
  }
  for (size_t w = 0; w < want.size(); ++w) {
    if (!seen[w]) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has no column '", want[w].name(), "', which ",
                       ItemsFor(algorithm, spec), " have"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ItemBuilder>> MakeItemBuilder(
    const ExperimentConfig& config, const EnvSpec& spec,
    const ItemBuilderOptions& options) {
  const TableConfig* table = config.FindTable(config.actor.table);
  if (table == nullptr) {
    return absl::NotFoundError(absl::StrCat("actor.table '", config.actor.table,
                                            "' is not in tables"));
  }
  const AlgorithmConfig& algorithm = config.algorithm;
  SHOAL_RETURN_IF_ERROR(CheckItemSignature(*table, algorithm, spec));
  if (config.actor.num_envs < 1 || config.actor.num_envs > kMaxEnvsPerActor) {
    return absl::InvalidArgumentError(
        absl::StrCat("actor.num_envs must be in [1, ", kMaxEnvsPerActor,
                     "], got ", config.actor.num_envs));
  }
  if (spec.observation_size() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("env '", spec.name, "' has an empty observation shape ",
                     ShapeString(spec.observation_shape)));
  }
  if (!spec.action_space.discrete() && spec.action_space.dim() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("env '", spec.name, "' has a 0-dimensional box"));
  }
  if (!(options.initial_priority >= 0.0) ||
      !std::isfinite(options.initial_priority)) {
    return absl::InvalidArgumentError(
        absl::StrCat("initial_priority must be finite and >= 0, got ",
                     options.initial_priority));
  }

  ItemBuilder::Layout layout;
  layout.table = table->name;
  layout.num_envs = static_cast<int>(config.actor.num_envs);
  layout.observation_size = spec.observation_size();
  layout.discrete = spec.action_space.discrete();
  layout.action_dim = spec.action_space.dim();
  layout.actor_index = options.actor_index;
  layout.initial_priority = options.initial_priority;
  const std::vector<ItemColumn> columns = Columns(algorithm.name);
  layout.num_columns = static_cast<int>(columns.size());
  for (int c = 0; c < layout.num_columns; ++c) {
    int slot = c;  // Default order unless the signature says otherwise.
    for (size_t j = 0; j < table->signature.size(); ++j) {
      if (table->signature[j].name == ItemColumnName(columns[c])) {
        slot = static_cast<int>(j);
      }
    }
    layout.slot[static_cast<int>(columns[c])] = slot;
  }

  if (algorithm.name == AlgorithmKind::kImpala) {
    SHOAL_ASSIGN_OR_RETURN(
        std::unique_ptr<UnrollBuilder> unrolls,
        UnrollBuilder::Create(std::move(layout), algorithm.impala.unroll_length,
                              algorithm.impala.unroll_overlap,
                              algorithm.discount));
    return std::unique_ptr<ItemBuilder>(std::move(unrolls));
  }
  SHOAL_ASSIGN_OR_RETURN(
      std::unique_ptr<TransitionBuilder> transitions,
      TransitionBuilder::Create(std::move(layout), algorithm.n_step,
                                algorithm.discount));
  return std::unique_ptr<ItemBuilder>(std::move(transitions));
}

}  // namespace shoal
