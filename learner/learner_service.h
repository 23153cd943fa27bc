// LearnerServiceImpl: the learner's gRPC face to the actors (callback API).
//
// - GetParameters streams the chunks of the newest published version, or
//   ends with NOT_FOUND ("no parameters published yet") before the first
//   publish. NOT_FOUND, not UNAVAILABLE: the server is up and answering,
//   there is just nothing to send, and retrying at once will not help.
// - WatchParameters keeps a stream open per actor. Its reactor writes the
//   chunks of the newest version newer than what it has sent (or than the
//   request's have_version) with one write in flight; it wakes on every
//   publish (a ParameterStore listener). A version published while another
//   is being written is sent after it; intermediate ones are skipped. No
//   version is sent twice and chunks of two versions never interleave.
//   Every stream writes the store's shared chunk messages: no per-watcher
//   copy beyond gRPC's serialisation. The stream ends only when the client
//   cancels or the server shuts down. A negative have_version is refused
//   with INVALID_ARGUMENT.
// - ReportEpisodes checks every episode first (finite episode_return;
//   length, actor_index, env_id, actor_env_steps and policy_version >= 0);
//   one bad episode fails the call with INVALID_ARGUMENT naming the field,
//   e.g. "episodes[3].episode_return: must be finite, got nan", and
//   nothing of the batch is recorded. Good batches go to the EpisodeStats
//   sink. The response carries the newest parameter version.
//
// Thread-safe. Does not own `store` or `stats`; both must outlive this
// service, which must outlive every call in flight (shut the GrpcServer
// down first).
#ifndef SHOAL_LEARNER_LEARNER_SERVICE_H_
#define SHOAL_LEARNER_LEARNER_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "shoal/v1/learner.grpc.pb.h"

#include "learner/episode_stats.h"
#include "learner/parameter_store.h"

namespace shoal {

// INVALID_ARGUMENT naming the first bad field of `request`, as above.
absl::Status ValidateEpisodes(const v1::ReportEpisodesRequest& request);

class LearnerServiceImpl final : public v1::LearnerService::CallbackService {
 public:
  // `stats` may be null (episodes are validated, then dropped).
  LearnerServiceImpl(ParameterStore* store, EpisodeStats* stats);

  grpc::ServerWriteReactor<v1::ParametersChunk>* GetParameters(
      grpc::CallbackServerContext* context,
      const v1::GetParametersRequest* request) override;
  grpc::ServerWriteReactor<v1::ParametersChunk>* WatchParameters(
      grpc::CallbackServerContext* context,
      const v1::WatchParametersRequest* request) override;
  grpc::ServerUnaryReactor* ReportEpisodes(
      grpc::CallbackServerContext* context,
      const v1::ReportEpisodesRequest* request,
      v1::ReportEpisodesResponse* response) override;

  // WatchParameters streams open now.
  int open_watchers() const { return open_watchers_.load(); }

 private:
  class GetReactor;
  class RefuseReactor;
  class WatchReactor;

  // Constant after construction.
  ParameterStore* const store_;
  EpisodeStats* const stats_;

  std::atomic<int> open_watchers_{0};
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_LEARNER_SERVICE_H_
