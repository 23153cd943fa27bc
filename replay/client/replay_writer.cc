#include "replay/client/replay_writer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "common/grpc_status.h"
#include "replay/client/shard_addresses.h"

namespace shoal {
namespace {

// Bound on an InsertRequest's bytes besides its items (writer_id and
// first_sequence), and on each item's framing (tag + length).
constexpr int64_t kRequestOverhead = 32;
constexpr int64_t kItemOverhead = 8;
// How often the connector looks at an open stream's health.
constexpr absl::Duration kConnectorTick = absl::Milliseconds(100);
// An open stream on a READY channel counts as healthy after this long even
// without an ack (an idle writer must not fail over later on an old clock).
constexpr absl::Duration kHealthyAfter = absl::Milliseconds(500);

}  // namespace

// One InsertStream. Keeps a read pending for acks from start to end, and a
// hold until the writer detaches it, so that the writer may StartWrite from
// any thread while it is attached. Deletes itself in OnDone; its
// TrackedContext then releases the writer's CallTracker.
class ReplayWriter::InsertCall final
    : public grpc::ClientBidiReactor<v1::InsertRequest, v1::InsertResponse> {
 public:
  InsertCall(ReplayWriter* writer, CallTracker::Handle handle)
      : writer_(writer), context_(std::move(handle)) {}

  // Opens the stream on `stub`.
  void Begin(v1::ReplayService::Stub* stub) {
    stub->async()->InsertStream(context_.get(), this);
    AddHold();
    StartRead(&response_);
    StartCall();
  }

  grpc::ClientContext* context() { return context_.get(); }
  // Written only by the writer, under its mutex, while no write is in
  // flight (from PrepareWriteLocked until OnWriteDone or a detach).
  v1::InsertRequest* request() { return &request_; }

  void OnReadDone(bool ok) override {
    if (!ok) {
      writer_->OnStreamBroken(this);
      return;
    }
    writer_->OnAck(this, response_);
    StartRead(&response_);
  }
  void OnWriteDone(bool ok) override { writer_->OnWriteDone(this, ok); }
  void OnDone(const grpc::Status& status) override {
    writer_->OnCallDone(this, status);
    delete this;  // the writer may go once context_ has (stream_client.h)
  }

 private:
  ReplayWriter* const writer_;
  TrackedContext context_;
  v1::InsertRequest request_;
  v1::InsertResponse response_;
};

absl::StatusOr<std::unique_ptr<ReplayWriter>> ReplayWriter::Create(
    ReplayWriterOptions options) {
  if (options.max_unacked_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_unacked_bytes must be >= 1, got ", options.max_unacked_bytes));
  }
  if (options.max_unacked_items < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_unacked_items must be >= 0, got ", options.max_unacked_items));
  }
  if (options.items_per_insert < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "items_per_insert must be >= 1, got ", options.items_per_insert));
  }
  if (options.max_message_bytes < 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_message_bytes must be >= 1024, got ", options.max_message_bytes));
  }
  if (options.stay_down <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("stay_down must be > 0, got ",
                     absl::FormatDuration(options.stay_down)));
  }
  if (absl::Status valid = Backoff::Validate(options.backoff); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<ShardAddresses> shards =
      ResolveShardAddresses(options.addresses);
  if (!shards.ok()) return shards.status();
  std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const std::string& address : shards->addresses) {
    ChannelOptions channel_options = options.channel;
    channel_options.target = address;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        MakeChannel(channel_options);
    if (!channel.ok()) return channel.status();
    stubs.push_back(v1::ReplayService::NewStub(*channel));
    channels.push_back(*std::move(channel));
  }
  std::unique_ptr<ReplayWriter> writer(
      new ReplayWriter(std::move(options), std::move(shards->addresses),
                       std::move(stubs), std::move(channels)));
  writer->connector_ = std::thread([w = writer.get()] { w->ConnectorLoop(); });
  return writer;
}

ReplayWriter::ReplayWriter(
    ReplayWriterOptions options, std::vector<std::string> addresses,
    std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs,
    std::vector<std::shared_ptr<grpc::Channel>> channels)
    : options_(std::move(options)),
      addresses_(std::move(addresses)),
      stubs_(std::move(stubs)),
      channels_(std::move(channels)),
      schedule_(options_.backoff, StableHash(options_.writer_id)) {
  absl::MutexLock lock(&mu_);
  next_sequence_ = options_.first_sequence > 0
                       ? options_.first_sequence
                       : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  shard_ = static_cast<int>(StableHash(options_.writer_id) %
                            static_cast<uint64_t>(addresses_.size()));
  stats_.shard = shard_;
}

ReplayWriter::~ReplayWriter() { Close(absl::InfinitePast()).IgnoreError(); }

absl::Status ReplayWriter::Append(v1::Item item, absl::Time deadline) {
  const int64_t bytes = static_cast<int64_t>(item.ByteSizeLong());
  if (bytes + kItemOverhead + kRequestOverhead > options_.max_message_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("item of ", bytes, " bytes does not fit in one message (",
                     options_.max_message_bytes, " bytes)"));
  }
  if (bytes > options_.max_unacked_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("item of ", bytes, " bytes exceeds max_unacked_bytes (",
                     options_.max_unacked_bytes, ")"));
  }
  InsertCall* write = nullptr;
  {
    absl::MutexLock lock(&mu_);
    const auto full = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return unacked_bytes_ + bytes > options_.max_unacked_bytes ||
             (options_.max_unacked_items > 0 &&
              static_cast<int64_t>(unacked_.size()) >=
                  options_.max_unacked_items);
    };
    while (!closing_ && full()) {
      if (changed_.WaitWithDeadline(&mu_, deadline) && !closing_ && full()) {
        return absl::DeadlineExceededError(absl::StrCat(
            "replay writer buffer full: ", unacked_bytes_, " of ",
            options_.max_unacked_bytes, " bytes, ", unacked_.size(), " of ",
            options_.max_unacked_items > 0
                ? absl::StrCat(options_.max_unacked_items)
                : std::string("unbounded"),
            " items unacknowledged by shard ", shard_, " (", addresses_[shard_],
            ")"));
      }
    }
    if (closing_) {
      return absl::FailedPreconditionError("replay writer is closed");
    }
    unacked_.push_back(Pending{next_sequence_++, bytes, std::move(item)});
    unacked_bytes_ += bytes;
    ++stats_.items_appended;
    write = PrepareWriteLocked();
  }
  if (write != nullptr) StartPreparedWrite(write);
  return absl::OkStatus();
}

absl::Status ReplayWriter::Flush(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  while (!unacked_.empty()) {
    if (changed_.WaitWithDeadline(&mu_, deadline) && !unacked_.empty()) {
      return absl::DeadlineExceededError(
          absl::StrCat("replay writer flush: ", unacked_.size(), " items (",
                       unacked_bytes_, " bytes) still unacknowledged by shard ",
                       shard_, " (", addresses_[shard_], ")",
                       stats_.last_stream_error.empty()
                           ? ""
                           : absl::StrCat("; last stream error: ",
                                          stats_.last_stream_error)));
    }
  }
  return absl::OkStatus();
}

absl::Status ReplayWriter::Close(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
  }
  absl::Status flushed = Flush(deadline);
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    connector_wake_.Signal();
    changed_.SignalAll();
    if (call_ != nullptr) call_->context()->TryCancel();
  }
  if (connector_.joinable()) connector_.join();
  calls_.WaitUntilNone();
  return flushed;
}

ReplayWriterStats ReplayWriter::stats() const {
  absl::MutexLock lock(&mu_);
  ReplayWriterStats stats = stats_;
  stats.shard = shard_;
  stats.unacked_items = static_cast<int64_t>(unacked_.size());
  stats.unacked_bytes = unacked_bytes_;
  return stats;
}

void ReplayWriter::OnAck(InsertCall* call, const v1::InsertResponse& ack) {
  absl::MutexLock lock(&mu_);
  const bool rejected = ack.has_error();
  const uint64_t first_rejected = ack.error().first_sequence();
  while (!unacked_.empty() &&
         unacked_.front().sequence <= ack.acked_sequence()) {
    const Pending& front = unacked_.front();
    if (rejected && front.sequence >= first_rejected) {
      ++stats_.items_rejected;
    } else {
      ++stats_.items_acked;
    }
    unacked_bytes_ -= front.bytes;
    unacked_.pop_front();
  }
  if (rejected) {
    stats_.last_rejection =
        absl::StrCat(absl::StatusCodeToString(
                         static_cast<absl::StatusCode>(ack.error().code())),
                     ": ", ack.error().message());
  }
  if (call == call_) MarkHealthyLocked();
  changed_.SignalAll();
}

void ReplayWriter::OnWriteDone(InsertCall* call, bool ok) {
  InsertCall* write = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (call != call_) return;
    write_in_flight_ = false;
    if (!ok) {
      DetachLocked(call);
      return;
    }
    write = PrepareWriteLocked();
  }
  if (write != nullptr) StartPreparedWrite(write);
}

void ReplayWriter::OnStreamBroken(InsertCall* call) {
  absl::MutexLock lock(&mu_);
  DetachLocked(call);
}

void ReplayWriter::OnCallDone(InsertCall* call, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  DetachLocked(call);
  stats_.last_stream_error = status.ok() ? "stream ended by the server"
                                         : FromGrpcStatus(status).ToString();
}

void ReplayWriter::DetachLocked(InsertCall* call) {
  if (held_calls_.erase(call) > 0) call->RemoveHold();
  if (call != call_) return;
  call_ = nullptr;
  write_in_flight_ = false;
  schedule_.Ended(absl::Now(), absl::OkStatus());
  connector_wake_.Signal();
  changed_.SignalAll();
}

void ReplayWriter::MarkHealthyLocked() { schedule_.Progressed(); }

ReplayWriter::InsertCall* ReplayWriter::StartCallLocked() {
  auto* call = new InsertCall(this, calls_.Start());
  held_calls_.insert(call);
  call_ = call;
  write_in_flight_ = false;
  sent_through_ = 0;  // resend every unacked item on the new stream
  call_started_ = absl::Now();
  if (schedule_.Started()) ++stats_.reconnects;
  // Reactions never run inline in StartRead/StartCall (gRPC's can_inline
  // is false for client streams), so calling them under mu_ is safe.
  call->Begin(stubs_[shard_].get());
  return PrepareWriteLocked();
}

ReplayWriter::InsertCall* ReplayWriter::PrepareWriteLocked() {
  if (call_ == nullptr || write_in_flight_ || closing_ || unacked_.empty()) {
    return nullptr;
  }
  const uint64_t first = unacked_.front().sequence;
  if (sent_through_ + 1 < first) sent_through_ = first - 1;
  size_t index = static_cast<size_t>(sent_through_ + 1 - first);
  if (index >= unacked_.size()) return nullptr;
  v1::InsertRequest* request = call_->request();
  request->Clear();
  request->set_writer_id(options_.writer_id);
  request->set_first_sequence(unacked_[index].sequence);
  int64_t bytes = kRequestOverhead;
  while (index < unacked_.size() &&
         request->items_size() < options_.items_per_insert) {
    const Pending& next = unacked_[index];
    const int64_t size = next.bytes + kItemOverhead;
    if (request->items_size() > 0 &&
        bytes + size > options_.max_message_bytes) {
      break;
    }
    *request->add_items() = next.item;
    bytes += size;
    sent_through_ = next.sequence;
    if (next.sequence <= highest_sent_) {
      ++stats_.items_resent;
    } else {
      highest_sent_ = next.sequence;
    }
    ++index;
  }
  write_in_flight_ = true;
  // call_ is held (held_calls_) while attached, but a detach may drop that
  // hold as soon as mu_ is released; this one keeps the reactor alive
  // until the write has started.
  call_->AddHold();
  return call_;
}

void ReplayWriter::StartPreparedWrite(InsertCall* call) {
  call->StartWrite(call->request());
  call->RemoveHold();
}

void ReplayWriter::ConnectorLoop() {
  const int num_shards = static_cast<int>(addresses_.size());
  absl::MutexLock lock(&mu_);
  while (!closing_) {
    const absl::Time now = absl::Now();
    absl::Time wake = now + kConnectorTick;
    if (call_ != nullptr) {
      if (schedule_.down_since() != absl::InfiniteFuture() &&
          now - call_started_ >= kHealthyAfter &&
          channels_[shard_]->GetState(/*try_to_connect=*/false) ==
              GRPC_CHANNEL_READY) {
        MarkHealthyLocked();
      } else if (num_shards > 1 &&
                 schedule_.down_since() != absl::InfiniteFuture() &&
                 now - schedule_.down_since() >= options_.stay_down &&
                 channels_[shard_]->GetState(false) != GRPC_CHANNEL_READY) {
        call_->context()->TryCancel();  // stuck connecting: give it up
      }
    } else {
      if (num_shards > 1 && schedule_.down_since() != absl::InfiniteFuture() &&
          now - schedule_.down_since() >= options_.stay_down) {
        shard_ = (shard_ + 1) % num_shards;
        ++stats_.failovers;
        MarkHealthyLocked();
        schedule_.RetryNow();
      }
      if (schedule_.Due(now)) {
        if (InsertCall* write = StartCallLocked(); write != nullptr) {
          mu_.Unlock();  // no lock across StartWrite
          StartPreparedWrite(write);
          mu_.Lock();
        }
      } else {
        wake = std::min(wake, schedule_.next_attempt());
        if (num_shards > 1 &&
            schedule_.down_since() != absl::InfiniteFuture()) {
          wake = std::min(wake, schedule_.down_since() + options_.stay_down);
        }
      }
    }
    connector_wake_.WaitWithDeadline(&mu_, wake);
  }
}

}  // namespace shoal
