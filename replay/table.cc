#include "replay/table.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "common/tensor_codec.h"

namespace shoal {
namespace {

constexpr int kSlotBits = 28;
constexpr int kGenerationBits = 20;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
constexpr uint64_t kGenerationMask = (uint64_t{1} << kGenerationBits) - 1;
constexpr int kShardShift = kSlotBits + kGenerationBits;

// Payload bytes of every item, or -1 when the signature admits several.
// REQUIRES: a signature Table::Create accepted (sizes checked there).
int64_t FixedItemBytes(const std::vector<v1::TensorSpec>& signature) {
  if (signature.empty()) return -1;
  int64_t total = 0;
  for (const v1::TensorSpec& spec : signature) {
    for (int64_t d : spec.shape()) {
      if (d < 0) return -1;
    }
    total += *NumBytes(spec.dtype(), spec.shape(), "");
  }
  // Zero-byte items take the variable layout, so data is never null.
  return total > 0 ? total : -1;
}

// An Item holding only the dtype, shape and data of `item`'s columns: what
// the variable layout stores (never a client's unknown fields).
v1::Item ColumnsOnly(const v1::Item& item) {
  v1::Item columns_only;
  columns_only.mutable_columns()->Reserve(item.columns_size());
  for (const v1::Tensor& column : item.columns()) {
    v1::Tensor* copy = columns_only.add_columns();
    copy->set_dtype(column.dtype());
    *copy->mutable_shape() = column.shape();
    copy->set_data(column.data());
  }
  return columns_only;
}

}  // namespace

TableOptions TableOptionsFromConfig(const TableConfig& config,
                                    int shard_index) {
  TableOptions options;
  options.name = config.name;
  for (const ColumnConfig& column : config.signature) {
    options.signature.push_back(ToTensorSpec(column));
  }
  options.sampler = config.sampler.kind;
  options.sampler_priority_exponent = config.sampler.priority_exponent;
  options.remover = config.remover.kind;
  options.remover_priority_exponent = config.remover.priority_exponent;
  options.max_size = config.max_size;
  options.max_bytes = config.max_bytes;
  options.max_times_sampled = config.max_times_sampled;
  options.rate_limiter.samples_per_insert =
      config.rate_limiter.samples_per_insert;
  options.rate_limiter.min_size_to_sample =
      config.rate_limiter.min_size_to_sample;
  options.rate_limiter.min_diff = config.rate_limiter.min_diff;
  options.rate_limiter.max_diff = config.rate_limiter.max_diff;
  options.shard_index = shard_index;
  return options;
}

absl::StatusOr<std::unique_ptr<Table>> Table::Create(TableOptions options) {
  if (options.name.empty()) {
    return absl::InvalidArgumentError("table name must not be empty");
  }
  const std::string where = absl::StrCat("table ", options.name, ": ");
  static_assert(kMaxTableSize == int64_t{kSlotMask}, "a slot per key");
  if (options.max_size < 1 || options.max_size > kMaxTableSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "max_size must be in [1, ", kMaxTableSize,
                     "], got ", options.max_size));
  }
  if (options.max_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "max_bytes must be >= 0, got ", options.max_bytes));
  }
  if (options.max_times_sampled < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "max_times_sampled must be >= 0, got ",
                     options.max_times_sampled));
  }
  if (options.shard_index < 0 || options.shard_index > 0xFFFF) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "shard_index must be in [0, 65535], got ", options.shard_index));
  }
  int64_t fixed_bytes = 0;
  for (int i = 0; i < static_cast<int>(options.signature.size()); ++i) {
    const v1::TensorSpec& spec = options.signature[i];
    if (DTypeSize(spec.dtype()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "signature[", i, "] (", spec.name(), ") has no dtype"));
    }
    bool wildcard = false;
    for (int64_t d : spec.shape()) {
      if (d < -1) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "signature[", i, "] (", spec.name(),
                         ") has extent ", d, " (must be >= 0 or -1)"));
      }
      wildcard |= d == -1;
    }
    absl::StatusOr<int64_t> bytes = NumBytes(
        spec.dtype(), spec.shape(), absl::StrCat("signature[", i, "]"));
    if (!wildcard && (!bytes.ok() || *bytes > kMaxItemBytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "signature[", i, "] (", spec.name(), ") is over ",
                       kMaxItemBytes, " bytes"));
    }
    fixed_bytes += wildcard ? 0 : *bytes;
    if (fixed_bytes > kMaxItemBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "the signature's columns are over ",
                       kMaxItemBytes, " bytes together"));
    }
  }
  absl::Status limiter_ok = RateLimiter::Validate(options.rate_limiter);
  if (!limiter_ok.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, limiter_ok.message()));
  }
  const auto capacity = static_cast<uint32_t>(options.max_size);
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ItemSelector> sampler,
                         MakeSelector(options.sampler, capacity,
                                      options.sampler_priority_exponent));
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ItemSelector> remover,
                         MakeSelector(options.remover, capacity,
                                      options.remover_priority_exponent));
  auto rate_limiter = std::make_unique<RateLimiter>(options.rate_limiter);
  const int64_t fixed = FixedItemBytes(options.signature);
  return std::unique_ptr<Table>(
      new Table(std::move(options), fixed, std::move(sampler),
                std::move(remover), std::move(rate_limiter)));
}

Table::Table(TableOptions options, int64_t fixed_item_bytes,
             std::unique_ptr<ItemSelector> sampler,
             std::unique_ptr<ItemSelector> remover,
             std::unique_ptr<RateLimiter> rate_limiter)
    : options_(std::move(options)),
      fixed_item_bytes_(fixed_item_bytes),
      encoder_(options_.name, options_.signature, fixed_item_bytes > 0),
      sampler_(std::move(sampler)),
      remover_(std::move(remover)),
      rate_limiter_(std::move(rate_limiter)) {
  absl::MutexLock lock(&mu_);
  if (fixed_item_bytes_ > 0) {
    pool_ = std::make_unique<BlockPool>(fixed_item_bytes_);
  }
  // Reserving maps address space only; pages are touched as slots fill.
  slots_.reserve(options_.max_size);
}

Table::~Table() {
  Cancel();
  absl::MutexLock lock(&mu_);
  for (Slot& slot : slots_) {
    if (slot.data != nullptr) FreePayload(slot.data);
  }
}

char* Table::StorePayload(const v1::Item& item) {
  if (fixed_item_bytes_ > 0) {
    char* block = pool_->Allocate();
    char* out = block;
    for (const v1::Tensor& column : item.columns()) {
      std::memcpy(out, column.data().data(), column.data().size());
      out += column.data().size();
    }
    return block;
  }
  // Variable layout: a VariableHeader, then the serialised columns.
  const v1::Item columns_only = ColumnsOnly(item);
  VariableHeader header;
  header.serialized_bytes = static_cast<uint32_t>(columns_only.ByteSizeLong());
  header.payload_bytes = 0;
  for (const v1::Tensor& column : item.columns()) {
    header.payload_bytes += static_cast<uint32_t>(column.data().size());
  }
  assert(sizeof(header) + header.serialized_bytes ==
         static_cast<size_t>(StoredBytes(item)));
  char* block = static_cast<char*>(
      std::malloc(sizeof(VariableHeader) + header.serialized_bytes));
  std::memcpy(block, &header, sizeof(header));
  columns_only.SerializeToArray(block + sizeof(header),
                                static_cast<int>(header.serialized_bytes));
  return block;
}

void Table::FreePayload(char* data) {
  if (fixed_item_bytes_ > 0) {
    pool_->Free(data);
  } else {
    std::free(data);
  }
}

void Table::LoadPayload(const Slot& slot, v1::Item* item) const {
  if (fixed_item_bytes_ > 0) {
    const char* in = slot.data;
    for (const v1::TensorSpec& spec : options_.signature) {
      v1::Tensor* column = item->add_columns();
      column->set_dtype(spec.dtype());
      *column->mutable_shape() = spec.shape();
      int64_t n = DTypeSize(spec.dtype());
      for (int64_t d : spec.shape()) n *= d;
      column->set_data(in, n);
      in += n;
    }
    return;
  }
  const VariableHeader header = VariableHeaderOf(slot);
  v1::Item columns_only;
  columns_only.ParseFromArray(slot.data + sizeof(header),
                              static_cast<int>(header.serialized_bytes));
  item->mutable_columns()->Swap(columns_only.mutable_columns());
}

int64_t Table::PayloadBytes(const Slot& slot) const {
  if (fixed_item_bytes_ > 0) return fixed_item_bytes_;
  return static_cast<int64_t>(sizeof(VariableHeader)) +
         VariableHeaderOf(slot).serialized_bytes;
}

Table::VariableHeader Table::VariableHeaderOf(const Slot& slot) {
  VariableHeader header;
  std::memcpy(&header, slot.data, sizeof(header));
  return header;
}

uint64_t Table::KeyOf(uint32_t slot) const {
  return (static_cast<uint64_t>(options_.shard_index) << kShardShift) |
         ((slots_[slot].inserted_at & kGenerationMask) << kSlotBits) | slot;
}

void Table::DeleteSlot(uint32_t index) {
  Slot& slot = slots_[index];
  sampler_->Delete(index);
  remover_->Delete(index);
  rate_limiter_->Delete(&mu_);
  bytes_ -= PayloadBytes(slot);
  --size_;
  if (!walk_.has_value() || slot.inserted_at > walk_->last_inserted_at ||
      walk_->Position(index) < walk_->chunk_begin) {
    FreePayload(slot.data);  // not in the running checkpoint, or written
  } else if (walk_->Position(index) < walk_->chunk_end) {
    walk_->deleted_in_chunk.push_back(slot.data);
  } else {
    walk_->deleted_unwritten.push_back({index, slot});
  }
  slot = Slot();
  free_slots_.push_back(index);
}

void Table::EvictOne() {
  const Selection victim = remover_->Select(rng_);
  DeleteSlot(victim.slot);
  ++evictions_;
}

absl::StatusOr<PriorityUpdateResult> Table::UpdatePriorities(
    absl::Span<const uint64_t> keys, absl::Span<const double> priorities) {
  if (keys.size() != priorities.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys has ", keys.size(), " entries but priorities has ",
                     priorities.size()));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    SHOAL_RETURN_IF_ERROR(
        CheckPriority(priorities[i], absl::StrCat("priorities[", i, "]")));
    const int64_t shard = static_cast<int64_t>(keys[i] >> kShardShift);
    if (shard != options_.shard_index) {
      return absl::InvalidArgumentError(
          absl::StrCat("keys[", i, "] belongs to shard ", shard,
                       ", this is shard ", options_.shard_index));
    }
  }
  PriorityUpdateResult result;
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint64_t index = keys[i] & kSlotMask;
    const uint64_t generation = (keys[i] >> kSlotBits) & kGenerationMask;
    if (index >= slots_.size() || slots_[index].data == nullptr ||
        (slots_[index].inserted_at & kGenerationMask) != generation) {
      result.missing_keys.push_back(keys[i]);
      continue;
    }
    slots_[index].priority = priorities[i];
    sampler_->Update(static_cast<uint32_t>(index), priorities[i]);
    remover_->Update(static_cast<uint32_t>(index), priorities[i]);
    ++result.updated;
  }
  return result;
}

v1::TableInfo Table::Info() const {
  v1::TableInfo info;
  info.set_name(options_.name);
  for (const v1::TensorSpec& spec : options_.signature) {
    *info.add_signature() = spec;
  }
  info.set_max_size(options_.max_size);
  info.set_max_bytes(options_.max_bytes);
  info.set_max_times_sampled(static_cast<int32_t>(options_.max_times_sampled));
  absl::MutexLock lock(&mu_);
  info.set_sampler(std::string(sampler_->name()));
  info.set_remover(std::string(remover_->name()));
  info.set_size(size_);
  info.set_bytes(bytes_);
  info.set_inserts(inserts_);
  info.set_samples(samples_);
  info.set_evictions(evictions_);
  info.set_dropped_replays(dropped_replays_);
  info.set_writers(static_cast<int64_t>(writers_.size()));
  info.set_forgotten_writers(forgotten_writers_);
  info.set_total_priority(sampler_->TotalPriority());
  rate_limiter_->FillInfo(&mu_, info.mutable_rate_limiter());
  // Parked inserts are held back as much as those waiting with a thread.
  info.mutable_rate_limiter()->set_blocked_inserts(
      info.rate_limiter().blocked_inserts() + insert_waiters_.size());
  return info;
}

void Table::Reset() {
  std::vector<InsertWaiter*> woken;
  {
    absl::MutexLock lock(&mu_);
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].data != nullptr) DeleteSlot(i);
    }
    rate_limiter_->Reset(&mu_);
    TakeReadyInsertsLocked(&woken);
  }
  WakeInserts(woken);
}

void Table::Cancel() {
  std::vector<InsertWaiter*> woken;
  {
    absl::MutexLock lock(&mu_);
    rate_limiter_->Cancel(&mu_);
    TakeReadyInsertsLocked(&woken);
  }
  WakeInserts(woken);
}

}  // namespace shoal
