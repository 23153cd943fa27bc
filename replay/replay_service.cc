#include "replay/replay_service.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

#include "common/grpc_status.h"
#include "replay/sample_encoder.h"

namespace shoal {
namespace {

// Blocking waits are cut into slices so a reactor notices its stream being
// cancelled within this long.
constexpr absl::Duration kWaitSlice = absl::Seconds(1);

// Insert batches of at most this many payload bytes are stored on the
// callback thread when the rate limiter admits them; larger ones, whose copy
// dwarfs the hop, go to the insert pool and leave gRPC's threads free.
constexpr int64_t kMaxInlineInsertBytes = 128 << 10;

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

// One InsertStream: read a batch and insert it, write the acknowledgement,
// read the next. A small batch is inserted on the callback thread while the
// rate limiter admits it without waiting; a large one, and the rest of a
// batch from the first item that would wait, on the insert pool. Raw bytes
// both ways: the request is parsed here (a malformed one ends the stream
// with INVALID_ARGUMENT), the acknowledgement serialised here.
class InsertReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  InsertReactor(ReplayServer* server, ThreadPool* pool, ReplayMetrics* metrics)
      : server_(server), pool_(pool), metrics_(metrics) {
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the writer closed the stream, or it was cancelled
      Finish(grpc::Status::OK);
      return;
    }
    if (!grpc::SerializationTraits<v1::InsertRequest>::Deserialize(
             &request_bytes_, &request_)
             .ok()) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "malformed InsertRequest: the message does not "
                          "parse (truncated?)"));
      return;
    }
    Start();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    StartRead(&request_bytes_);
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
    if (request_.first_sequence() - 1 >
        std::numeric_limits<uint64_t>::max() - request_.items_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("first_sequence: ", request_.first_sequence(), " + ",
                       request_.items_size(), " items passes 2^64 - 1"));
    }
    tables_.clear();
    batch_bytes_ = 0;
    Table* table = nullptr;
    for (int i = 0; i < request_.items_size(); ++i) {
      const v1::Item& item = request_.items(i);
      if (table == nullptr || item.table() != table->name()) {
        table = server_->FindTable(item.table());
      }
      if (table == nullptr) {
        return UnknownTable(*server_, absl::StrCat("items[", i, "].table"),
                            item.table());
      }
      // The field name is built only for an item that fails.
      if (!table->Validate(item, absl::string_view()).ok()) {
        return table->Validate(item, absl::StrCat("items[", i, "]"));
      }
      tables_.push_back(table);
      for (const v1::Tensor& column : item.columns()) {
        batch_bytes_ += static_cast<int64_t>(column.data().size());
      }
    }
    return absl::OkStatus();
  }

  // Validates the batch and inserts what the rate limiters admit at once;
  // hands the rest to the pool. Runs on the callback thread.
  void Start() {
    response_.Clear();
    next_ = 0;
    if (absl::Status valid = Validate(); !valid.ok()) {
      Reject(valid);
      return;
    }
    if (batch_bytes_ <= kMaxInlineInsertBytes &&
        InsertFrom(absl::InfinitePast())) {
      return;
    }
    pool_->Schedule([this] { Process(); });
  }

  // Acknowledges the whole batch as rejected. Its last sequence number
  // saturates at 2^64 - 1 (a batch that runs past it is one of the
  // rejected ones); an empty batch acknowledges first_sequence - 1, or 0.
  void Reject(const absl::Status& valid) {
    const uint64_t first = request_.first_sequence();
    const uint64_t n = request_.items_size();
    uint64_t last;
    if (n == 0) {
      last = first == 0 ? 0 : first - 1;
    } else if (first > std::numeric_limits<uint64_t>::max() - (n - 1)) {
      last = std::numeric_limits<uint64_t>::max();
    } else {
      last = first + (n - 1);
    }
    if (metrics_) metrics_->rejected().Increment(request_.items_size());
    response_.set_acked_sequence(last);
    v1::InsertError* error = response_.mutable_error();
    error->set_code(static_cast<int>(valid.code()));
    error->set_message(std::string(valid.message()));
    error->set_first_sequence(first);
    WriteResponse();
  }

  // Inserts items from next_ on, each run of one table's items in one
  // InsertBatch, waiting until `deadline`. Returns true when the batch is
  // done and its acknowledgement (or the stream's end) is under way; false
  // when the limiter blocked before `deadline`, with next_ where it stopped.
  bool InsertFrom(absl::Time deadline) {
    const int n = request_.items_size();
    const uint64_t first = request_.first_sequence();
    while (next_ < n) {
      int end = next_ + 1;
      while (end < n && tables_[end] == tables_[next_]) ++end;
      InsertBatchResult result;
      absl::Status status = tables_[next_]->InsertBatch(
          absl::MakeConstSpan(request_.items().data() + next_, end - next_),
          request_.writer_id(), first + next_, deadline, &result);
      if (metrics_) {
        metrics_->inserted().Increment(result.stored);
        metrics_->duplicates().Increment(result.processed - result.stored);
      }
      next_ += result.processed;
      if (absl::IsDeadlineExceeded(status) && !cancelled_) return false;
      if (!status.ok()) {
        Finish(absl::IsCancelled(status)
                   ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "replay shard is shutting down")
                   : grpc::Status(grpc::StatusCode::CANCELLED,
                                  "stream cancelled while blocked"));
        return true;
      }
    }
    response_.set_acked_sequence(first + n - 1);
    WriteResponse();
    return true;
  }

  // On the pool: waits for the rate limiter in slices, so a cancelled
  // stream is noticed.
  void Process() {
    while (!InsertFrom(absl::Now() + kWaitSlice)) {
    }
  }

  // Serialises response_ and starts writing it.
  void WriteResponse() {
    bool own_buffer = false;
    response_bytes_.Clear();
    grpc::Status serialized =
        grpc::SerializationTraits<v1::InsertResponse>::Serialize(
            response_, &response_bytes_, &own_buffer);
    if (!serialized.ok()) {
      Finish(serialized);
      return;
    }
    StartWrite(&response_bytes_);
  }

  ReplayServer* const server_;
  ThreadPool* const pool_;
  ReplayMetrics* const metrics_;
  std::atomic<bool> cancelled_{false};
  grpc::ByteBuffer request_bytes_;
  v1::InsertRequest request_;
  v1::InsertResponse response_;
  grpc::ByteBuffer response_bytes_;
  // Table of each item of request_, and the first item not yet inserted.
  std::vector<Table*> tables_;
  int next_ = 0;
  // Column bytes of request_.
  int64_t batch_bytes_ = 0;
};

// Frees the EncodedSamples a response slice points into, once gRPC is done
// with every slice of it.
void DeleteEncodedSamples(void* samples) {
  delete static_cast<EncodedSamples*>(samples);
}

// One SampleStream: read a request, sample (on the callback thread while
// the rate limiter allows without waiting, else on the sample pool), write
// the size-capped responses one by one, read the next request. Raw bytes both
// ways: the request is parsed here, and each response is written as wire
// bytes the table encoded (SampleEncoder), never built as a message.
class SampleReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  SampleReactor(grpc::CallbackServerContext* context, ReplayServer* server,
                ThreadPool* pool, const ReplayServiceOptions& options,
                ReplayMetrics* metrics)
      : server_(server),
        pool_(pool),
        options_(options),
        metrics_(metrics),
        stream_deadline_(DeadlineOf(*context)) {
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    grpc::Status parsed =
        grpc::SerializationTraits<v1::SampleRequest>::Deserialize(
            &request_bytes_, &request_);
    if (!parsed.ok()) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "malformed SampleRequest"));
      return;
    }
    Start();
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
  // Checks the request and samples what the rate limiter allows without
  // waiting, on the callback thread; the rest (which waits) on the pool.
  void Start() {
    table_ = server_->FindTable(request_.table());
    if (table_ == nullptr) {
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
    if (request_.timeout_ms() < 0) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "timeout_ms: must be >= 0, got ", request_.timeout_ms()))));
      return;
    }
    if (request_.max_response_bytes() < 0) {
      Finish(ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("max_response_bytes: must be >= 0, got ",
                       request_.max_response_bytes()))));
      return;
    }
    deadline_ =
        request_.timeout_ms() > 0
            ? std::min(stream_deadline_,
                       absl::Now() + absl::Milliseconds(request_.timeout_ms()))
            : stream_deadline_;
    samples_ = std::make_unique<EncodedSamples>();
    // A deadline in the past: takes what the limiter allows now, no wait.
    (void)table_->SampleEncoded(n, absl::InfinitePast(), samples_.get());
    if (samples_->size() == n) {
      Respond();
      return;
    }
    pool_->Schedule([this] { Process(); });
  }

  // On the pool: waits for the rest of the request in slices, so a
  // cancelled stream is noticed, then responds.
  void Process() {
    const int n = request_.num_samples();
    absl::Status status;
    while (samples_->size() < n && !cancelled_) {
      const absl::Time slice = std::min(deadline_, absl::Now() + kWaitSlice);
      status =
          table_->SampleEncoded(n - samples_->size(), slice, samples_.get());
      if (absl::IsDeadlineExceeded(status) && slice < deadline_) continue;
      if (!status.ok() || absl::Now() >= deadline_) break;
    }
    if (samples_->size() == 0) {
      if (status.ok()) status = absl::CancelledError("stream cancelled");
      if (absl::IsCancelled(status) && !cancelled_) {
        status = absl::UnavailableError("replay shard is shutting down");
      }
      if (absl::IsDeadlineExceeded(status)) {
        status = absl::DeadlineExceededError(
            absl::StrCat("sample of ", n, " from table ", table_->name(),
                         " blocked until the deadline: ", status.message()));
      }
      Finish(ToGrpcStatus(status));
      return;
    }
    Respond();
  }

  void Respond() {
    if (metrics_) metrics_->sampled().Increment(samples_->size());
    Split(std::move(samples_));
    WriteNext();
  }

  // Queues the responses carrying `samples`, each at most
  // max_response_bytes (a single larger item goes alone). The responses
  // share the encoded bytes (slices of one buffer), copying none.
  void Split(std::unique_ptr<EncodedSamples> samples) {
    const int64_t cap = request_.max_response_bytes() > 0
                            ? request_.max_response_bytes()
                            : options_.max_response_bytes;
    const std::string head = SampleEncoder::ResponseHead(request_.request_id());
    const std::string tail = SampleEncoder::ResponseTail(true);
    const int64_t framing = static_cast<int64_t>(head.size() + tail.size());
    pending_.clear();
    const size_t total = samples->bytes.size();
    EncodedSamples* owned = samples.release();
    grpc::Slice all(owned->bytes.data(), total, &DeleteEncodedSamples, owned);
    size_t start = 0;
    size_t item = 0;
    const size_t items = owned->ends.size();
    while (item < items) {
      // Take items while the response stays within the cap (at least one).
      size_t stop = item + 1;
      while (stop < items &&
             static_cast<int64_t>(owned->ends[stop] - start) + framing <= cap) {
        ++stop;
      }
      const size_t finish = owned->ends[stop - 1];
      const bool last = stop == items;
      std::vector<grpc::Slice> slices;
      if (!head.empty()) slices.emplace_back(head);
      slices.push_back(all.sub(start, finish));
      if (last) slices.emplace_back(tail);
      pending_.emplace_back(slices.data(), slices.size());
      start = finish;
      item = stop;
    }
  }

  void WriteNext() {
    if (!pending_.empty()) {
      writing_ = std::move(pending_.front());
      pending_.pop_front();
      StartWrite(&writing_);
      return;
    }
    StartRead(&request_bytes_);
  }

  ReplayServer* const server_;
  ThreadPool* const pool_;
  const ReplayServiceOptions& options_;
  ReplayMetrics* const metrics_;
  const absl::Time stream_deadline_;
  std::atomic<bool> cancelled_{false};
  grpc::ByteBuffer request_bytes_;
  v1::SampleRequest request_;
  // The request being served: its table, deadline and items so far.
  Table* table_ = nullptr;
  absl::Time deadline_;
  std::unique_ptr<EncodedSamples> samples_;
  // Responses still to write, and the one being written.
  std::deque<grpc::ByteBuffer> pending_;
  grpc::ByteBuffer writing_;
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

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
ReplayServiceImpl::InsertStream(grpc::CallbackServerContext* /*context*/) {
  return new InsertReactor(server_, insert_pool_.get(), metrics_);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
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
