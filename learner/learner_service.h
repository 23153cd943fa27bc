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
//   with INVALID_ARGUMENT; a stream beyond max_watchers open at once with
//   RESOURCE_EXHAUSTED (the actor's watcher retries with backoff).
// - ReportEpisodes checks the whole request first: at most
//   kMaxEpisodesPerReport episodes, each with a finite episode_return,
//   length in [1, kMaxEpisodeSteps], actor_index in [0, kMaxActorIndex],
//   env_id in [0, kMaxEnvId], actor_env_steps in [0, kMaxEpisodeSteps] and
//   policy_version >= 0. Anything else fails the call with
//   INVALID_ARGUMENT naming the field, e.g. "episodes[3].length: must be
//   in [1, 281474976710656], got 0", and nothing of the request is recorded.
//   Good requests go to the EpisodeStats sink, whose per-actor map is bounded
//   too. The response carries the newest parameter version.
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

// What one ReportEpisodes request may hold. Actors send at most 256
// episodes per call (EpisodeReporterOptions::max_batch).
inline constexpr int kMaxEpisodesPerReport = 4096;
// The replay's bounds: Item.actor_index and env_id are stored as uint16.
inline constexpr int32_t kMaxActorIndex = 65535;
inline constexpr int32_t kMaxEnvId = 65535;
// 2^48 steps: no run comes near it, and 2^15 such values still fit in an
// int64, so sums of a few of them cannot overflow.
inline constexpr int64_t kMaxEpisodeSteps = int64_t{1} << 48;

struct LearnerServiceOptions {
  // WatchParameters streams open at once; >= 1. Each actor keeps one.
  int max_watchers = 4096;
};

// INVALID_ARGUMENT naming the first bad field of `request`, as above.
absl::Status ValidateEpisodes(const v1::ReportEpisodesRequest& request);

class LearnerServiceImpl final : public v1::LearnerService::CallbackService {
 public:
  // `stats` may be null (episodes are validated, then dropped).
  LearnerServiceImpl(ParameterStore* store, EpisodeStats* stats,
                     LearnerServiceOptions options = {});

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
  const LearnerServiceOptions options_;

  std::atomic<int> open_watchers_{0};
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_LEARNER_SERVICE_H_
