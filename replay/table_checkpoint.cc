// Table::WriteCheckpoint and Table::RestoreCheckpoint (see table.h).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"

#include "common/status_macros.h"
#include "common/tensor_codec.h"
#include "replay/table.h"

namespace shoal {
namespace {

// What Table::Validate checks of an item's metadata and columns, minus
// max_bytes (which may have been lowered since the checkpoint was written).
absl::Status CheckRestoredItem(const v1::Item& item,
                               const std::vector<v1::TensorSpec>& signature) {
  if (!std::isfinite(item.priority()) || item.priority() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority ", item.priority()));
  }
  if (item.actor_index() < 0 || item.actor_index() > 0xFFFF ||
      item.env_id() < 0 || item.env_id() > 0xFFFF) {
    return absl::InvalidArgumentError(absl::StrCat(
        "actor_index ", item.actor_index(), ", env_id ", item.env_id()));
  }
  if (item.columns_size() == 0 ||
      (!signature.empty() &&
       item.columns_size() != static_cast<int>(signature.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(item.columns_size(), " columns"));
  }
  for (int i = 0; i < item.columns_size(); ++i) {
    const std::string field = absl::StrCat("columns[", i, "]");
    SHOAL_RETURN_IF_ERROR(
        signature.empty()
            ? ValidateTensor(item.columns(i), field)
            : CheckTensorMatchesSpec(item.columns(i), signature[i], field));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> Table::WriteCheckpoint(RecordWriter* writer) {
  absl::MutexLock checkpoint_lock(&checkpoint_mu_);
  v1::TableCheckpointHeader header;
  {
    absl::MutexLock lock(&mu_);
    header.set_name(options_.name);
    for (const v1::TensorSpec& spec : options_.signature) {
      *header.add_signature() = spec;
    }
    header.set_num_items(size_);
    header.set_insert_counter(insert_counter_);
    header.set_inserts(inserts_);
    header.set_samples(samples_);
    header.set_evictions(evictions_);
    const RateLimiter::Cursor cursor = rate_limiter_->cursor(&mu_);
    header.set_limiter_inserts(cursor.inserts);
    header.set_limiter_samples(cursor.samples);
    header.set_limiter_deletes(cursor.deletes);
    for (const auto& [writer_id, run] : writers_) {
      v1::WriterSequence* w = header.add_writers();
      w->set_writer_id(writer_id);
      w->set_last_sequence(run.last);
      w->set_run_first(run.first);
    }
    const uint32_t end = static_cast<uint32_t>(slots_.size());
    walk_ = CheckpointWalk{};
    walk_->last_inserted_at = insert_counter_;
    walk_->end = end;
    walk_->first = last_insert_slot_ + 1 < end ? last_insert_slot_ + 1 : 0;
    walk_->chunk_begin = walk_->chunk_end = 0;
  }
  absl::Status status = writer->Write(header);
  int64_t written = 0;
  v1::CheckpointItem record;
  auto write = [&](const IndexedSlot& item) {
    const Slot& slot = item.slot;
    // Blocks are immutable, and this one is neither freed nor reused until
    // the walk lets it go: reading it without mu_ is safe.
    const int64_t block = fixed_item_bytes_ > 0
                              ? fixed_item_bytes_
                              : static_cast<int64_t>(sizeof(VariableHeader)) +
                                    VariableHeaderOf(slot).serialized_bytes;
    record.set_slot(item.index);
    record.set_inserted_at(slot.inserted_at);
    record.set_priority(slot.priority);
    record.set_times_sampled(slot.times_sampled);
    record.set_policy_version(slot.policy_version);
    record.set_actor_index(slot.actor_index);
    record.set_env_id(slot.env_id);
    record.set_payload(slot.data, block);
    status = writer->Write(record);
    ++written;
  };
  constexpr uint32_t kChunkSlots = 4096;
  std::vector<IndexedSlot> chunk;
  chunk.reserve(kChunkSlots);
  std::vector<IndexedSlot> unwritten;  // owned: deleted from the table
  auto free_written = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (char* data : walk_->deleted_in_chunk) FreePayload(data);
    walk_->deleted_in_chunk.clear();
    for (const IndexedSlot& item : unwritten) FreePayload(item.slot.data);
    unwritten.clear();
  };
  while (true) {
    chunk.clear();
    {
      absl::MutexLock lock(&mu_);
      free_written();
      if (!status.ok()) break;
      unwritten.swap(walk_->deleted_unwritten);
      walk_->chunk_begin = walk_->chunk_end;
      if (walk_->chunk_begin == walk_->end && unwritten.empty()) break;
      walk_->chunk_end = std::min(walk_->end, walk_->chunk_begin + kChunkSlots);
      for (uint32_t p = walk_->chunk_begin; p < walk_->chunk_end; ++p) {
        const uint32_t i = p < walk_->end - walk_->first
                               ? walk_->first + p
                               : p - (walk_->end - walk_->first);
        if (i >= slots_.size()) continue;  // Reset never shrinks; be safe
        const Slot& slot = slots_[i];
        if (slot.data != nullptr &&
            slot.inserted_at <= walk_->last_inserted_at) {
          chunk.push_back({i, slot});
        }
      }
    }
    for (size_t i = 0; status.ok() && i < chunk.size(); ++i) write(chunk[i]);
    for (size_t i = 0; status.ok() && i < unwritten.size(); ++i) {
      write(unwritten[i]);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    free_written();
    for (const IndexedSlot& item : walk_->deleted_unwritten) {
      FreePayload(item.slot.data);
    }
    walk_.reset();
  }
  if (!status.ok()) return status;
  if (written != header.num_items()) {
    return absl::InternalError(absl::StrCat("checkpoint of table ",
                                            options_.name, " wrote ", written,
                                            " items of ", header.num_items()));
  }
  return written;
}

absl::Status Table::RestoreCheckpoint(const v1::TableCheckpointHeader& header,
                                      RecordReader* reader) {
  const std::string where = absl::StrCat("checkpoint of table ", header.name());
  bool same_signature =
      header.signature_size() == static_cast<int>(options_.signature.size());
  for (int i = 0; same_signature && i < header.signature_size(); ++i) {
    same_signature = google::protobuf::util::MessageDifferencer::Equals(
        header.signature(i), options_.signature[i]);
  }
  if (!same_signature) {
    return absl::FailedPreconditionError(absl::StrCat(
        where,
        ": its signature differs from the configured one; move the "
        "checkpoint away or restore the old signature"));
  }
  if (header.num_items() < 0) {
    return absl::DataLossError(
        absl::StrCat(where, ": num_items ", header.num_items()));
  }
  if (header.num_items() > options_.max_size) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": holds ", header.num_items(),
                     " items but max_size is ", options_.max_size));
  }
  if (header.writers_size() > kMaxWriters) {
    return absl::DataLossError(absl::StrCat(where, ": ", header.writers_size(),
                                            " writers, at most ", kMaxWriters));
  }
  for (const v1::WriterSequence& w : header.writers()) {
    if (w.last_sequence() == 0 || w.run_first() > w.last_sequence()) {
      return absl::DataLossError(absl::StrCat(where, ": writer ", w.writer_id(),
                                              " has the run [", w.run_first(),
                                              ", ", w.last_sequence(), "]"));
    }
  }
  const RateLimiter::Cursor cursor = {header.limiter_inserts(),
                                      header.limiter_samples(),
                                      header.limiter_deletes()};
  // The limiter counts the items held (inserts - deletes): it must agree,
  // or it lets samples into an empty table.
  if (cursor.deletes < 0 || cursor.deletes > cursor.inserts ||
      cursor.samples < 0 ||
      cursor.inserts - cursor.deletes != header.num_items()) {
    return absl::DataLossError(
        absl::StrCat(where, ": bad rate-limiter cursor"));
  }
  // Parse and check everything first, so a bad file changes nothing.
  // Grown as records arrive: a corrupt num_items must not allocate much.
  std::vector<v1::CheckpointItem> items;
  items.reserve(std::min<int64_t>(header.num_items(), 1 << 16));
  absl::flat_hash_set<uint32_t> used_slots;
  for (int64_t i = 0; i < header.num_items(); ++i) {
    v1::CheckpointItem& item = items.emplace_back();
    absl::Status read = reader->Read(&item);
    if (!read.ok()) {
      return absl::DataLossError(absl::StrCat(where, ": ", read.message()));
    }
    const bool size_ok =
        fixed_item_bytes_ > 0
            ? static_cast<int64_t>(item.payload().size()) == fixed_item_bytes_
            : item.payload().size() >= sizeof(VariableHeader);
    // Every stored item was counted by the insert counter when it came
    // (a checkpoint walk relies on it).
    if (!size_ok || item.slot() >= options_.max_size ||
        item.inserted_at() == 0 ||
        item.inserted_at() > header.insert_counter() ||
        item.times_sampled() < 0 || !used_slots.insert(item.slot()).second) {
      return absl::DataLossError(
          absl::StrCat(where, ": item in slot ", item.slot(), " is malformed"));
    }
  }
  // Selectors keep insertion order (fifo, lifo): insert as the table did.
  std::sort(items.begin(), items.end(),
            [](const v1::CheckpointItem& a, const v1::CheckpointItem& b) {
              return a.inserted_at() < b.inserted_at();
            });
  absl::MutexLock checkpoint_lock(&checkpoint_mu_);
  std::vector<InsertWaiter*> woken;
  absl::Status restored;
  {
    absl::MutexLock lock(&mu_);
    restored = RestoreItemsLocked(header, cursor, items, where);
    // The restored cursor may make room for parked inserts.
    TakeReadyInsertsLocked(&woken);
  }
  WakeInserts(woken);
  return restored;
}

absl::Status Table::RestoreItemsLocked(
    const v1::TableCheckpointHeader& header, const RateLimiter::Cursor& cursor,
    const std::vector<v1::CheckpointItem>& items, absl::string_view where) {
  // Every payload must hold an item this table accepts: samplers, encoders
  // and clients trust what is stored.
  for (const v1::CheckpointItem& item : items) {
    v1::Item restored;
    restored.set_priority(item.priority());
    restored.set_actor_index(item.actor_index());
    restored.set_env_id(item.env_id());
    absl::Status valid;
    if (fixed_item_bytes_ > 0) {
      Slot slot;
      slot.data = const_cast<char*>(item.payload().data());
      LoadPayload(slot, &restored);
    } else {
      // A VariableHeader, then exactly the serialised columns, in the form
      // StorePayload writes (the encoder copies those bytes into samples).
      VariableHeader stored;
      std::memcpy(&stored, item.payload().data(), sizeof(stored));
      const absl::string_view columns =
          absl::string_view(item.payload()).substr(sizeof(stored));
      v1::Item parsed;
      if (stored.serialized_bytes != columns.size() ||
          !parsed.ParseFromArray(columns.data(),
                                 static_cast<int>(columns.size()))) {
        valid = absl::InvalidArgumentError("payload does not parse");
      } else {
        restored.mutable_columns()->Swap(parsed.mutable_columns());
        v1::Item columns_only;
        *columns_only.mutable_columns() = restored.columns();
        int64_t data_bytes = 0;
        for (const v1::Tensor& column : restored.columns()) {
          data_bytes += static_cast<int64_t>(column.data().size());
        }
        if (columns_only.SerializeAsString() != columns ||
            int64_t{stored.payload_bytes} != data_bytes) {
          valid = absl::InvalidArgumentError("payload is not columns only");
        }
      }
    }
    if (valid.ok()) valid = CheckRestoredItem(restored, options_.signature);
    if (valid.ok()) valid = CheckPriority(item.priority(), "priority");
    if (!valid.ok()) {
      return absl::DataLossError(
          absl::StrCat(where, ": item in slot ", item.slot(),
                       " is malformed: ", valid.message()));
    }
  }
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].data != nullptr) DeleteSlot(i);
  }
  slots_.clear();
  free_slots_.clear();
  size_ = 0;
  bytes_ = 0;
  uint32_t used = 0;
  last_insert_slot_ = 0;
  for (const v1::CheckpointItem& item : items) {  // sorted by inserted_at
    used = std::max(used, item.slot() + 1);
    last_insert_slot_ = item.slot();
  }
  slots_.resize(used);
  for (const v1::CheckpointItem& item : items) {
    Slot& slot = slots_[item.slot()];
    if (fixed_item_bytes_ > 0) {
      slot.data = pool_->Allocate();
    } else {
      slot.data = static_cast<char*>(std::malloc(item.payload().size()));
    }
    std::memcpy(slot.data, item.payload().data(), item.payload().size());
    slot.priority = item.priority();
    slot.inserted_at = item.inserted_at();
    slot.policy_version = item.policy_version();
    slot.times_sampled = item.times_sampled();
    slot.actor_index = static_cast<uint16_t>(item.actor_index());
    slot.env_id = static_cast<uint16_t>(item.env_id());
    sampler_->Insert(item.slot(), slot.priority);
    remover_->Insert(item.slot(), slot.priority);
    bytes_ += PayloadBytes(slot);
    ++size_;
  }
  for (uint32_t i = used; i-- > 0;) {
    if (slots_[i].data == nullptr) free_slots_.push_back(i);
  }
  insert_counter_ = header.insert_counter();
  inserts_ = header.inserts();
  samples_ = header.samples();
  evictions_ = header.evictions();
  SHOAL_RETURN_IF_ERROR(rate_limiter_->set_cursor(&mu_, cursor));
  writers_.clear();
  for (const v1::WriterSequence& w : header.writers()) {
    writers_[w.writer_id()] = {w.run_first(), w.last_sequence(),
                               insert_counter_};
  }
  return absl::OkStatus();
}

}  // namespace shoal
