#include "learner/client/episode_reporter.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "common/grpc_status.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<EpisodeReporter>> EpisodeReporter::Create(
    EpisodeReporterOptions options) {
  if (options.max_queue < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queue must be >= 1, got ", options.max_queue));
  }
  if (options.max_batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch must be >= 1, got ", options.max_batch));
  }
  if (options.rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rpc_timeout must be > 0, got ",
                     absl::FormatDuration(options.rpc_timeout)));
  }
  if (absl::Status valid = Backoff::Validate(options.backoff); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(options.channel);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<EpisodeReporter> reporter(
      new EpisodeReporter(std::move(options), *std::move(channel)));
  reporter->sender_ = std::thread([r = reporter.get()] { r->SenderLoop(); });
  return reporter;
}

EpisodeReporter::EpisodeReporter(EpisodeReporterOptions options,
                                 std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(v1::LearnerService::NewStub(channel_)),
      schedule_(options_.backoff, std::random_device()()) {}

EpisodeReporter::~EpisodeReporter() { Close(absl::InfinitePast()); }

void EpisodeReporter::Report(v1::Episode episode) {
  absl::MutexLock lock(&mu_);
  if (closing_) return;
  queue_.push_back(std::move(episode));
  TrimLocked();
  changed_.SignalAll();
}

absl::Status EpisodeReporter::Flush(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  while (!queue_.empty() || in_flight_ > 0) {
    if (changed_.WaitWithDeadline(&mu_, deadline) &&
        (!queue_.empty() || in_flight_ > 0)) {
      return absl::DeadlineExceededError(
          absl::StrCat("flush: ", queue_.size(), " episodes queued and ",
                       in_flight_, " in flight"));
    }
  }
  return absl::OkStatus();
}

void EpisodeReporter::Close(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      closing_ = true;
      close_deadline_ = deadline;
    }
    changed_.SignalAll();
    while (!sender_done_ && absl::Now() < close_deadline_) {
      changed_.WaitWithDeadline(&mu_, close_deadline_);
    }
    if (active_ != nullptr) active_->TryCancel();
  }
  if (sender_.joinable()) sender_.join();
}

EpisodeReporterStats EpisodeReporter::stats() const {
  absl::MutexLock lock(&mu_);
  EpisodeReporterStats s = stats_;
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

void EpisodeReporter::TrimLocked() {
  while (static_cast<int64_t>(queue_.size()) > options_.max_queue) {
    queue_.pop_front();
    ++stats_.dropped;
  }
}

void EpisodeReporter::SenderLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    const absl::Time now = absl::Now();
    if (closing_ && (queue_.empty() || now >= close_deadline_)) break;
    if (queue_.empty() || !schedule_.Due(now)) {
      absl::Time wake_at =
          queue_.empty() ? absl::InfiniteFuture() : schedule_.next_attempt();
      if (closing_) wake_at = std::min(wake_at, close_deadline_);
      changed_.WaitWithDeadline(&mu_, wake_at);
      continue;
    }

    v1::ReportEpisodesRequest request;
    const int n =
        std::min<int>(options_.max_batch, static_cast<int>(queue_.size()));
    for (int i = 0; i < n; ++i) {
      *request.add_episodes() = std::move(queue_.front());
      queue_.pop_front();
    }
    in_flight_ = n;
    schedule_.Started();
    grpc::ClientContext context;
    absl::Time deadline = now + options_.rpc_timeout;
    if (closing_) deadline = std::min(deadline, close_deadline_);
    context.set_deadline(absl::ToChronoTime(deadline));
    active_ = &context;
    v1::ReportEpisodesResponse response;
    mu_.Unlock();
    const grpc::Status status =
        stub_->ReportEpisodes(&context, request, &response);
    mu_.Lock();
    active_ = nullptr;
    in_flight_ = 0;
    if (status.ok()) {
      stats_.reported += n;
      stats_.learner_version = response.latest_version();
      schedule_.Progressed();
    } else if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      stats_.rejected += n;
      stats_.last_error = FromGrpcStatus(status).ToString();
    } else {
      ++stats_.failed_calls;
      stats_.last_error = FromGrpcStatus(status).ToString();
      for (int i = n - 1; i >= 0; --i) {
        queue_.push_front(std::move(*request.mutable_episodes(i)));
      }
      TrimLocked();
      schedule_.Ended(absl::Now(), FromGrpcStatus(status));
    }
    changed_.SignalAll();
  }
  sender_done_ = true;
  changed_.SignalAll();
}

}  // namespace shoal
