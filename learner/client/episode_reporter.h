// EpisodeReporter: sends the actor's finished episodes to the learner
// (LearnerService.ReportEpisodes) in the background.
//
//   EpisodeReporterOptions options;
//   options.channel.target = "learner:7100";
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<EpisodeReporter> reporter,
//                          EpisodeReporter::Create(options));
//   reporter->Report(episode);  // from the stepping loop; never blocks
//
// Episodes wait in a bounded queue; one sender thread takes up to
// max_batch of them per call. When a call fails (learner away) the batch
// goes back to the front of the queue and the sender backs off; while the
// queue is full the oldest episodes are dropped and counted, so a long
// absence costs memory bounded by max_queue and nothing else. A batch the
// learner refuses as INVALID_ARGUMENT is dropped (counted as rejected), not
// retried.
//
// Why a blocking unary call: it runs on the reporter's own thread, which
// exists only to send, so nothing else waits on it.
//
// Thread-safe. Close (or the destructor) stops the thread.
#ifndef SHOAL_LEARNER_CLIENT_EPISODE_REPORTER_H_
#define SHOAL_LEARNER_CLIENT_EPISODE_REPORTER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shoal/v1/learner.grpc.pb.h"

#include "common/backoff.h"
#include "common/grpc_channel.h"
#include "common/stream_client.h"

namespace shoal {

struct EpisodeReporterOptions {
  // The learner's address (`target`), TLS, token, keepalive.
  ChannelOptions channel;
  // Episodes kept while the learner is away; >= 1.
  int max_queue = 10000;
  // Episodes per ReportEpisodes call; >= 1.
  int max_batch = 256;
  // Deadline of one call; > 0.
  absl::Duration rpc_timeout = absl::Seconds(5);
  // Delays after a failed call. Default 100 ms growing to 2 s.
  BackoffOptions backoff = {absl::Milliseconds(100), absl::Seconds(2),
                            /*multiplier=*/2.0, /*jitter=*/0.2};
};

struct EpisodeReporterStats {
  // Accepted by the learner.
  int64_t reported = 0;
  // Dropped, oldest first, because the queue was full.
  int64_t dropped = 0;
  // Refused by the learner (INVALID_ARGUMENT) and dropped.
  int64_t rejected = 0;
  // Calls that failed otherwise (and were retried).
  int64_t failed_calls = 0;
  // Waiting now (not counting a batch in flight).
  int64_t queued = 0;
  // The learner's newest parameter version, from the last reply.
  int64_t learner_version = 0;
  // The last failure, "" if none.
  std::string last_error;
};

class EpisodeReporter {
 public:
  // INVALID_ARGUMENT naming the option; channel setup errors.
  static absl::StatusOr<std::unique_ptr<EpisodeReporter>> Create(
      EpisodeReporterOptions options);
  // Close(now): what is still queued is dropped.
  ~EpisodeReporter();

  EpisodeReporter(const EpisodeReporter&) = delete;
  EpisodeReporter& operator=(const EpisodeReporter&) = delete;

  // Queues `episode`; drops the oldest queued one when full. Never waits
  // on the network. O(1). Ignored after Close.
  void Report(v1::Episode episode) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until nothing is queued or in flight. DEADLINE_EXCEEDED at
  // `deadline`, saying how many are left.
  absl::Status Flush(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // Keeps sending until the queue is empty or `deadline`, then stops the
  // thread (cancelling a call still in flight). Idempotent.
  void Close(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  EpisodeReporterStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  EpisodeReporter(EpisodeReporterOptions options,
                  std::shared_ptr<grpc::Channel> channel);

  void SenderLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Drops the oldest episodes above max_queue.
  void TrimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const EpisodeReporterOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::LearnerService::Stub> stub_;

  mutable absl::Mutex mu_;
  // Signalled on Report, on each call's end and on Close.
  absl::CondVar changed_;
  std::deque<v1::Episode> queue_ ABSL_GUARDED_BY(mu_);
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // The call in flight, for Close to cancel; nullptr when none.
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  // When the sender may try again after a failed call.
  ReconnectSchedule schedule_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool sender_done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time close_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  EpisodeReporterStats stats_ ABSL_GUARDED_BY(mu_);

  // Started last in Create, joined in Close.
  std::thread sender_;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_CLIENT_EPISODE_REPORTER_H_
