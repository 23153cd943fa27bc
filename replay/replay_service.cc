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
#include "common/quote.h"
#include "common/raw_request.h"
#include "common/status_macros.h"
#include "replay/insert_wait_queue.h"
#include "replay/sample_encoder.h"

namespace shoal {
namespace {

// A sample's blocking waits are cut into slices so its reactor notices its
// stream being cancelled within this long.
constexpr absl::Duration kWaitSlice = absl::Seconds(1);

// Insert batches of at most this many payload bytes are stored on the
// callback thread when the rate limiter admits them; larger ones, whose copy
// dwarfs the hop, go to the insert pool and leave gRPC's threads free. The
// same bound holds for the part of a sample response encoded there.
constexpr int64_t kMaxInlineInsertBytes = 128 << 10;
constexpr int64_t kMaxInlineSampleBytes = 128 << 10;

std::string TableNames(const ReplayServer& server) {
  std::vector<std::string> names;
  for (const auto& table : server.tables()) names.push_back(table->name());
  return absl::StrJoin(names, ", ");
}

absl::Status UnknownTable(const ReplayServer& server, absl::string_view field,
                          absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": no table named ", Quote(name),
                   " (tables: ", TableNames(server), ")"));
}

absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point d = context.deadline();
  if (d == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(d);
}

// One InsertStream: read a batch and insert it, write the acknowledgement,
// read the next. A small batch is inserted on the callback thread, a large
// one on the insert pool. When a table's rate limiter holds an item back,
// the reactor parks in that table (an InsertWaiter) and its thread goes on
// to other work: a held-back writer costs no thread, however many there
// are. The table wakes it (OnInsertReady) when a sample makes room, or at
// shutdown, and the rest of the batch is inserted on the insert pool. Raw
// bytes both ways: the request is parsed here (a malformed one ends the
// stream with INVALID_ARGUMENT), the acknowledgement serialised here.
//
// One reaction or pool task works on the batch at a time. mu_ orders the
// thread that parks (it holds mu_ until it has recorded how far it got)
// before the one that is woken, and a cancellation that comes while the
// reactor is parked; lock order: mu_, then the table's.
class InsertReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
      public InsertWaiter {
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
    if (absl::Status parsed = ParseRequest(&request_bytes_, &request_);
        !parsed.ok()) {
      Finish(ToGrpcStatus(parsed));
      return;
    }
    received_ = absl::Now();
    Start();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    StartRead(&request_bytes_);
  }

  // A parked reactor has no thread to notice: it is taken out of its table
  // and finished here, unless the table woke it first (then the woken task
  // sees cancelled_ and finishes).
  void OnCancel() override {
    Table* parked;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      parked = parked_on_;
    }
    if (parked != nullptr && parked->LeaveInsertQueue(this)) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "stream cancelled while blocked"));
    }
  }

  void OnDone() override { delete this; }

  // The table this reactor is parked in made room, or was cancelled.
  void OnInsertReady() override {
    pool_->Schedule([this] { InsertFrom(); });
  }

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
    // Numbers reaching back past a writer's stored run: refused before any
    // table stores anything.
    for (int i = 0, end; i < request_.items_size(); i = end) {
      end = i + 1;
      while (end < request_.items_size() && tables_[end] == tables_[i]) ++end;
      SHOAL_RETURN_IF_ERROR(tables_[i]->CheckSequences(
          request_.writer_id(), request_.first_sequence() + i, end - i));
    }
    return absl::OkStatus();
  }

  // Validates the batch and inserts it: a small one here, on the callback
  // thread, a large one on the pool.
  void Start() {
    response_.Clear();
    next_ = 0;
    if (absl::Status valid = Validate(); !valid.ok()) {
      Reject(valid);
      return;
    }
    if (batch_bytes_ <= kMaxInlineInsertBytes) {
      InsertFrom();
      return;
    }
    pool_->Schedule([this] { InsertFrom(); });
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
  // InsertBatchOrPark; parks in the table whose rate limiter holds an item
  // back (OnInsertReady calls this again), else acknowledges the batch or
  // ends the stream.
  void InsertFrom() {
    const int n = request_.items_size();
    const uint64_t first = request_.first_sequence();
    while (next_ < n) {
      int end = next_ + 1;
      while (end < n && tables_[end] == tables_[next_]) ++end;
      Table* table = tables_[next_];
      absl::Status status;
      bool cancelled;
      {
        absl::MutexLock lock(&mu_);
        parked_on_ = nullptr;
        cancelled = cancelled_;
        if (!cancelled) {
          InsertBatchResult result;
          status = table->InsertBatchOrPark(
              absl::MakeConstSpan(request_.items().data() + next_, end - next_),
              request_.writer_id(), first + next_, this, &result);
          if (metrics_) {
            metrics_->inserted().Increment(result.stored);
            metrics_->duplicates().Increment(result.processed - result.stored);
          }
          next_ += result.processed;
          if (result.parked) {
            // From here the table may wake this reactor on another thread,
            // which goes on once mu_ is released: touch nothing more.
            parked_on_ = table;
            return;
          }
        }
      }
      if (cancelled) {
        // Woken by the table and cancelled since: hand on the room.
        table->LeaveInsertQueue(this);
        Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                            "stream cancelled while blocked"));
        return;
      }
      if (!status.ok()) {  // CANCELLED: the shard is shutting down
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "replay shard is shutting down"));
        return;
      }
    }
    response_.set_acked_sequence(first + n - 1);
    WriteResponse();
  }

  // Serialises response_ and starts writing it.
  void WriteResponse() {
    if (metrics_) metrics_->ObserveInsert(absl::Now() - received_);
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
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The table this reactor is parked in; null from when the task it is
  // woken for runs.
  Table* parked_on_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The batch being handled (one reaction or pool task at a time).
  grpc::ByteBuffer request_bytes_;
  v1::InsertRequest request_;
  v1::InsertResponse response_;
  grpc::ByteBuffer response_bytes_;
  absl::Time received_;  // when request_ was read
  // Table of each item of request_, and the first item not yet inserted.
  std::vector<Table*> tables_;
  int next_ = 0;
  // Column bytes of request_.
  int64_t batch_bytes_ = 0;
};

// One response's sampled items, owned by the slice gRPC sends: frees them
// and gives their bytes back to the stream's and the shard's budgets when
// gRPC is done with the slice (after the reactor, possibly).
struct ResponseChunk {
  EncodedSamples samples;
  std::shared_ptr<ByteBudget> stream_budget;
  ByteBudget* shard_budget = nullptr;
  int64_t held = 0;  // bytes taken from both budgets
};

void DeleteResponseChunk(void* chunk) {
  auto* owned = static_cast<ResponseChunk*>(chunk);
  owned->stream_budget->Release(owned->held);
  owned->shard_budget->Release(owned->held);
  delete owned;
}

// "rate limiter: sample blocked for 999ms: <reason>" -> "<reason>".
absl::string_view BlockedReason(absl::string_view message) {
  const size_t blocked = message.find("blocked for ");
  if (blocked == absl::string_view::npos) return message;
  const size_t colon = message.find(": ", blocked);
  return colon == absl::string_view::npos ? message : message.substr(colon + 2);
}

// One SampleStream: read a request, then sample, encode and write it one
// response at a time, each at most the response cap, the next once the
// last is written; then read the next request. A response is sampled on
// the callback thread while it stays under kMaxInlineSampleBytes and
// nothing has to wait; otherwise on the sample pool. Each response's bytes
// are taken from the stream's budget and the shard's before it is
// encoded and given back when gRPC has sent them, so a reader that stops
// reading holds at most one stream budget. Raw bytes both ways: the
// request is parsed here, each response written as wire bytes the table
// encoded (SampleEncoder), never built as a message.
class SampleReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  SampleReactor(grpc::CallbackServerContext* context, ReplayServer* server,
                ThreadPool* pool, const ReplayServiceOptions& options,
                ByteBudget* shard_budget, ReplayMetrics* metrics)
      : server_(server),
        pool_(pool),
        options_(options),
        shard_budget_(shard_budget),
        metrics_(metrics),
        stream_deadline_(DeadlineOf(*context)),
        stream_budget_(
            std::make_shared<ByteBudget>(options.max_stream_sample_bytes)) {
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    if (absl::Status parsed = ParseRequest(&request_bytes_, &request_);
        !parsed.ok()) {
      Finish(ToGrpcStatus(parsed));
      return;
    }
    Start();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    // Drop this reactor's reference to the written response, so its bytes
    // go back to the budgets as soon as gRPC is done with them.
    writing_.Clear();
    if (remaining_ > 0) {
      NextResponse();
    } else {
      StartRead(&request_bytes_);
    }
  }

  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  // Checks the request and starts its first response.
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
    started_ = absl::Now();
    deadline_ =
        request_.timeout_ms() > 0
            ? std::min(stream_deadline_,
                       started_ + absl::Milliseconds(std::min<int64_t>(
                                      request_.timeout_ms(), int64_t{1} << 40)))
            : stream_deadline_;
    remaining_ = n;
    sent_ = 0;
    head_ = SampleEncoder::ResponseHead(request_.request_id());
    const int64_t framing = static_cast<int64_t>(
        head_.size() + SampleEncoder::ResponseTail(true).size());
    response_cap_ = std::min(request_.max_response_bytes() > 0
                                 ? request_.max_response_bytes()
                                 : options_.max_response_bytes,
                             options_.max_stream_sample_bytes);
    items_cap_ = std::max<int64_t>(1, response_cap_ - framing);
    NextResponse();
  }

  // Takes response_cap_ bytes from the stream's budget, then the shard's,
  // waiting until `deadline`; false (nothing taken) if they do not fit.
  bool Reserve(absl::Time deadline) {
    if (!stream_budget_->Acquire(response_cap_, deadline)) return false;
    if (shard_budget_->Acquire(response_cap_, deadline)) return true;
    stream_budget_->Release(response_cap_);
    return false;
  }

  // Samples the next response on the callback thread when it can be had
  // small and without waiting; hands it to the pool otherwise.
  void NextResponse() {
    chunk_ = std::make_unique<ResponseChunk>();
    chunk_->stream_budget = stream_budget_;
    chunk_->shard_budget = shard_budget_;
    reserved_ = Reserve(absl::InfinitePast());
    if (reserved_) {
      const int64_t inline_cap = std::min(items_cap_, kMaxInlineSampleBytes);
      bool full = false;
      (void)table_->SampleEncoded(remaining_, absl::InfinitePast(),
                                  &chunk_->samples, inline_cap, &full);
      if (chunk_->samples.size() == remaining_ ||
          (full && inline_cap == items_cap_)) {
        Respond(/*last=*/chunk_->samples.size() == remaining_);
        return;
      }
    }
    pool_->Schedule([this] { Process(); });
  }

  // On the pool: waits in slices (so a cancelled stream is noticed) for
  // room in the budgets, then for the rate limiter, until the response is
  // full, the request complete or the deadline passed; then responds.
  void Process() {
    absl::Status status;
    while (!reserved_ && !cancelled_) {
      const absl::Time slice = std::min(deadline_, absl::Now() + kWaitSlice);
      reserved_ = Reserve(slice);
      if (!reserved_ && absl::Now() >= deadline_) {
        status = absl::DeadlineExceededError(absl::StrCat(
            "sampled items waiting for this stream's reader (",
            stream_budget_->held(), " bytes, at most ", stream_budget_->limit(),
            ") or all readers (", shard_budget_->held(), " bytes, at most ",
            shard_budget_->limit(), ") left no room until the deadline"));
        break;
      }
    }
    bool full = false;
    while (reserved_ && !full && chunk_->samples.size() < remaining_ &&
           !cancelled_) {
      const absl::Time slice = std::min(deadline_, absl::Now() + kWaitSlice);
      status = table_->SampleEncoded(remaining_ - chunk_->samples.size(), slice,
                                     &chunk_->samples, items_cap_, &full);
      if (absl::IsDeadlineExceeded(status) && slice < deadline_) continue;
      if (!status.ok() || absl::Now() >= deadline_) break;
    }
    const bool complete = chunk_->samples.size() == remaining_;
    if (complete || full) {
      Respond(/*last=*/complete);
      return;
    }
    // Cut short: the request ends with what it has, or with an error when
    // it has sent nothing.
    if (sent_ > 0 || chunk_->samples.size() > 0) {
      Respond(/*last=*/true);
      return;
    }
    if (status.ok()) status = absl::CancelledError("stream cancelled");
    if (absl::IsCancelled(status) && !cancelled_) {
      status = absl::UnavailableError("replay shard is shutting down");
    }
    if (absl::IsDeadlineExceeded(status)) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "sample of ", request_.num_samples(), " from table ", table_->name(),
          " blocked for ",
          absl::FormatDuration(
              absl::Trunc(absl::Now() - started_, absl::Milliseconds(1))),
          " until the deadline: ", BlockedReason(status.message())));
    }
    ReleaseReservation();
    Finish(ToGrpcStatus(status));
  }

  void ReleaseReservation() {
    if (!reserved_) return;
    stream_budget_->Release(response_cap_);
    shard_budget_->Release(response_cap_);
    reserved_ = false;
  }

  // Writes chunk_ as one response; `last` ends the request.
  void Respond(bool last) {
    const int taken = chunk_->samples.size();
    if (metrics_) {
      metrics_->sampled().Increment(taken);
      if (last) metrics_->ObserveSample(absl::Now() - started_);
    }
    sent_ += taken;
    remaining_ = last ? 0 : remaining_ - taken;
    const std::string tail = SampleEncoder::ResponseTail(last);
    std::vector<grpc::Slice> slices;
    if (!head_.empty()) slices.emplace_back(head_);
    if (taken == 0) {
      ReleaseReservation();
      chunk_.reset();
    } else {
      // Settle the reservation to what the response holds.
      const auto bytes = static_cast<int64_t>(chunk_->samples.bytes.size());
      if (!reserved_) {
        stream_budget_->Take(bytes);
        shard_budget_->Take(bytes);
      } else if (bytes > response_cap_) {
        stream_budget_->Take(bytes - response_cap_);
        shard_budget_->Take(bytes - response_cap_);
      } else {
        stream_budget_->Release(response_cap_ - bytes);
        shard_budget_->Release(response_cap_ - bytes);
      }
      reserved_ = false;
      chunk_->held = bytes;
      ResponseChunk* owned = chunk_.release();
      slices.emplace_back(owned->samples.bytes.data(),
                          owned->samples.bytes.size(), &DeleteResponseChunk,
                          owned);
    }
    if (!tail.empty()) slices.emplace_back(tail);
    writing_ = grpc::ByteBuffer(slices.data(), slices.size());
    StartWrite(&writing_);
  }

  ReplayServer* const server_;
  ThreadPool* const pool_;
  const ReplayServiceOptions& options_;
  ByteBudget* const shard_budget_;
  ReplayMetrics* const metrics_;
  const absl::Time stream_deadline_;
  // Shared with the responses in flight, which may outlive the reactor.
  const std::shared_ptr<ByteBudget> stream_budget_;
  std::atomic<bool> cancelled_{false};
  grpc::ByteBuffer request_bytes_;
  v1::SampleRequest request_;
  // The request being served (one reaction or pool task at a time): its
  // table, times, items still to send and sent, and response sizes.
  Table* table_ = nullptr;
  absl::Time started_;
  absl::Time deadline_;
  int remaining_ = 0;
  int sent_ = 0;
  std::string head_;
  int64_t response_cap_ = 0;
  int64_t items_cap_ = 0;
  // The response being filled, and whether response_cap_ is reserved for it.
  std::unique_ptr<ResponseChunk> chunk_;
  bool reserved_ = false;
  grpc::ByteBuffer writing_;
};

}  // namespace

ReplayServiceImpl::ReplayServiceImpl(ReplayServer* server,
                                     ReplayServiceOptions options,
                                     ReplayMetrics* metrics)
    : server_(server),
      options_(options),
      metrics_(metrics),
      shard_sample_bytes_(options.max_shard_sample_bytes),
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
                           &shard_sample_bytes_, metrics_);
}

grpc::ServerUnaryReactor* ReplayServiceImpl::UpdatePriorities(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::UpdatePrioritiesRequest,
                       v1::UpdatePrioritiesResponse>(
      context, request, response,
      [this](const v1::UpdatePrioritiesRequest& r,
             v1::UpdatePrioritiesResponse* out) -> absl::Status {
        Table* table = server_->FindTable(r.table());
        if (table == nullptr) return UnknownTable(*server_, "table", r.table());
        SHOAL_ASSIGN_OR_RETURN(
            PriorityUpdateResult result,
            table->UpdatePriorities(r.keys(), r.priorities()));
        if (metrics_) metrics_->priority_updates().Increment(result.updated);
        out->set_updated(result.updated);
        out->mutable_missing_keys()->Add(result.missing_keys.begin(),
                                         result.missing_keys.end());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReplayServiceImpl::Info(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::InfoRequest, v1::InfoResponse>(
      context, request, response,
      [this](const v1::InfoRequest& r, v1::InfoResponse* out) -> absl::Status {
        SHOAL_ASSIGN_OR_RETURN(*out, server_->Info(r.table()));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReplayServiceImpl::Checkpoint(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::ByteBuffer bytes = *request;
  v1::CheckpointRequest parsed;
  if (absl::Status status = ParseRequest(&bytes, &parsed); !status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  // Writing takes a while: off the callback thread.
  admin_pool_->Schedule([this, reactor, response] {
    absl::StatusOr<v1::CheckpointResponse> done = server_->Checkpoint();
    absl::Status status = done.status();
    if (status.ok()) status = SerializeResponse(*done, response);
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ReplayServiceImpl::Reset(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ResetRequest, v1::ResetResponse>(
      context, request, response,
      [this](const v1::ResetRequest& r, v1::ResetResponse*) {
        return server_->Reset(r.table());
      });
}

}  // namespace shoal
