#include "replay/table.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "common/quote.h"
#include "common/status_macros.h"
#include "common/tensor_codec.h"
#include "replay/selectors/prioritized_selector.h"

namespace shoal {
namespace {

constexpr int kSlotBits = 28;
constexpr int kGenerationBits = 20;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
constexpr uint64_t kGenerationMask = (uint64_t{1} << kGenerationBits) - 1;
constexpr int kShardShift = kSlotBits + kGenerationBits;

std::string Prefix(absl::string_view field) {
  return field.empty() ? std::string() : absl::StrCat(field, ": ");
}

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

// Bytes of a length-delimited field of `n` bytes (one-byte tag).
size_t DelimitedBytes(size_t n) { return 1 + wire::VarintSize(n) + n; }

// Serialised bytes of `tensor`'s dtype, shape and data (what
// ColumnsOnly keeps), as protobuf writes them. REQUIRES: a valid tensor.
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

double Table::MaxPriorityWeight() {
  // Twice the headroom of the largest table: rounding never reaches Inf.
  return std::numeric_limits<double>::max() /
         static_cast<double>(uint64_t{1} << (kSlotBits + 1));
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

absl::StatusOr<bool> Table::Insert(const v1::Item& item, uint64_t writer_id,
                                   uint64_t sequence, absl::Time deadline) {
  const v1::Item* items[] = {&item};
  InsertBatchResult result;
  SHOAL_RETURN_IF_ERROR(
      InsertBatch(items, writer_id, sequence, deadline, &result));
  return result.stored == 1;
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

Table::WriterRun Table::RecordSequence(uint64_t writer_id, uint64_t sequence) {
  WriterRun& run = writers_[writer_id];
  if (run.last == 0 || sequence > run.last + 1) {
    run.first = sequence;  // a new writer, or numbers skipped: a new run
    run.last = sequence;
  } else if (sequence == run.last + 1) {
    run.last = sequence;
  }  // else below the run (a second stream racing): stored, run unchanged
  run.last_insert = insert_counter_;
  const WriterRun updated = run;
  if (static_cast<int64_t>(writers_.size()) <= kMaxWriters) return updated;
  // Forget the idler half: amortised O(1) per insert.
  std::vector<uint64_t> last_inserts;
  last_inserts.reserve(writers_.size());
  for (const auto& [id, w] : writers_) last_inserts.push_back(w.last_insert);
  auto middle = last_inserts.begin() + last_inserts.size() / 2;
  std::nth_element(last_inserts.begin(), middle, last_inserts.end());
  const uint64_t cut = *middle;
  const size_t before = writers_.size();
  // At least half go, however many share the cut (after a restore, all).
  absl::erase_if(writers_, [cut, writer_id](const auto& entry) {
    return entry.first != writer_id && entry.second.last_insert <= cut;
  });
  forgotten_writers_ += static_cast<int64_t>(before - writers_.size());
  return updated;
}

absl::Status Table::InsertBatch(absl::Span<const v1::Item* const> items,
                                uint64_t writer_id, uint64_t first_sequence,
                                absl::Time deadline,
                                InsertBatchResult* result) {
  *result = InsertBatchResult();
  absl::MutexLock lock(&mu_);
  // The writer's stored run; looked up again after each wait, when another
  // insert may have moved it (or rehashed the map).
  WriterRun run;
  auto find_run = [&] {
    mu_.AssertHeld();
    auto it = writers_.find(writer_id);
    run = it != writers_.end() ? it->second : WriterRun();
  };
  find_run();
  for (const v1::Item* item : items) {
    const uint64_t sequence = first_sequence + result->processed;
    auto is_replay = [&] {
      return run.last != 0 && sequence >= run.first && sequence <= run.last;
    };
    while (!is_replay() && !rate_limiter_->CanInsert(&mu_)) {
      SHOAL_RETURN_IF_ERROR(rate_limiter_->AwaitCanInsert(&mu_, deadline));
      find_run();
    }
    ++result->processed;
    if (is_replay()) {
      ++dropped_replays_;
      continue;
    }
    run = InsertLocked(*item, StoredBytes(*item), writer_id, sequence);
    ++result->stored;
  }
  return absl::OkStatus();
}

Table::WriterRun Table::InsertLocked(const v1::Item& item, int64_t bytes,
                                     uint64_t writer_id, uint64_t sequence) {
  while (size_ >= options_.max_size || (options_.max_bytes > 0 && size_ > 0 &&
                                        bytes_ + bytes > options_.max_bytes)) {
    EvictOne();
  }
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  last_insert_slot_ = index;
  Slot& slot = slots_[index];
  slot.data = StorePayload(item);
  slot.priority = item.priority();
  slot.inserted_at = ++insert_counter_;
  slot.policy_version = item.policy_version();
  slot.times_sampled = 0;
  slot.actor_index = static_cast<uint16_t>(item.actor_index());
  slot.env_id = static_cast<uint16_t>(item.env_id());
  sampler_->Insert(index, slot.priority);
  remover_->Insert(index, slot.priority);
  rate_limiter_->Insert(&mu_);
  bytes_ += bytes;
  ++size_;
  ++inserts_;
  return RecordSequence(writer_id, sequence);
}

void Table::BuildSampledItem(const Selection& chosen, v1::SampledItem* out) {
  const Slot& slot = slots_[chosen.slot];
  out->set_key(KeyOf(chosen.slot));
  out->set_priority(slot.priority);
  out->set_probability(chosen.probability);
  out->set_table_size(size_);
  out->set_times_sampled(slot.times_sampled);
  v1::Item* item = out->mutable_item();
  item->set_table(options_.name);
  item->set_priority(slot.priority);
  item->set_policy_version(slot.policy_version);
  item->set_actor_index(slot.actor_index);
  item->set_env_id(slot.env_id);
  LoadPayload(slot, item);
}

void Table::EncodeSampledItem(const Selection& chosen, EncodedSamples* out) {
  const Slot& slot = slots_[chosen.slot];
  SampledItemFields fields;
  fields.key = KeyOf(chosen.slot);
  fields.priority = slot.priority;
  fields.probability = chosen.probability;
  fields.table_size = size_;
  fields.times_sampled = slot.times_sampled;
  fields.policy_version = slot.policy_version;
  fields.actor_index = slot.actor_index;
  fields.env_id = slot.env_id;
  if (fixed_item_bytes_ > 0) {
    encoder_.Append(
        fields,
        absl::string_view(slot.data, static_cast<size_t>(fixed_item_bytes_)),
        out);
  } else {
    const VariableHeader header = VariableHeaderOf(slot);
    encoder_.Append(
        fields,
        absl::string_view(slot.data + sizeof(header), header.serialized_bytes),
        out);
  }
}

void Table::Emit(const Selection& chosen, const SampleSink& sink) {
  if (sink.encoded != nullptr) {
    EncodeSampledItem(chosen, sink.encoded);
  } else {
    BuildSampledItem(chosen, sink.messages->Add());
  }
}

absl::Status Table::Sample(
    int n, absl::Time deadline,
    google::protobuf::RepeatedPtrField<v1::SampledItem>* out) {
  if (n > 0) out->Reserve(out->size() + n);
  SampleSink sink;
  sink.messages = out;
  return SampleInto(n, deadline, sink);
}

absl::Status Table::SampleEncoded(int n, absl::Time deadline,
                                  EncodedSamples* out, int64_t max_bytes,
                                  bool* full) {
  if (n > 0) {
    // Framing is ~30 bytes plus the table name for a one-column item; a
    // byte bound caps what is reserved as well as what is taken.
    const size_t per_item =
        encoder_.fixed_columns_bytes() + 64 + options_.name.size();
    size_t want = static_cast<size_t>(n) * per_item;
    if (max_bytes > 0) want = std::min(want, static_cast<size_t>(max_bytes));
    out->bytes.reserve(out->bytes.size() + want);
    out->ends.reserve(out->ends.size() +
                      std::min<size_t>(n, want / per_item + 1));
  }
  SampleSink sink;
  sink.encoded = out;
  sink.max_bytes = max_bytes;
  sink.full = full;
  if (full != nullptr) *full = false;
  return SampleInto(n, deadline, sink);
}

int Table::RoomFor(int want, const SampleSink& sink) const {
  if (sink.max_bytes <= 0) return want;
  const int64_t used = static_cast<int64_t>(sink.encoded->bytes.size());
  const auto per_item =
      static_cast<int64_t>(encoder_.MaxAppendedBytes(/*columns_bytes=*/0));
  const int64_t room = std::max<int64_t>(0, sink.max_bytes - used) / per_item;
  if (room == 0 && used == 0) return std::min(want, 1);
  return static_cast<int>(std::min<int64_t>(want, room));
}

bool Table::Fits(uint32_t slot, const SampleSink& sink) const {
  if (sink.max_bytes <= 0 || sink.encoded->bytes.empty()) return true;
  const size_t columns = fixed_item_bytes_ > 0
                             ? 0
                             : VariableHeaderOf(slots_[slot]).serialized_bytes;
  return static_cast<int64_t>(sink.encoded->bytes.size() +
                              encoder_.MaxAppendedBytes(columns)) <=
         sink.max_bytes;
}

absl::Status Table::SampleInto(int n, absl::Time deadline,
                               const SampleSink& sink) {
  if (n <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_samples must be > 0, got ", n));
  }
  absl::MutexLock lock(&mu_);
  int taken = 0;
  while (taken < n) {
    if (!rate_limiter_->CanSample(&mu_)) {
      absl::Status waited = rate_limiter_->AwaitCanSample(&mu_, deadline);
      if (!waited.ok()) {
        if (taken > 0 && absl::IsDeadlineExceeded(waited)) break;
        return waited;
      }
      continue;
    }
    if (options_.max_times_sampled > 0 ||
        (sink.max_bytes > 0 && fixed_item_bytes_ <= 0)) {
      // One at a time: an item may have to leave before the next pick, or
      // its size decides whether it fits.
      const Selection chosen = sampler_->Select(rng_);
      if (!Fits(chosen.slot, sink)) {  // not taken: nothing counted
        if (sink.full != nullptr) *sink.full = true;
        break;
      }
      Slot& slot = slots_[chosen.slot];
      ++slot.times_sampled;
      Emit(chosen, sink);
      rate_limiter_->Sample(&mu_);
      ++samples_;
      ++taken;
      if (options_.max_times_sampled > 0 &&
          slot.times_sampled >= options_.max_times_sampled) {
        DeleteSlot(chosen.slot);
        ++evictions_;
      }
      continue;
    }
    // Pick every sample the limiter allows now, then touch the picked slots,
    // then their payloads, then build: the random reads of a large table
    // overlap instead of waiting on each other.
    picks_.clear();
    const int batch = RoomFor(n - taken, sink);
    if (batch == 0) {  // the byte bound is reached
      if (sink.full != nullptr) *sink.full = true;
      break;
    }
    if (rate_limiter_->CanSample(&mu_, batch)) {
      // The limiter allows the batch at once: pick them together.
      picks_.resize(batch);
      sampler_->SelectBatch(rng_, absl::MakeSpan(picks_));
      rate_limiter_->Sample(&mu_, batch);
      samples_ += batch;
      taken += batch;
    } else {
      for (int i = 0; i < batch && rate_limiter_->CanSample(&mu_); ++i) {
        picks_.push_back(sampler_->Select(rng_));
        rate_limiter_->Sample(&mu_);
        ++samples_;
        ++taken;
      }
    }
    for (const Selection& pick : picks_) {
      const char* slot = reinterpret_cast<const char*>(&slots_[pick.slot]);
      __builtin_prefetch(slot, /*rw=*/1);
      __builtin_prefetch(slot + sizeof(Slot) - 1, /*rw=*/1);
    }
    for (const Selection& pick : picks_) {
      const Slot& slot = slots_[pick.slot];
      __builtin_prefetch(slot.data);
      __builtin_prefetch(slot.data + 64);
    }
    // Counted as each copy is emitted: an item picked twice in one call
    // says n - 1, then n ("this time included", replay.proto).
    for (const Selection& pick : picks_) {
      ++slots_[pick.slot].times_sampled;
      Emit(pick, sink);
    }
  }
  return absl::OkStatus();
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
  return info;
}

void Table::Reset() {
  absl::MutexLock lock(&mu_);
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].data != nullptr) DeleteSlot(i);
  }
  rate_limiter_->Reset(&mu_);
}

void Table::Cancel() {
  absl::MutexLock lock(&mu_);
  rate_limiter_->Cancel(&mu_);
}

}  // namespace shoal
