// Table's sampling (see table.h): picks by the sampler while the rate
// limiter allows, as messages or as SampleResponse wire bytes, within a
// byte bound when one is given.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "replay/table.h"

namespace shoal {

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
  std::vector<InsertWaiter*> woken;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    status = SampleLocked(n, deadline, sink);
    // What was sampled may make room for parked inserts.
    TakeReadyInsertsLocked(&woken);
  }
  WakeInserts(woken);
  return status;
}

absl::Status Table::SampleLocked(int n, absl::Time deadline,
                                 const SampleSink& sink) {
  int taken = 0;
  while (taken < n) {
    if (!rate_limiter_->CanSample(&mu_)) {
      // What this call took may have made room for parked inserts, which
      // it may now be waiting for: they go on first.
      std::vector<InsertWaiter*> woken;
      TakeReadyInsertsLocked(&woken);
      if (!woken.empty()) {
        mu_.Unlock();
        WakeInserts(woken);
        mu_.Lock();
        continue;
      }
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

}  // namespace shoal
