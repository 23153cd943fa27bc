// ShardedSampler: the learner's side of the replay service. Draws batches
// from every shard so that the union is distributed as one big table.
//
// Per batch of B items:
// 1. Each shard's weight w_s comes from Info: its size (uniform and every
//    non-prioritized sampler) or its total priority sum(p^alpha)
//    (prioritized). Info is refreshed when older than info_max_age (100 ms
//    by default; zero = every batch). A shard with fewer items than its
//    min_size_to_sample, or down, weighs 0.
// 2. B is split with a multinomial draw over w / W (W = sum of w_s), and
//    each shard's count is sampled over its SampleStream, all shards in
//    parallel.
// 3. Each item's probability becomes its probability in the union:
//    p_union = p_local * w_s / W, where p_local is what its shard reported
//    (1/size, or p^alpha / total). This is exact for the draw that was made.
//    The approximation: w_s is an Info snapshot up to info_max_age old, so
//    when a shard changes meanwhile the split (and p_union) is off by about
//    the relative change of w_s in that window (e.g. 1000 inserts into a
//    100k-item shard: 1%). Static tables give exact probabilities.
// 4. A shard that fails mid-batch is marked down and the items it owed are
//    drawn again over the remaining shards (their p_union use that round's
//    W). A down shard is retried, with backoff, at the start of a later
//    batch. When no shard can serve until the deadline: UNAVAILABLE when
//    all are down, else DEADLINE_EXCEEDED.
//
// Shard i of the address list must report Info().shard_index == i (keys
// carry it, and UpdatePriorities routes by it); Create refuses a list out
// of order. For one DNS name resolving to several shards the order comes
// from the shards themselves.
//
// Thread-safe. Concurrent Sample calls run one after the other.
#ifndef SHOAL_REPLAY_CLIENT_SHARDED_SAMPLER_H_
#define SHOAL_REPLAY_CLIENT_SHARDED_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "grpcpp/channel.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/backoff.h"
#include "common/grpc_channel.h"
#include "common/stream_client.h"

namespace shoal {

struct ShardedSamplerOptions {
  // Shards: "host:port,host:port" (position = shard index) or one DNS name.
  std::string addresses;
  // TLS, token, keepalive for every shard; `target` is ignored.
  ChannelOptions channel;
  // Table to sample; must exist on every shard.
  std::string table;
  // Shard weights older than this are refreshed before a batch; >= 0.
  absl::Duration info_max_age = absl::Milliseconds(100);
  // Cap on one SampleResponse; 0 = the server's default.
  int64_t max_response_bytes = 0;
  // Delays between attempts to reach a down shard.
  BackoffOptions backoff;
  // How long Create waits for each shard's Info.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Seed of the multinomial split; 0 = from std::random_device.
  uint64_t seed = 0;
};

struct ShardedSamplerStats {
  int64_t batches = 0;
  // Items drawn from each shard, by shard index.
  std::vector<int64_t> items_per_shard;
  // Whether each shard answered its last call.
  std::vector<bool> shard_up;
  // Times a down shard came back.
  int64_t reconnects = 0;
};

class ShardedSampler {
 public:
  // Connects to every shard and checks its shard_index and the table.
  // INVALID_ARGUMENT for a list out of shard order (naming position and
  // index) or bad options; NOT_FOUND when a shard lacks the table. A shard
  // that does not answer within connect_timeout starts down (its index is
  // checked when it answers); for a DNS name all must answer (UNAVAILABLE).
  static absl::StatusOr<std::unique_ptr<ShardedSampler>> Create(
      ShardedSamplerOptions options);
  // Cancels open streams and waits for them to end.
  ~ShardedSampler();

  ShardedSampler(const ShardedSampler&) = delete;
  ShardedSampler& operator=(const ShardedSampler&) = delete;

  // Draws `batch_size` (>= 1; at most the servers' max_samples_per_request,
  // 65536 by default, per shard) items from the union of the shards (class
  // comment); each item's probability is its probability in the union.
  absl::StatusOr<std::vector<v1::SampledItem>> Sample(int batch_size,
                                                      absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(batch_mu_, mu_);

  // Sends each key's new priority to the shard owning it (the key's top 16
  // bits). INVALID_ARGUMENT (nothing sent) when the sizes differ or a key
  // names a shard beyond the list; otherwise the first shard's error
  // (naming the shard), after trying every shard. Keys no longer stored
  // are not an error.
  absl::Status UpdatePriorities(absl::Span<const uint64_t> keys,
                                absl::Span<const double> priorities,
                                absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  int num_shards() const { return static_cast<int>(addresses_.size()); }
  // Address of shard i, in shard order.
  const std::vector<std::string>& addresses() const { return addresses_; }
  ShardedSamplerStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class SampleCall;
  // Mutable state of one shard.
  struct ShardState {
    bool up = false;
    double weight = 0.0;
    absl::Time info_time = absl::InfinitePast();
    // When a down shard is tried next.
    std::unique_ptr<ReconnectSchedule> schedule;
    SampleCall* call = nullptr;  // open SampleStream, if any
    bool writing = false;        // a write is in flight on `call`
    bool queued = false;         // `call`'s request waits for that write
    bool ever_up = false;
    // The request in flight on `call` during a batch.
    uint64_t request_id = 0;
    int wanted = 0;
    bool done = true;
    absl::Status status;
    std::vector<v1::SampledItem> got;
    int64_t items = 0;
  };

  ShardedSampler(ShardedSamplerOptions options,
                 std::vector<std::string> addresses,
                 std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs);

  // Info of every shard that is due (up and stale, or down and past its
  // backoff), in parallel; updates weights and up/down. RPCs run without
  // mu_.
  absl::Status RefreshShards(absl::Time deadline, bool force)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Applies one Info answer of shard `i`. Returns a config error (wrong
  // shard_index, missing table), else OK.
  absl::Status ApplyInfoLocked(int i, const grpc::Status& status,
                               const v1::InfoResponse& info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkDownLocked(int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts a SampleStream to shard `i` when it has none.
  void EnsureCallLocked(int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DetachLocked(SampleCall* call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Called by SampleCall's reactions.
  void OnResponse(SampleCall* call, v1::SampleResponse* response)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnBroken(SampleCall* call) ABSL_LOCKS_EXCLUDED(mu_);
  void OnWriteDone(SampleCall* call, bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  void OnCallDone(SampleCall* call, const grpc::Status& status)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const ShardedSamplerOptions options_;
  const std::vector<std::string> addresses_;
  const std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs_;

  // Thread-safe. Counts SampleCalls until deleted; the destructor waits.
  CallTracker calls_;

  // Held for a whole Sample call; taken before mu_.
  absl::Mutex batch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(batch_mu_);
  uint64_t next_request_id_ ABSL_GUARDED_BY(batch_mu_) = 1;

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // a request finished, a call ended
  std::vector<ShardState> shards_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<SampleCall*> held_calls_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  ShardedSamplerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_CLIENT_SHARDED_SAMPLER_H_
