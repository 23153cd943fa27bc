// A replay table: items stored once in dense slots, chosen for sampling by
// one ItemSelector and for eviction by another, paced by a RateLimiter, and
// bounded by max_size items and max_bytes payload bytes (Reverb's Table).
//
// Exactly-once inserts: each writer numbers its items; the table remembers
// per writer the unbroken run of numbers it stored last, [first, last], and
// drops a number inside it as a resend, so a writer that resends after a
// reconnect never duplicates an item. A number below the run's first that
// is not above its last may or may not have been stored: CheckSequences
// refuses it, and acknowledged means stored. The map is part of the
// checkpoint and holds at most kMaxWriters writers (the idlest are forgotten:
// a forgotten writer's resend is stored again, never lost).
//
// Memory: `max_bytes` bounds what items hold whatever clients send: only
// columns' dtype, shape and data are kept (unknown fields are dropped), and
// for tables whose items vary in shape every stored byte counts.
//
// Keys: [16 bits shard][20 bits generation][28 bits slot]. The shard lets a
// sharded client route priority updates; the generation (low bits of the
// table's insert counter) makes a key of an evicted item miss rather than
// hit the item that reused its slot.
//
// Thread-safe. Insert and Sample may wait on the rate limiter (releasing
// the lock) until their deadline; Cancel() wakes them for shutdown. An
// insert that must not hold a thread (the gRPC service's) parks instead
// (InsertBatchOrPark): the table keeps it in an InsertWaitQueue and the
// call that makes room for it (Sample, Reset, RestoreCheckpoint, Cancel)
// wakes it once that call has released mu_. No method does I/O or calls
// out while holding mu_.
//
// Implemented in table.cc (storage, priorities), table_insert.cc (inserts,
// parked ones included), table_validate.cc (what clients send),
// table_sample.cc and table_checkpoint.cc.
#ifndef SHOAL_REPLAY_TABLE_H_
#define SHOAL_REPLAY_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "shoal/v1/replay.pb.h"
#include "shoal/v1/replay_checkpoint.pb.h"

#include "common/config.h"
#include "common/config_limits.h"
#include "replay/block_pool.h"
#include "replay/insert_wait_queue.h"
#include "replay/rate_limiter.h"
#include "replay/record_file.h"
#include "replay/sample_encoder.h"
#include "replay/selectors/item_selector.h"

namespace shoal {

// Writers whose sequence runs a table remembers at most.
inline constexpr int64_t kMaxWriters = int64_t{1} << 16;
// Bytes one stored item may take (its block's sizes are 32-bit); gRPC's
// message cap keeps real items far below it. The config decoder checks
// signatures against the same bound.
inline constexpr int64_t kMaxItemBytes = kMaxSignatureBytes;

struct TableOptions {
  // Table name, as items address it.
  std::string name;
  // Columns every item must have, in order; empty accepts any columns.
  std::vector<v1::TensorSpec> signature;
  // Picks items to sample / to evict.
  SelectorKind sampler = SelectorKind::kUniform;
  double sampler_priority_exponent = 1.0;
  SelectorKind remover = SelectorKind::kFifo;
  double remover_priority_exponent = 1.0;
  // Items held at most; in [1, 2^28).
  int64_t max_size = 100000;
  // Payload bytes held at most; 0 = unbounded.
  int64_t max_bytes = 0;
  // An item sampled this often is removed; 0 = never.
  int64_t max_times_sampled = 0;
  RateLimiterOptions rate_limiter;
  // This shard's index, the top 16 bits of every key; in [0, 65535].
  int shard_index = 0;
};

// The table options a TableConfig describes.
TableOptions TableOptionsFromConfig(const TableConfig& config, int shard_index);

// Progress of one InsertBatch call.
struct InsertBatchResult {
  // Items handled from the front of the batch: stored or dropped as replays.
  int processed = 0;
  // Of those, the items stored.
  int stored = 0;
  // InsertBatchOrPark only: the rate limiter held item `processed` back
  // and the waiter is parked.
  bool parked = false;
};

// Outcome of one UpdatePriorities call.
struct PriorityUpdateResult {
  int64_t updated = 0;
  std::vector<uint64_t> missing_keys;
};

class Table {
 public:
  // INVALID_ARGUMENT naming the option when `options` are inconsistent.
  static absl::StatusOr<std::unique_ptr<Table>> Create(TableOptions options);
  ~Table();

  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  const std::string& name() const { return options_.name; }
  const TableOptions& options() const { return options_; }

  // Checks `item` against the signature (column count, dtype, shape, finite
  // floats, sizes) and its priority. No lock; O(payload). Messages start
  // with `field`, e.g. "items[3].columns[0] (observation): ...".
  absl::Status Validate(const v1::Item& item, absl::string_view field) const;

  // INVALID_ARGUMENT when `count` items of `writer_id` numbered from
  // `first_sequence` reach back below the writer's stored run while not
  // above its end: numbers this table cannot tell stored from never sent
  // (see the class comment). O(1).
  absl::Status CheckSequences(uint64_t writer_id, uint64_t first_sequence,
                              int64_t count) const ABSL_LOCKS_EXCLUDED(mu_);

  // The largest weight (priority^exponent) a prioritized selector admits:
  // the sum of max_size such weights stays finite.
  static double MaxPriorityWeight();

  // Stores `item` (REQUIRES: Validate(item).ok()) written by `writer_id` as
  // its `sequence`-th item, evicting by the remover to stay within max_size
  // and max_bytes. Returns false when the sequence number is in the writer's
  // stored run (a replay: nothing changes). Waits while the rate limiter blocks
  // inserts: DEADLINE_EXCEEDED at `deadline`, CANCELLED after Cancel().
  absl::StatusOr<bool> Insert(const v1::Item& item, uint64_t writer_id,
                              uint64_t sequence, absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Insert for each of `items` in order, item i as `first_sequence + i`,
  // taking mu_ once while the rate limiter allows (REQUIRES: each item is
  // Validate()d for this table). Waits as Insert does when the limiter
  // blocks; a `deadline` in the past makes it return at once instead. On
  // DEADLINE_EXCEEDED / CANCELLED, `result` says how far it got, so the
  // caller can go on from there. O(items * payload).
  absl::Status InsertBatch(absl::Span<const v1::Item* const> items,
                           uint64_t writer_id, uint64_t first_sequence,
                           absl::Time deadline, InsertBatchResult* result)
      ABSL_LOCKS_EXCLUDED(mu_);

  // InsertBatch for callers that must not block: when the rate limiter
  // holds an item back, parks `waiter` in this table's queue (under the same
  // lock, so no change of the limiter is missed), sets result->parked and
  // returns OK, result->processed saying how far it got. waiter's
  // OnInsertReady() then runs once, without mu_, when room is made for it
  // or the table is cancelled (see InsertWaitQueue); the waiter goes on by
  // calling this again from where it stopped, or LeaveInsertQueue.
  // CANCELLED, with nothing parked, when held back after Cancel().
  // REQUIRES: `waiter` is parked in no table, and was last woken by this
  // one if at all. O(items * payload).
  absl::Status InsertBatchOrPark(absl::Span<const v1::Item* const> items,
                                 uint64_t writer_id, uint64_t first_sequence,
                                 InsertWaiter* waiter,
                                 InsertBatchResult* result)
      ABSL_LOCKS_EXCLUDED(mu_);

  // For a waiter that will not call InsertBatchOrPark here again (its
  // stream ended): takes it out of the queue, true when it was parked here
  // (then it will not be woken), and hands the room it was woken for, if
  // any, to the next waiter. O(1) plus the waiters woken.
  bool LeaveInsertQueue(InsertWaiter* waiter) ABSL_LOCKS_EXCLUDED(mu_);

  // Samples up to `n` items into `out` (appended): waits until the rate
  // limiter allows one sample, then takes as many of the n as it allows
  // without waiting again, repeating until n or `deadline`. Returns OK with
  // at least one item, or DEADLINE_EXCEEDED / CANCELLED with none.
  // O(n * (select + payload)).
  absl::Status Sample(int n, absl::Time deadline,
                      google::protobuf::RepeatedPtrField<v1::SampledItem>* out)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sample, but appends the items as SampleResponse wire bytes (see
  // SampleEncoder) instead of messages: no per-item allocation. With
  // `max_bytes` > 0 it also stops before an item would take `out->bytes`
  // past `max_bytes` (an item goes into an empty `out` whatever its size),
  // returning OK with what it took, possibly none when `out` was not empty,
  // and setting `*full` (when given): a sampler encodes a large request in
  // bounded chunks.
  absl::Status SampleEncoded(int n, absl::Time deadline, EncodedSamples* out,
                             int64_t max_bytes = 0, bool* full = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sets priorities by key; keys of items no longer here are reported, not
  // an error. INVALID_ARGUMENT (nothing changed) when the sizes differ, a
  // priority is negative, not finite or weighs over MaxPriorityWeight(), or
  // a key belongs to another shard.
  absl::StatusOr<PriorityUpdateResult> UpdatePriorities(
      absl::Span<const uint64_t> keys, absl::Span<const double> priorities)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sizes, counters and rate-limiter state.
  v1::TableInfo Info() const ABSL_LOCKS_EXCLUDED(mu_);

  // Removes every item and resets the rate limiter. Writer sequence numbers
  // are kept, so a replay after a reset is still dropped.
  void Reset() ABSL_LOCKS_EXCLUDED(mu_);

  // Wakes every waiter with CANCELLED, now and in future (shutdown), and
  // every parked insert.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);

  // Writes a TableCheckpointHeader and every item the table held when the
  // call began (a point-in-time set; priorities and sample counts may be
  // newer) to `writer`. Walks the slots in chunks, holding mu_ only to copy
  // a chunk's metadata, so inserts and samples go on meanwhile. An item
  // deleted before the walk reached it is handed to the writer with its
  // block; a block deleted while its chunk is written is freed after it.
  // Memory beyond the table's own: one chunk's metadata plus what is
  // deleted during one chunk's write. One checkpoint at a time.
  // Returns the number of items written.
  absl::StatusOr<int64_t> WriteCheckpoint(RecordWriter* writer)
      ABSL_LOCKS_EXCLUDED(mu_, checkpoint_mu_);

  // Loads the items that follow `header` in `reader`, replacing the table's
  // contents, counters, rate-limiter cursor and writer sequences. Keys stay
  // valid. FAILED_PRECONDITION when the signature differs from the table's;
  // DATA_LOSS when the records are cut short.
  absl::Status RestoreCheckpoint(const v1::TableCheckpointHeader& header,
                                 RecordReader* reader)
      ABSL_LOCKS_EXCLUDED(mu_, checkpoint_mu_);

 private:
  // Dense per-item metadata; the payload lives in a pool block (or, for
  // tables whose item size varies, a malloc'ed block starting with its size).
  struct Slot {
    char* data = nullptr;  // nullptr = free slot
    double priority = 0.0;
    uint64_t inserted_at = 0;  // table insert counter; 0 = free
    int64_t policy_version = 0;
    int32_t times_sampled = 0;
    uint16_t actor_index = 0;
    uint16_t env_id = 0;
  };

  // Leads every block of a table whose item size varies.
  struct VariableHeader {
    uint32_t serialized_bytes;  // of the v1::Item (columns only) after it
    uint32_t payload_bytes;     // column data bytes, what max_bytes counts
  };
  static VariableHeader VariableHeaderOf(const Slot& slot);

  // Where Sample puts the items it picks: exactly one of the two is set.
  struct SampleSink {
    google::protobuf::RepeatedPtrField<v1::SampledItem>* messages = nullptr;
    EncodedSamples* encoded = nullptr;
    int64_t max_bytes = 0;  // encoded only; 0 = no bound
    bool* full = nullptr;   // set when max_bytes stopped the sample
  };

  explicit Table(TableOptions options, int64_t fixed_item_bytes,
                 std::unique_ptr<ItemSelector> sampler,
                 std::unique_ptr<ItemSelector> remover,
                 std::unique_ptr<RateLimiter> rate_limiter);

  // The numbers [first, last] of one writer stored here in an unbroken run,
  // and the insert counter at its last store (to forget the idlest).
  struct WriterRun {
    uint64_t first = 0;
    uint64_t last = 0;
    uint64_t last_insert = 0;
  };

  uint64_t KeyOf(uint32_t slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bytes the item in `slot` counts against max_bytes (see StoredBytes).
  int64_t PayloadBytes(const Slot& slot) const;
  // Bytes `item` will hold once stored: its columns' data in the fixed
  // layout; the whole block (header, dtypes, shapes, data) in the variable
  // one. REQUIRES: the item's tensors are valid (ValidateTensor).
  int64_t StoredBytes(const v1::Item& item) const;
  // Records `sequence` of `writer_id` as stored, forgetting the idlest
  // writers when there are over kMaxWriters; returns the writer's run.
  WriterRun RecordSequence(uint64_t writer_id, uint64_t sequence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Finite, >= 0 and within MaxPriorityWeight() for the prioritized
  // selectors; names `field` when not.
  absl::Status CheckPriority(double priority, absl::string_view field) const;
  // Copies the item's columns into one block.
  char* StorePayload(const v1::Item& item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreePayload(char* data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds the item's columns from its slot.
  void LoadPayload(const Slot& slot, v1::Item* item) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictOne() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BuildSampledItem(const Selection& chosen, v1::SampledItem* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EncodeSampledItem(const Selection& chosen, EncodedSamples* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Emit(const Selection& chosen, const SampleSink& sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SampleInto(int n, absl::Time deadline, const SampleSink& sink)
      ABSL_LOCKS_EXCLUDED(mu_);
  // SampleInto with the lock held; releases it to wait for the rate limiter
  // and, before that, to wake the parked inserts it made room for.
  absl::Status SampleLocked(int n, absl::Time deadline, const SampleSink& sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many of `want` more items fit in `sink`'s byte bound (`want` when
  // it has none); REQUIRES: the fixed layout or no bound. O(1).
  int RoomFor(int want, const SampleSink& sink) const;
  // Whether the item in `slot` fits in `sink`'s byte bound. O(1).
  bool Fits(uint32_t slot, const SampleSink& sink) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `item` in a free slot as `sequence` of `writer_id`, evicting to
  // make room; returns the writer's run. REQUIRES: the rate limiter allows
  // one insert.
  WriterRun InsertLocked(const v1::Item& item, int64_t bytes,
                         uint64_t writer_id, uint64_t sequence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // InsertBatch with the lock held: waits until `deadline` when `waiter` is
  // null, else parks it (see InsertBatchOrPark).
  absl::Status InsertBatchLocked(absl::Span<const v1::Item* const> items,
                                 uint64_t writer_id, uint64_t first_sequence,
                                 absl::Time deadline, InsertWaiter* waiter,
                                 InsertBatchResult* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the parked inserts the rate limiter has room for now (all of
  // them once cancelled) into `woken`, to be woken once mu_ is released.
  // Call it after every change that may make room. O(log waiters) plus the
  // waiters taken.
  void TakeReadyInsertsLocked(std::vector<InsertWaiter*>* woken)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls OnInsertReady() of each of `woken`.
  void WakeInserts(const std::vector<InsertWaiter*>& woken) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // RestoreCheckpoint's part under mu_: checks `items` and replaces the
  // table's contents with them.
  absl::Status RestoreItemsLocked(const v1::TableCheckpointHeader& header,
                                  const RateLimiter::Cursor& cursor,
                                  const std::vector<v1::CheckpointItem>& items,
                                  absl::string_view where)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The Validate checks; names fields only when `named` (the slow path that
  // runs once a check failed, to say where).
  absl::Status ValidateItem(const v1::Item& item, absl::string_view field,
                            bool named) const;
  void DeleteSlot(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const TableOptions options_;
  // Payload bytes of every item when the signature has no wildcard extent;
  // -1 when items differ or are empty (then each block is malloc'ed and
  // stores its size first).
  const int64_t fixed_item_bytes_;
  // Writes sampled items in this table's layout.
  const SampleEncoder encoder_;

  mutable absl::Mutex mu_;
  std::unique_ptr<ItemSelector> sampler_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ItemSelector> remover_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RateLimiter> rate_limiter_ ABSL_GUARDED_BY(mu_);
  // Inserts the rate limiter holds back, parked without a thread.
  InsertWaitQueue insert_waiters_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<BlockPool> pool_ ABSL_GUARDED_BY(mu_);  // fixed size only
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);  // reserved to max_size
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  std::vector<Selection> picks_ ABSL_GUARDED_BY(mu_);  // Sample's scratch
  absl::flat_hash_map<uint64_t, WriterRun> writers_ ABSL_GUARDED_BY(mu_);
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
  int64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t insert_counter_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t inserts_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t samples_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_replays_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t forgotten_writers_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t last_insert_slot_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialises WriteCheckpoint and RestoreCheckpoint; taken before mu_.
  absl::Mutex checkpoint_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  struct IndexedSlot {
    uint32_t index;
    Slot slot;
  };
  // The walk of the running checkpoint, if any (see WriteCheckpoint).
  // It visits slots from `first` up to `end`, then from 0 (positions count
  // the slots visited): `first` follows the newest insert, so in a full fifo
  // table the walk goes oldest first and evictions trail behind it.
  struct CheckpointWalk {
    uint64_t last_inserted_at;  // items inserted after the start are not in it
    uint32_t end;               // slots_.size() at the start
    uint32_t first;             // the slot at position 0
    uint32_t chunk_begin;       // positions below were written
    uint32_t chunk_end;         // [chunk_begin, chunk_end) is being written
    uint32_t Position(uint32_t slot) const {
      return slot >= first ? slot - first : slot + (end - first);
    }
    std::vector<IndexedSlot> deleted_unwritten;  // items (and blocks) unwritten
    std::vector<char*> deleted_in_chunk;  // blocks to free once it is written
  };
  std::optional<CheckpointWalk> walk_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_TABLE_H_
