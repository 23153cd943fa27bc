// ParameterWatcher: the actor's side of LearnerService.WatchParameters.
// Keeps one stream open to the learner, reassembles each version from its
// chunks, parses it and hands it to a callback, so the actor can swap its
// policy between steps.
//
//   ParameterWatcherOptions options;
//   options.channel.target = "learner:7100";
//   SHOAL_ASSIGN_OR_RETURN(
//       std::unique_ptr<ParameterWatcher> watcher,
//       ParameterWatcher::Create(options, [&](auto params) {
//         policy.SetNext(std::move(params));  // swapped between steps
//       }));
//
// - Reassembly checks every chunk: one version at a time, chunk_index
//   0 .. num_chunks - 1 in order, the same num_chunks and total_bytes
//   throughout, the data adding up to total_bytes, a version above the
//   last one received. A malformed sequence is dropped, counted, logged
//   (spdlog::warn) and the stream restarted. Bytes that do not parse as a
//   v1::Parameters of the chunks' version are dropped and counted too.
// - Reconnects: a stream that fails or ends is reopened in the background
//   with backoff + jitter, asking for versions above the newest received;
//   a learner that is down at start or restarts is picked up when it comes
//   (back) on the same address. Nothing here blocks the caller.
// - The callback runs on the watcher's own thread, one call at a time, in
//   increasing version order. A version that arrives while the callback
//   still runs replaces any older one not yet delivered (it is skipped).
//   It should be quick; it must not call Stop or destroy the watcher.
//
// Why a callback reactor plus a thread: the stream is a
// grpc::ClientReadReactor (house style) with one read in flight; timers
// (backoff) and the user callback live on one small thread that never
// touches the stream's data path.
//
// Thread-safe. Stop (or the destructor) ends the stream and the thread.
#ifndef SHOAL_LEARNER_CLIENT_PARAMETER_WATCHER_H_
#define SHOAL_LEARNER_CLIENT_PARAMETER_WATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "shoal/v1/learner.grpc.pb.h"

#include "common/backoff.h"
#include "common/grpc_channel.h"
#include "common/stream_client.h"

namespace shoal {

struct ParameterWatcherOptions {
  // The learner's address (`target`), TLS, token, keepalive.
  ChannelOptions channel;
  // Delays between reconnect attempts. Default 100 ms growing to 2 s.
  BackoffOptions backoff = {absl::Milliseconds(100), absl::Seconds(2),
                            /*multiplier=*/2.0, /*jitter=*/0.2};
  // The version the actor already has (e.g. from a checkpoint); 0 = none.
  // >= 0.
  int64_t have_version = 0;
  // Largest total_bytes accepted; a larger version is malformed. >= 1.
  int64_t max_parameters_bytes = int64_t{1} << 30;
};

struct ParameterWatcherStats {
  // Versions handed to the callback.
  int64_t versions_received = 0;
  // Versions reassembled but replaced by a newer one before delivery.
  int64_t versions_skipped = 0;
  // Malformed chunk sequences and unparsable versions.
  int64_t malformed = 0;
  // Streams opened after the first one.
  int64_t reconnects = 0;
  // The newest version handed to the callback (have_version before).
  int64_t latest_version = 0;
  // Why the last stream ended or the last malformed input, "" if none.
  std::string last_error;
};

class ParameterWatcher {
 public:
  // Gets each version and when the learner published it (the chunks'
  // published_unix_ms; InfinitePast when they carry none).
  using Callback = std::function<void(std::shared_ptr<const v1::Parameters>,
                                      absl::Time published)>;

  // INVALID_ARGUMENT naming the option; channel setup errors (unreadable
  // TLS or token files). Starts connecting in the background.
  static absl::StatusOr<std::unique_ptr<ParameterWatcher>> Create(
      ParameterWatcherOptions options, Callback callback);
  // Stop().
  ~ParameterWatcher();

  ParameterWatcher(const ParameterWatcher&) = delete;
  ParameterWatcher& operator=(const ParameterWatcher&) = delete;

  // Ends the stream and joins the thread; no callback runs after it
  // returns. Idempotent. REQUIRES: not called from the callback.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // The newest version handed to the callback (have_version before any).
  int64_t latest_version() const ABSL_LOCKS_EXCLUDED(mu_);
  ParameterWatcherStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class WatchCall;

  ParameterWatcher(ParameterWatcherOptions options, Callback callback,
                   std::shared_ptr<grpc::Channel> channel);

  // Called by WatchCall's reactions (gRPC threads).
  void OnVersion(int64_t version, std::string bytes, absl::Time published)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnMalformed(const absl::Status& why) ABSL_LOCKS_EXCLUDED(mu_);
  void OnCallDone(const grpc::Status& status, bool healthy)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The thread: opens streams, waits out backoff, delivers versions.
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  void StartCallLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Parses and delivers one version; runs without mu_.
  void Deliver(int64_t version, const std::string& bytes, absl::Time published)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const ParameterWatcherOptions options_;
  const Callback callback_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::LearnerService::Stub> stub_;

  // Thread-safe. Counts WatchCalls until deleted; Stop waits for none.
  CallTracker calls_;

  mutable absl::Mutex mu_;
  // Wakes the thread: a version arrived, a stream ended, Stop.
  absl::CondVar wake_;
  // The open stream; nullptr between streams.
  WatchCall* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  ReconnectSchedule schedule_ ABSL_GUARDED_BY(mu_);
  // The newest version reassembled (asked for on reconnect).
  int64_t have_version_ ABSL_GUARDED_BY(mu_);
  // A reassembled version waiting for the thread; version 0 = none.
  int64_t pending_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::string pending_bytes_ ABSL_GUARDED_BY(mu_);
  absl::Time pending_published_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  ParameterWatcherStats stats_ ABSL_GUARDED_BY(mu_);

  // Started last in Create, joined in Stop.
  std::thread thread_;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_CLIENT_PARAMETER_WATCHER_H_
