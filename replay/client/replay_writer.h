// ReplayWriter: the actor's side of the replay service. Streams items to
// one shard over InsertStream with exactly-once delivery into the table:
//
// - Routing: shard hash(writer_id) mod N (StableHash, so a restarted actor
//   writes to the same shard). When that shard stays unreachable for
//   `stay_down` it fails over to shard i+1 mod N, and so on.
// - Sequencing: every appended item gets the writer's next sequence number
//   (never reused, also not by a later writer with the same writer_id: see
//   first_sequence). Items are kept, in a buffer bounded by
//   max_unacked_bytes (and max_unacked_items when set), until the server
//   acknowledges them; on a stream
//   error the writer reconnects with backoff + jitter and resends every
//   unacknowledged item. The server drops sequence numbers it already
//   stored, so each item lands once (per shard: an item stored by a shard
//   whose ack was lost, then resent to ANOTHER shard after a failover, is
//   in both; failover is at-least-once).
// - Batching: items go out in InsertRequests of at most items_per_insert
//   items and max_message_bytes bytes. With one write in flight, items
//   appended meanwhile are batched together; no linger timer.
// - Rejections: the server rejects a batch whole when any item is bad; its
//   items are counted as rejected (the last message kept) and never resent.
//   A good item that shares a batch with a bad one is rejected with it.
//
// Why a callback reactor: the stream is a grpc::ClientBidiReactor (house
// style) with one read always pending (acks) and at most one write in
// flight, so no thread blocks on the network and appenders only wait when
// the buffer is full. Reconnecting needs timers (backoff, the stay-down
// clock), so one small connector thread opens streams and decides
// failovers; it never touches the stream's data path.
//
// Thread-safe: Append, Flush, Close and stats may be called from any
// thread. Close (or the destructor) stops the connector and waits for
// every stream to end.
#ifndef SHOAL_REPLAY_CLIENT_REPLAY_WRITER_H_
#define SHOAL_REPLAY_CLIENT_REPLAY_WRITER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/backoff.h"
#include "common/grpc_channel.h"
#include "common/stream_client.h"

namespace shoal {

struct ReplayWriterOptions {
  // Shards: "host:port,host:port" or one DNS name (shard_addresses.h).
  std::string addresses;
  // TLS, token, keepalive for every shard; `target` is ignored.
  ChannelOptions channel;
  // Identifies this writer's sequence numbers on the server; usually the
  // actor index. Picks the shard.
  uint64_t writer_id = 0;
  // Sequence number of the first item. 0 (the default) takes the wall clock
  // in nanoseconds since the Unix epoch at Create: a shard drops every item
  // numbered at or below the last one it stored for the writer_id, so a
  // writer that restarts under the same id (an actor restarted with its
  // index) must start above everything its previous incarnation sent, and
  // no writer appends a billion items a second. A writer that knows where
  // its sequence stands passes the next number (>= 1).
  uint64_t first_sequence = 0;
  // Bytes (serialised items) kept for resending; Append blocks above it.
  // >= 1. Default 64 MiB.
  int64_t max_unacked_bytes = 64 << 20;
  // Items kept for resending; Append blocks at it. 0 (the default) = no
  // bound but the bytes. A shard whose rate limiter holds inserts back
  // leaves this many items per writer waiting, as old as the wait: keep it
  // a few batches there (the actor's default does).
  int64_t max_unacked_items = 0;
  // Items per InsertRequest; >= 1.
  int items_per_insert = 64;
  // The servers' message cap; a batch stays below it. >= 1024.
  int64_t max_message_bytes = 4 << 20;
  // Delays between reconnect attempts.
  BackoffOptions backoff;
  // A shard unreachable this long is given up for the next one. > 0.
  absl::Duration stay_down = absl::Seconds(5);
};

struct ReplayWriterStats {
  int64_t items_appended = 0;
  // Stored by the server (or dropped there as already stored).
  int64_t items_acked = 0;
  // Refused by the server (InsertError); not resent.
  int64_t items_rejected = 0;
  // Writes of items already sent on an earlier stream (after a reconnect or
  // a failover); the server drops the ones it had stored.
  int64_t items_resent = 0;
  // The last InsertError, "CODE: message"; "" when none.
  std::string last_rejection;
  // Streams opened after the first one, and shard changes.
  int64_t reconnects = 0;
  int64_t failovers = 0;
  // Index (in the address list) of the shard written to now.
  int shard = 0;
  int64_t unacked_items = 0;
  int64_t unacked_bytes = 0;
  // How the last stream ended, "" while none has.
  std::string last_stream_error;
};

class ReplayWriter {
 public:
  // INVALID_ARGUMENT naming the option; errors of address resolution and
  // channel setup (unreadable TLS files). Connects in the background.
  static absl::StatusOr<std::unique_ptr<ReplayWriter>> Create(
      ReplayWriterOptions options);
  // Close(now): unacknowledged items are dropped.
  ~ReplayWriter();

  ReplayWriter(const ReplayWriter&) = delete;
  ReplayWriter& operator=(const ReplayWriter&) = delete;

  // Queues `item` for sending. Blocks while the unacked buffer is full:
  // DEADLINE_EXCEEDED at `deadline` (the item is not queued).
  // INVALID_ARGUMENT when the item alone exceeds max_unacked_bytes or the
  // message cap; FAILED_PRECONDITION after Close. O(1) plus the copy.
  absl::Status Append(v1::Item item, absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until every item appended so far is acknowledged (stored or
  // rejected). DEADLINE_EXCEEDED at `deadline`, naming what is left.
  absl::Status Flush(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // Flush(deadline), then ends the stream and the connector. Returns the
  // Flush status; later Appends fail. Idempotent.
  absl::Status Close(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  ReplayWriterStats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  class InsertCall;
  struct Pending {
    uint64_t sequence;
    int64_t bytes;
    v1::Item item;
  };

  ReplayWriter(ReplayWriterOptions options, std::vector<std::string> addresses,
               std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs,
               std::vector<std::shared_ptr<grpc::Channel>> channels);

  // Called by InsertCall's reactions (gRPC threads).
  void OnAck(InsertCall* call, const v1::InsertResponse& ack)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnWriteDone(InsertCall* call, bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  void OnStreamBroken(InsertCall* call) ABSL_LOCKS_EXCLUDED(mu_);
  void OnCallDone(InsertCall* call, const grpc::Status& status)
      ABSL_LOCKS_EXCLUDED(mu_);

  void ConnectorLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Opens a stream to shard_; returns PrepareWriteLocked's call.
  InsertCall* StartCallLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When no write is in flight and items are unsent: puts the next batch
  // in call_'s request, marks the write in flight and returns call_ with
  // an extra hold, for StartPreparedWrite once mu_ is released (no lock is
  // held across StartWrite). Else nullptr.
  InsertCall* PrepareWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the write PrepareWriteLocked prepared and drops its hold.
  static void StartPreparedWrite(InsertCall* call);
  // Stops using `call` and lets it end.
  void DetachLocked(InsertCall* call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkHealthyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const ReplayWriterOptions options_;
  const std::vector<std::string> addresses_;
  const std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs_;
  const std::vector<std::shared_ptr<grpc::Channel>> channels_;

  // Thread-safe. Counts InsertCalls until deleted; Close waits for none.
  CallTracker calls_;

  mutable absl::Mutex mu_;
  // Signalled on acks, detaches, call ends and Close.
  absl::CondVar changed_;
  // Wakes the connector (a stream ended, Close).
  absl::CondVar connector_wake_;
  std::deque<Pending> unacked_ ABSL_GUARDED_BY(mu_);  // by sequence
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;   // set by the constructor
  int64_t unacked_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // The open stream (nullptr between streams), its progress and health.
  InsertCall* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sent_through_ ABSL_GUARDED_BY(mu_) = 0;  // last sequence written
  uint64_t highest_sent_ ABSL_GUARDED_BY(mu_) = 0;  // over all streams
  absl::Time call_started_ ABSL_GUARDED_BY(mu_);
  // Calls that still hold their reactor open (until detached).
  absl::flat_hash_set<InsertCall*> held_calls_ ABSL_GUARDED_BY(mu_);
  // Reconnect state: the shard, since when it is unreachable
  // (schedule_.down_since()), when to try next.
  int shard_ ABSL_GUARDED_BY(mu_) = 0;
  ReconnectSchedule schedule_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  ReplayWriterStats stats_ ABSL_GUARDED_BY(mu_);

  // Started last in Create, joined in Close.
  std::thread connector_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_CLIENT_REPLAY_WRITER_H_
