#include "learner/learner_service.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

// INVALID_ARGUMENT "<prefix><name>: must be in [lo, hi], got v" unless
// lo <= v <= hi.
absl::Status CheckRange(absl::string_view prefix, absl::string_view name,
                        int64_t value, int64_t lo, int64_t hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      prefix, name, ": must be in [", lo, ", ", hi, "], got ", value));
}

}  // namespace

absl::Status ValidateEpisodes(const v1::ReportEpisodesRequest& request) {
  if (request.episodes_size() > kMaxEpisodesPerReport) {
    return absl::InvalidArgumentError(absl::StrCat(
        "episodes: ", request.episodes_size(),
        " episodes in one request, at most ", kMaxEpisodesPerReport));
  }
  for (int i = 0; i < request.episodes_size(); ++i) {
    const v1::Episode& e = request.episodes(i);
    const std::string field = absl::StrCat("episodes[", i, "].");
    if (!std::isfinite(e.episode_return())) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "episode_return: must be finite, got ", e.episode_return()));
    }
    SHOAL_RETURN_IF_ERROR(
        CheckRange(field, "length", e.length(), 1, kMaxEpisodeSteps));
    SHOAL_RETURN_IF_ERROR(
        CheckRange(field, "actor_index", e.actor_index(), 0, kMaxActorIndex));
    SHOAL_RETURN_IF_ERROR(
        CheckRange(field, "env_id", e.env_id(), 0, kMaxEnvId));
    SHOAL_RETURN_IF_ERROR(CheckRange(field, "actor_env_steps",
                                     e.actor_env_steps(), 0, kMaxEpisodeSteps));
    if (e.policy_version() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "policy_version: must be >= 0, got ", e.policy_version()));
    }
  }
  return absl::OkStatus();
}

// One GetParameters call: writes the chunks of the version that was newest
// when the call came in, one write in flight, then finishes.
class LearnerServiceImpl::GetReactor final
    : public grpc::ServerWriteReactor<v1::ParametersChunk> {
 public:
  explicit GetReactor(std::shared_ptr<const PublishedParameters> parameters)
      : parameters_(std::move(parameters)) {
    if (parameters_ == nullptr) {
      Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no parameters published yet"));
      return;
    }
    StartWrite(&parameters_->chunks[next_++]);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
    } else if (next_ == parameters_->chunks.size()) {
      Finish(grpc::Status::OK);
    } else {
      StartWrite(&parameters_->chunks[next_++]);
    }
  }
  void OnDone() override { delete this; }

 private:
  // Reactions only (one at a time).
  const std::shared_ptr<const PublishedParameters> parameters_;
  size_t next_ = 0;
};

// A streaming call refused before anything is written.
class LearnerServiceImpl::RefuseReactor final
    : public grpc::ServerWriteReactor<v1::ParametersChunk> {
 public:
  explicit RefuseReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// One WatchParameters call. Pump() starts the next write when none is in
// flight: the next chunk of the version being sent, else the first chunk
// of the newest version above sent_version_. It runs from the constructor,
// from OnWriteDone and from the store's listener (the publishing thread).
// mu_ is released before StartWrite: no lock is held across reactions,
// which may run on any thread. The store's listener lock is held during a
// listener's Pump, which is what lets OnDone unsubscribe and delete this
// safely.
class LearnerServiceImpl::WatchReactor final
    : public grpc::ServerWriteReactor<v1::ParametersChunk> {
 public:
  // The caller has counted this stream in `open_watchers`; OnDone uncounts
  // it.
  WatchReactor(ParameterStore* store, std::atomic<int>* open_watchers,
               int64_t have_version)
      : store_(store),
        open_watchers_(open_watchers),
        sent_version_(have_version) {
    listener_id_ = store_->Subscribe([this] { Pump(); });
    Pump();
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      if (next_chunk_ == current_->chunks.size()) {
        sent_version_ = current_->version;
        current_.reset();
      }
      if ((!ok || cancelled_) && !finished_) finish = finished_ = true;
    }
    if (finish) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (write_in_flight_ || finished_) return;  // OnWriteDone finishes
      finished_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    store_->Unsubscribe(listener_id_);
    open_watchers_->fetch_sub(1);
    delete this;
  }

 private:
  void Pump() ABSL_LOCKS_EXCLUDED(mu_) {
    std::shared_ptr<const PublishedParameters> latest = store_->Latest();
    const v1::ParametersChunk* chunk = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (write_in_flight_ || cancelled_ || finished_) return;
      if (current_ == nullptr) {
        if (latest == nullptr || latest->version <= sent_version_) return;
        current_ = std::move(latest);
        next_chunk_ = 0;
      }
      chunk = &current_->chunks[next_chunk_++];
      write_in_flight_ = true;
    }
    StartWrite(chunk);
  }

  // Constant after construction.
  ParameterStore* const store_;
  std::atomic<int>* const open_watchers_;
  int64_t listener_id_ = 0;  // set in the constructor, read in OnDone

  absl::Mutex mu_;
  // The version being written (nullptr between versions) and its next
  // chunk; kept alive here while its chunks are in flight.
  std::shared_ptr<const PublishedParameters> current_ ABSL_GUARDED_BY(mu_);
  size_t next_chunk_ ABSL_GUARDED_BY(mu_) = 0;
  // The newest version sent whole (or the client's have_version).
  int64_t sent_version_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

LearnerServiceImpl::LearnerServiceImpl(ParameterStore* store,
                                       EpisodeStats* stats,
                                       LearnerServiceOptions options)
    : store_(store), stats_(stats), options_(options) {}

grpc::ServerWriteReactor<v1::ParametersChunk>*
LearnerServiceImpl::GetParameters(grpc::CallbackServerContext* context,
                                  const v1::GetParametersRequest* request) {
  return new GetReactor(store_->Latest());
}

grpc::ServerWriteReactor<v1::ParametersChunk>*
LearnerServiceImpl::WatchParameters(grpc::CallbackServerContext* context,
                                    const v1::WatchParametersRequest* request) {
  if (request->have_version() < 0) {
    return new RefuseReactor(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("have_version: must be >= 0, got ",
                                  request->have_version())));
  }
  // Counted before the check, so concurrent calls cannot all slip under it.
  const int open = open_watchers_.fetch_add(1);
  if (open >= options_.max_watchers) {
    open_watchers_.fetch_sub(1);
    return new RefuseReactor(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("WatchParameters: ", open, " streams open, at most ",
                     options_.max_watchers)));
  }
  return new WatchReactor(store_, &open_watchers_, request->have_version());
}

grpc::ServerUnaryReactor* LearnerServiceImpl::ReportEpisodes(
    grpc::CallbackServerContext* context,
    const v1::ReportEpisodesRequest* request,
    v1::ReportEpisodesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status valid = ValidateEpisodes(*request);
  if (valid.ok()) {
    if (stats_ != nullptr) {
      for (const v1::Episode& episode : request->episodes()) {
        stats_->Record(episode);
      }
    }
    response->set_latest_version(store_->latest_version());
  }
  reactor->Finish(ToGrpcStatus(valid));
  return reactor;
}

}  // namespace shoal
