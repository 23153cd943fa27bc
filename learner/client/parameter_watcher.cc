#include "learner/client/parameter_watcher.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

#include "common/grpc_status.h"

namespace shoal {
namespace {

// A stream that lived this long, or delivered any chunk, counts as healthy:
// the next reconnect starts from the initial backoff delay.
constexpr absl::Duration kHealthyCall = absl::Seconds(1);

}  // namespace

// One WatchParameters stream. Keeps one read in flight and reassembles
// chunks as they come (reactions run one at a time, so the reassembly state
// needs no lock). On a malformed sequence it cancels itself. Deletes itself
// in OnDone; its TrackedContext then releases the watcher's CallTracker.
class ParameterWatcher::WatchCall final
    : public grpc::ClientReadReactor<v1::ParametersChunk> {
 public:
  WatchCall(ParameterWatcher* watcher, int64_t have_version,
            CallTracker::Handle handle)
      : watcher_(watcher),
        max_bytes_(watcher->options_.max_parameters_bytes),
        context_(std::move(handle)),
        have_version_(have_version),
        started_(absl::Now()) {}

  void Begin(v1::LearnerService::Stub* stub) {
    request_.set_have_version(have_version_);
    stub->async()->WatchParameters(context_.get(), &request_, this);
    StartRead(&chunk_);
    StartCall();
  }

  grpc::ClientContext* context() { return context_.get(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    got_data_ = true;
    if (absl::Status s = Add(); !s.ok()) {
      watcher_->OnMalformed(s);
      context_->TryCancel();
      return;
    }
    StartRead(&chunk_);
  }

  void OnDone(const grpc::Status& status) override {
    watcher_->OnCallDone(status,
                         got_data_ || absl::Now() - started_ >= kHealthyCall);
    delete this;  // the watcher may go once context_ has (stream_client.h)
  }

 private:
  // Adds chunk_ to the version being reassembled; hands a complete one to
  // the watcher.
  absl::Status Add() {
    const v1::ParametersChunk& c = chunk_;
    if (next_index_ == 0) {  // a new version starts
      if (c.chunk_index() != 0) {
        return absl::DataLossError(absl::StrCat(
            "version ", c.version(), " starts at chunk ", c.chunk_index()));
      }
      if (c.version() <= have_version_) {
        return absl::DataLossError(absl::StrCat(
            "version ", c.version(), " is not above ", have_version_));
      }
      if (c.num_chunks() < 1 || c.total_bytes() < 0 ||
          c.total_bytes() > max_bytes_) {
        return absl::DataLossError(absl::StrCat(
            "version ", c.version(), ": num_chunks ", c.num_chunks(),
            ", total_bytes ", c.total_bytes(), " (limit ", max_bytes_, ")"));
      }
      version_ = c.version();
      published_ = c.published_unix_ms() > 0
                       ? absl::FromUnixMillis(c.published_unix_ms())
                       : absl::InfinitePast();
      num_chunks_ = c.num_chunks();
      total_bytes_ = c.total_bytes();
      bytes_.clear();
      bytes_.reserve(total_bytes_);
    } else if (c.version() != version_ || c.chunk_index() != next_index_ ||
               c.num_chunks() != num_chunks_ ||
               c.total_bytes() != total_bytes_) {
      return absl::DataLossError(absl::StrCat(
          "expected chunk ", next_index_, "/", num_chunks_, " of version ",
          version_, " (", total_bytes_, " bytes), got chunk ", c.chunk_index(),
          "/", c.num_chunks(), " of version ", c.version(), " (",
          c.total_bytes(), " bytes)"));
    }
    if (static_cast<int64_t>(bytes_.size() + c.data().size()) > total_bytes_) {
      return absl::DataLossError(absl::StrCat(
          "version ", version_, ": chunks exceed total_bytes ", total_bytes_));
    }
    bytes_ += c.data();
    if (++next_index_ < num_chunks_) return absl::OkStatus();
    if (static_cast<int64_t>(bytes_.size()) != total_bytes_) {
      return absl::DataLossError(
          absl::StrCat("version ", version_, ": ", bytes_.size(),
                       " bytes, expected ", total_bytes_));
    }
    next_index_ = 0;
    have_version_ = version_;
    watcher_->OnVersion(version_, std::move(bytes_), published_);
    bytes_ = std::string();
    return absl::OkStatus();
  }

  // Constant after construction.
  ParameterWatcher* const watcher_;
  const int64_t max_bytes_;

  // Reactions only (one at a time); context() may be cancelled from any
  // thread.
  TrackedContext context_;
  v1::WatchParametersRequest request_;
  v1::ParametersChunk chunk_;
  int64_t have_version_;
  const absl::Time started_;
  bool got_data_ = false;
  int64_t version_ = 0;
  absl::Time published_ = absl::InfinitePast();  // version_'s
  int32_t next_index_ = 0;
  int32_t num_chunks_ = 0;
  int64_t total_bytes_ = 0;
  std::string bytes_;
};

absl::StatusOr<std::unique_ptr<ParameterWatcher>> ParameterWatcher::Create(
    ParameterWatcherOptions options, Callback callback) {
  if (options.have_version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("have_version must be >= 0, got ", options.have_version));
  }
  if (options.max_parameters_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_parameters_bytes must be >= 1, got ",
                     options.max_parameters_bytes));
  }
  if (callback == nullptr) {
    return absl::InvalidArgumentError("callback must be set");
  }
  if (absl::Status valid = Backoff::Validate(options.backoff); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(options.channel);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<ParameterWatcher> watcher(new ParameterWatcher(
      std::move(options), std::move(callback), *std::move(channel)));
  watcher->thread_ = std::thread([w = watcher.get()] { w->Loop(); });
  return watcher;
}

ParameterWatcher::ParameterWatcher(ParameterWatcherOptions options,
                                   Callback callback,
                                   std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      callback_(std::move(callback)),
      channel_(std::move(channel)),
      stub_(v1::LearnerService::NewStub(channel_)),
      schedule_(options_.backoff, std::random_device()()),
      have_version_(options_.have_version) {
  stats_.latest_version = options_.have_version;
}

ParameterWatcher::~ParameterWatcher() { Stop(); }

void ParameterWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (call_ != nullptr) call_->context()->TryCancel();
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  calls_.WaitUntilNone();  // the last OnCallDone has returned
}

int64_t ParameterWatcher::latest_version() const {
  absl::MutexLock lock(&mu_);
  return stats_.latest_version;
}

ParameterWatcherStats ParameterWatcher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void ParameterWatcher::OnVersion(int64_t version, std::string bytes,
                                 absl::Time published) {
  absl::MutexLock lock(&mu_);
  if (pending_version_ != 0) ++stats_.versions_skipped;
  pending_version_ = version;
  pending_bytes_ = std::move(bytes);
  pending_published_ = published;
  have_version_ = std::max(have_version_, version);
  wake_.SignalAll();
}

void ParameterWatcher::OnMalformed(const absl::Status& why) {
  spdlog::warn("parameter watcher: dropping a malformed stream from {}: {}",
               options_.channel.target, std::string(why.message()));
  absl::MutexLock lock(&mu_);
  ++stats_.malformed;
  stats_.last_error = std::string(why.message());
}

void ParameterWatcher::OnCallDone(const grpc::Status& status, bool healthy) {
  absl::MutexLock lock(&mu_);
  call_ = nullptr;  // the one call; it is deleted next
  if (!stopping_) {
    if (healthy) schedule_.Progressed();
    schedule_.Ended(absl::Now(), FromGrpcStatus(status));
    if (!status.ok()) {
      stats_.last_error = FromGrpcStatus(status).ToString();
    }
  }
  wake_.SignalAll();
}

void ParameterWatcher::StartCallLocked() {
  call_ = new WatchCall(this, have_version_, calls_.Start());
  if (schedule_.Started()) ++stats_.reconnects;
  call_->Begin(stub_.get());
}

void ParameterWatcher::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (pending_version_ != 0) {
      const int64_t version = pending_version_;
      std::string bytes = std::move(pending_bytes_);
      const absl::Time published = pending_published_;
      pending_version_ = 0;
      pending_bytes_ = std::string();
      mu_.Unlock();
      Deliver(version, bytes, published);
      mu_.Lock();
      continue;
    }
    if (call_ == nullptr && schedule_.Due(absl::Now())) {
      StartCallLocked();
      continue;
    }
    const absl::Time wake_at =
        call_ == nullptr ? schedule_.next_attempt() : absl::InfiniteFuture();
    wake_.WaitWithDeadline(&mu_, wake_at);
  }
}

void ParameterWatcher::Deliver(int64_t version, const std::string& bytes,
                               absl::Time published) {
  auto parameters = std::make_shared<v1::Parameters>();
  if (!parameters->ParseFromString(bytes) || parameters->version() != version) {
    const std::string why =
        absl::StrCat("version ", version, ": ", bytes.size(),
                     " bytes that are not a Parameters of that version");
    spdlog::warn("parameter watcher: dropping {} from {}", why,
                 options_.channel.target);
    absl::MutexLock lock(&mu_);
    ++stats_.malformed;
    stats_.last_error = why;
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.versions_received;
    stats_.latest_version = version;
  }
  callback_(std::move(parameters), published);
}

}  // namespace shoal
