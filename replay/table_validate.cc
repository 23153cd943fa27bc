// Table's validation of what clients send (see table.h): items against the
// signature and the byte bounds, priorities against the sum tree's finite
// total, sequence numbers against each writer's stored run.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"

#include "common/quote.h"
#include "common/status_macros.h"
#include "common/tensor_codec.h"
#include "replay/table.h"

namespace shoal {
namespace {

std::string Prefix(absl::string_view field) {
  return field.empty() ? std::string() : absl::StrCat(field, ": ");
}

// Bytes of a length-delimited field of `n` bytes (one-byte tag).
size_t DelimitedBytes(size_t n) { return 1 + wire::VarintSize(n) + n; }

// Serialised bytes of `tensor`'s dtype, shape and data (what
// the variable layout stores), as protobuf writes them. REQUIRES: a valid
// tensor.
size_t TensorWireBytes(const v1::Tensor& tensor) {
  size_t n = 0;
  if (tensor.dtype() != 0) n += 1 + wire::VarintSize(tensor.dtype());
  if (tensor.shape_size() > 0) {
    size_t packed = 0;
    for (int64_t d : tensor.shape()) packed += wire::VarintSize(d);
    n += DelimitedBytes(packed);
  }
  if (!tensor.data().empty()) n += DelimitedBytes(tensor.data().size());
  return n;
}

}  // namespace

double Table::MaxPriorityWeight() {
  // Twice the headroom of the largest table: rounding never reaches Inf.
  return std::numeric_limits<double>::max() /
         (2.0 * static_cast<double>(kMaxTableSize + 1));
}

absl::Status Table::CheckPriority(double priority,
                                  absl::string_view field) const {
  if (!std::isfinite(priority) || priority < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be finite and >= 0, got ", priority));
  }
  for (const auto& [kind, exponent, role] :
       {std::make_tuple(options_.sampler, options_.sampler_priority_exponent,
                        "sampler"),
        std::make_tuple(options_.remover, options_.remover_priority_exponent,
                        "remover")}) {
    if (kind != SelectorKind::kPrioritized || priority == 0.0) continue;
    const double weight = std::pow(priority, exponent);
    if (!(weight <= MaxPriorityWeight())) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " ", priority, " weighs ", weight, " with the ", role,
          "'s priority_exponent ", exponent, ", over ", MaxPriorityWeight(),
          " (a table of such items would sum to infinity)"));
    }
  }
  return absl::OkStatus();
}

int64_t Table::StoredBytes(const v1::Item& item) const {
  if (fixed_item_bytes_ > 0) return fixed_item_bytes_;
  size_t total = sizeof(VariableHeader);
  for (const v1::Tensor& column : item.columns()) {
    total += DelimitedBytes(TensorWireBytes(column));
  }
  return static_cast<int64_t>(total);
}

absl::Status Table::Validate(const v1::Item& item,
                             absl::string_view field) const {
  // Valid items (nearly all) build no field names; a failed check runs
  // again naming them.
  absl::Status fast = ValidateItem(item, field, /*named=*/false);
  if (fast.ok()) return fast;
  return ValidateItem(item, field, /*named=*/true);
}

absl::Status Table::ValidateItem(const v1::Item& item, absl::string_view field,
                                 bool named) const {
  const std::string pre = named ? Prefix(field) : std::string();
  if (item.table() != options_.name) {
    return absl::InvalidArgumentError(absl::StrCat(
        pre, "table ", Quote(item.table()), " is not '", options_.name, "'"));
  }
  SHOAL_RETURN_IF_ERROR(
      CheckPriority(item.priority(),
                    named ? absl::StrCat(field, ".priority") : std::string()));
  if (item.actor_index() < 0 || item.actor_index() > 0xFFFF) {
    return absl::InvalidArgumentError(absl::StrCat(
        pre, "actor_index must be in [0, 65535], got ", item.actor_index()));
  }
  if (item.env_id() < 0 || item.env_id() > 0xFFFF) {
    return absl::InvalidArgumentError(
        absl::StrCat(pre, "env_id must be in [0, 65535], got ", item.env_id()));
  }
  if (item.columns_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(pre, "item has no columns"));
  }
  const int want = static_cast<int>(options_.signature.size());
  if (want > 0 && item.columns_size() < want) {
    return absl::InvalidArgumentError(absl::StrCat(
        pre, "missing column ", options_.signature[item.columns_size()].name(),
        ": item has ", item.columns_size(), " columns, signature has ", want));
  }
  if (want > 0 && item.columns_size() > want) {
    return absl::InvalidArgumentError(
        absl::StrCat(pre, "extra column: item has ", item.columns_size(),
                     " columns, signature has ", want));
  }
  for (int i = 0; i < item.columns_size(); ++i) {
    const std::string column_field =
        named ? absl::StrCat(field, ".columns[", i, "]") : std::string();
    if (want > 0) {
      SHOAL_RETURN_IF_ERROR(CheckTensorMatchesSpec(
          item.columns(i), options_.signature[i], column_field));
    } else {
      SHOAL_RETURN_IF_ERROR(ValidateTensor(item.columns(i), column_field));
    }
  }
  const int64_t bytes = StoredBytes(item);
  if (bytes > kMaxItemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        pre, "item of ", bytes, " bytes is over the limit of ", kMaxItemBytes));
  }
  if (options_.max_bytes > 0 && bytes > options_.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(pre, "item of ", bytes, " bytes exceeds max_bytes ",
                     options_.max_bytes, " of table ", options_.name));
  }
  return absl::OkStatus();
}

absl::Status Table::CheckSequences(uint64_t writer_id, uint64_t first_sequence,
                                   int64_t count) const {
  absl::MutexLock lock(&mu_);
  auto it = writers_.find(writer_id);
  if (it == writers_.end() || count <= 0) return absl::OkStatus();
  const WriterRun& run = it->second;
  if (first_sequence < run.first && first_sequence <= run.last) {
    return absl::InvalidArgumentError(absl::StrCat(
        "first_sequence: ", first_sequence, " goes back below ", run.first,
        ", where the run of numbers this shard stored for writer ", writer_id,
        " in table ", options_.name, " starts (it ends at ", run.last,
        "): numbers there were never stored here or were in an earlier run, "
        "and the shard cannot tell which (a writer numbers its items upwards "
        "and resends only from its oldest unacknowledged one)"));
  }
  return absl::OkStatus();
}

}  // namespace shoal
