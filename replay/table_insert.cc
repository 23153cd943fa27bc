// Table's inserts (see table.h): writer sequence runs, waiting on the rate
// limiter with a thread (InsertBatch) or parked without one
// (InsertBatchOrPark), and waking parked inserts when room is made.
#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "common/status_macros.h"
#include "replay/table.h"

namespace shoal {

absl::StatusOr<bool> Table::Insert(const v1::Item& item, uint64_t writer_id,
                                   uint64_t sequence, absl::Time deadline) {
  const v1::Item* items[] = {&item};
  InsertBatchResult result;
  SHOAL_RETURN_IF_ERROR(
      InsertBatch(items, writer_id, sequence, deadline, &result));
  return result.stored == 1;
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
  absl::MutexLock lock(&mu_);
  return InsertBatchLocked(items, writer_id, first_sequence, deadline,
                           /*waiter=*/nullptr, result);
}

absl::Status Table::InsertBatchOrPark(absl::Span<const v1::Item* const> items,
                                      uint64_t writer_id,
                                      uint64_t first_sequence,
                                      InsertWaiter* waiter,
                                      InsertBatchResult* result) {
  std::vector<InsertWaiter*> woken;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    status = InsertBatchLocked(items, writer_id, first_sequence,
                               absl::InfinitePast(), waiter, result);
    // A woken waiter that stored less than the room it found passes the
    // rest on.
    if (!result->parked) TakeReadyInsertsLocked(&woken);
  }
  WakeInserts(woken);
  return status;
}

bool Table::LeaveInsertQueue(InsertWaiter* waiter) {
  std::vector<InsertWaiter*> woken;
  bool parked;
  {
    absl::MutexLock lock(&mu_);
    parked = insert_waiters_.Remove(waiter);
    if (insert_waiters_.TakeGrant(waiter)) TakeReadyInsertsLocked(&woken);
  }
  WakeInserts(woken);
  return parked;
}

absl::Status Table::InsertBatchLocked(absl::Span<const v1::Item* const> items,
                                      uint64_t writer_id,
                                      uint64_t first_sequence,
                                      absl::Time deadline, InsertWaiter* waiter,
                                      InsertBatchResult* result) {
  *result = InsertBatchResult();
  // A woken waiter is back: its grant is used now, and held back again it
  // keeps its place at the front.
  const bool granted = waiter != nullptr && insert_waiters_.TakeGrant(waiter);
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
      if (waiter == nullptr) {
        SHOAL_RETURN_IF_ERROR(rate_limiter_->AwaitCanInsert(&mu_, deadline));
        find_run();
        continue;
      }
      if (rate_limiter_->cancelled(&mu_)) {
        return absl::CancelledError(
            "rate limiter cancelled while waiting to insert");
      }
      insert_waiters_.Park(waiter, /*front=*/granted);
      result->parked = true;
      return absl::OkStatus();
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

void Table::TakeReadyInsertsLocked(std::vector<InsertWaiter*>* woken) {
  if (insert_waiters_.empty()) return;
  if (rate_limiter_->cancelled(&mu_)) {
    insert_waiters_.TakeAll(woken);
    return;
  }
  // Room for as many inserts as there are waiters and grants out, less the
  // room the grants out are for.
  const int64_t room = rate_limiter_->InsertRoom(
      &mu_, insert_waiters_.size() + insert_waiters_.grants());
  insert_waiters_.Grant(room - insert_waiters_.grants(), woken);
}

void Table::WakeInserts(const std::vector<InsertWaiter*>& woken) const {
  for (InsertWaiter* waiter : woken) waiter->OnInsertReady();
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

}  // namespace shoal
