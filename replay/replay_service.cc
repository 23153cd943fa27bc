#include "replay/replay_service.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/arena.h"

#include "common/grpc_status.h"

namespace shoal {
namespace {

// Blocking waits are cut into slices so a reactor notices its stream being
// cancelled within this long.
constexpr absl::Duration kWaitSlice = absl::Seconds(1);

std::string TableNames(const ReplayServer& server) {
  std::vector<std::string> names;
  for (const auto& table : server.tables()) names.push_back(table->name());
  return absl::StrJoin(names, ", ");
}

absl::Status UnknownTable(const ReplayServer& server, absl::string_view field,
                          absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": no table named '", name,
                   "' (tables: ", TableNames(server), ")"));
}

absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point d = context.deadline();
  if (d == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(d);
}

// One InsertStream: read a batch, insert it on the insert pool, write the
// acknowledgement, read the next.
class InsertReactor final
    : public grpc::ServerBidiReactor<v1::InsertRequest, v1::InsertResponse> {
 public:
  InsertReactor(ReplayServer* server, ThreadPool* pool, ReplayMetrics* metrics)
      : server_(server), pool_(pool), metrics_(metrics) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the writer closed the stream, or it was cancelled
      Finish(grpc::Status::OK);
      return;
    }
    pool_->Schedule([this] { Process(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    StartRead(&request_);
  }

  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  // Every item's table and content, before anything is stored.
  absl::Status Validate() {
    if (request_.items_size() == 0) {
      return absl::InvalidArgumentError("items: the batch is empty");
    }
    if (request_.first_sequence() == 0) {
      return absl::InvalidArgumentError(
          "first_sequence: must be >= 1 (sequence numbers start at 1)");
    }
    tables_.clear();
    for (int i = 0; i < request_.items_size(); ++i) {
      const v1::Item& item = request_.items(i);
      const std::string field = absl::StrCat("items[", i, "]");
      Table* table = server_->FindTable(item.table());
      if (table == nullptr) {
        return UnknownTable(*server_, absl::StrCat(field, ".table"),
                            item.table());
      }
      absl::Status valid = table->Validate(item, field);
      if (!valid.ok()) return valid;
      tables_.push_back(table);
    }
    return absl::OkStatus();
  }

  void Process() {
    response_.Clear();
    const uint64_t first = request_.first_sequence();
    const uint64_t last = first + request_.items_size() - 1;
    if (absl::Status valid = Validate(); !valid.ok()) {
      if (metrics_) metrics_->rejected().Increment(request_.items_size());
      response_.set_acked_sequence(request_.items_size() == 0 ? first - 1
                                                              : last);
      v1::InsertError* error = response_.mutable_error();
      error->set_code(static_cast<int>(valid.code()));
      error->set_message(std::string(valid.message()));
      error->set_first_sequence(first);
      StartWrite(&response_);
      return;
    }
    for (int i = 0; i < request_.items_size(); ++i) {
      absl::StatusOr<bool> stored;
      do {
        stored = tables_[i]->Insert(request_.items(i), request_.writer_id(),
                                    first + i, absl::Now() + kWaitSlice);
      } while (absl::IsDeadlineExceeded(stored.status()) && !cancelled_);
      if (!stored.ok()) {
        Finish(absl::IsCancelled(stored.status())
                   ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "replay shard is shutting down")
                   : grpc::Status(grpc::StatusCode::CANCELLED,
                                  "stream cancelled while blocked"));
        return;
      }
      if (metrics_) {
        (*stored ? metrics_->inserted() : metrics_->duplicates()).Increment();
      }
    }
    response_.set_acked_sequence(last);
    StartWrite(&response_);
  }

  ReplayServer* const server_;
  ThreadPool* const pool_;
  ReplayMetrics* const metrics_;
  std::atomic<bool> cancelled_{false};
  v1::InsertRequest request_;
  v1::InsertResponse response_;
  std::vector<Table*> tables_;
};

// One SampleStream: read a request, sample on the sample pool, write the
// size-capped responses one by one, read the next request.
class SampleReactor final
    : public grpc::ServerBidiReactor<v1::SampleRequest, v1::SampleResponse> {
 public:
  SampleReactor(grpc::CallbackServerContext* context, ReplayServer* server,
                ThreadPool* pool, const ReplayServiceOptions& options,
                ReplayMetrics* metrics)
      : server_(server),
        pool_(pool),
        options_(options),
        metrics_(metrics),
        stream_deadline_(DeadlineOf(*context)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    pool_->Schedule([this] { Process(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    WriteNext();
  }

  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  void Process() {
    Table* table = server_->FindTable(request_.table());
    if (table == nullptr) {
      Finish(ToGrpcStatus(UnknownTable(*server_, "table", request_.table())));
      return;
    }
    const int n = request_.num_samples();
    if (n <= 0 || n > options_.max_samples_per_request) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("num_samples: must be in [1, ",
                       options_.max_samples_per_request, "], got ", n))));
      return;
    }
    if (request_.timeout_ms() < 0 || request_.max_response_bytes() < 0) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError(
          "timeout_ms and max_response_bytes must be >= 0")));
      return;
    }
    const absl::Time deadline =
        request_.timeout_ms() > 0
            ? std::min(stream_deadline_,
                       absl::Now() + absl::Milliseconds(request_.timeout_ms()))
            : stream_deadline_;
    // Everything of this request lives on arena_, freed in one go when the
    // next request starts (its writes are done by then).
    arena_.Reset();
    pending_.clear();
    v1::SampleResponse* all =
        google::protobuf::Arena::CreateMessage<v1::SampleResponse>(&arena_);
    google::protobuf::RepeatedPtrField<v1::SampledItem>& items =
        *all->mutable_items();
    absl::Status status;
    while (items.size() < n && !cancelled_) {
      const absl::Time slice = std::min(deadline, absl::Now() + kWaitSlice);
      status = table->Sample(n - items.size(), slice, &items);
      if (absl::IsDeadlineExceeded(status) && slice < deadline) continue;
      if (!status.ok() || absl::Now() >= deadline) break;
    }
    if (items.empty()) {
      if (status.ok()) status = absl::CancelledError("stream cancelled");
      if (absl::IsCancelled(status) && !cancelled_) {
        status = absl::UnavailableError("replay shard is shutting down");
      }
      if (absl::IsDeadlineExceeded(status)) {
        status = absl::DeadlineExceededError(
            absl::StrCat("sample of ", n, " from table ", table->name(),
                         " blocked until the deadline: ", status.message()));
      }
      Finish(ToGrpcStatus(status));
      return;
    }
    if (metrics_) metrics_->sampled().Increment(items.size());
    Split(all);
    WriteNext();
  }

  // Queues `all` as responses of at most max_response_bytes each: itself
  // when it fits (the common case), else its items moved (not copied) into
  // smaller responses on the same arena.
  void Split(v1::SampleResponse* all) {
    const int64_t cap = request_.max_response_bytes() > 0
                            ? request_.max_response_bytes()
                            : options_.max_response_bytes;
    all->set_request_id(request_.request_id());
    if (static_cast<int64_t>(all->ByteSizeLong()) <= cap) {
      all->set_end_of_request(true);
      pending_.push_back(all);
      return;
    }
    google::protobuf::RepeatedPtrField<v1::SampledItem>& items =
        *all->mutable_items();
    std::vector<v1::SampledItem*> moved(items.size());
    items.UnsafeArenaExtractSubrange(0, items.size(), moved.data());
    int64_t bytes = 0;
    for (v1::SampledItem* item : moved) {
      const int64_t size = static_cast<int64_t>(item->ByteSizeLong()) + 8;
      if (pending_.empty() || (bytes + size > cap && bytes > 0)) {
        pending_.push_back(
            google::protobuf::Arena::CreateMessage<v1::SampleResponse>(
                &arena_));
        pending_.back()->set_request_id(request_.request_id());
        bytes = 0;
      }
      pending_.back()->mutable_items()->UnsafeArenaAddAllocated(item);
      bytes += size;
    }
    pending_.back()->set_end_of_request(true);
  }

  void WriteNext() {
    if (!pending_.empty()) {
      v1::SampleResponse* next = pending_.front();
      pending_.pop_front();
      StartWrite(next);
      return;
    }
    StartRead(&request_);
  }

  ReplayServer* const server_;
  ThreadPool* const pool_;
  const ReplayServiceOptions& options_;
  ReplayMetrics* const metrics_;
  const absl::Time stream_deadline_;
  std::atomic<bool> cancelled_{false};
  v1::SampleRequest request_;
  google::protobuf::Arena arena_;
  // Responses still to write, owned by arena_.
  std::deque<v1::SampleResponse*> pending_;
};

}  // namespace

ReplayServiceImpl::ReplayServiceImpl(ReplayServer* server,
                                     ReplayServiceOptions options,
                                     ReplayMetrics* metrics)
    : server_(server),
      options_(options),
      metrics_(metrics),
      // Each stream has at most one task queued, so the queues stay short.
      insert_pool_(std::make_unique<ThreadPool>("replay-insert",
                                                options.insert_threads, 4096)),
      sample_pool_(std::make_unique<ThreadPool>("replay-sample",
                                                options.sample_threads, 4096)),
      admin_pool_(std::make_unique<ThreadPool>("replay-admin", 1, 64)) {}

ReplayServiceImpl::~ReplayServiceImpl() { server_->Cancel(); }

grpc::ServerBidiReactor<v1::InsertRequest, v1::InsertResponse>*
ReplayServiceImpl::InsertStream(grpc::CallbackServerContext* /*context*/) {
  return new InsertReactor(server_, insert_pool_.get(), metrics_);
}

grpc::ServerBidiReactor<v1::SampleRequest, v1::SampleResponse>*
ReplayServiceImpl::SampleStream(grpc::CallbackServerContext* context) {
  return new SampleReactor(context, server_, sample_pool_.get(), options_,
                           metrics_);
}

grpc::ServerUnaryReactor* ReplayServiceImpl::UpdatePriorities(
    grpc::CallbackServerContext* context,
    const v1::UpdatePrioritiesRequest* request,
    v1::UpdatePrioritiesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Table* table = server_->FindTable(request->table());
  if (table == nullptr) {
    reactor->Finish(
        ToGrpcStatus(UnknownTable(*server_, "table", request->table())));
    return reactor;
  }
  absl::StatusOr<PriorityUpdateResult> result =
      table->UpdatePriorities(request->keys(), request->priorities());
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  if (metrics_) metrics_->priority_updates().Increment(result->updated);
  response->set_updated(result->updated);
  response->mutable_missing_keys()->Add(result->missing_keys.begin(),
                                        result->missing_keys.end());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ReplayServiceImpl::Info(
    grpc::CallbackServerContext* context, const v1::InfoRequest* request,
    v1::InfoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::InfoResponse> info = server_->Info(request->table());
  if (info.ok()) *response = std::move(*info);
  reactor->Finish(ToGrpcStatus(info.status()));
  return reactor;
}

grpc::ServerUnaryReactor* ReplayServiceImpl::Checkpoint(
    grpc::CallbackServerContext* context,
    const v1::CheckpointRequest* /*request*/,
    v1::CheckpointResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Writing takes a while: off the callback thread.
  admin_pool_->Schedule([this, reactor, response] {
    absl::StatusOr<v1::CheckpointResponse> done = server_->Checkpoint();
    if (done.ok()) *response = std::move(*done);
    reactor->Finish(ToGrpcStatus(done.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ReplayServiceImpl::Reset(
    grpc::CallbackServerContext* context, const v1::ResetRequest* request,
    v1::ResetResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(server_->Reset(request->table())));
  return reactor;
}

}  // namespace shoal
