// ReplayServiceImpl: the gRPC face of one replay shard (callback API).
//
// Each InsertStream and SampleStream gets a self-deleting reactor with at
// most one read or write in flight. What a limiter admits at once (a small
// insert batch, a sample request) is done on gRPC's callback thread, saving
// the hop; larger work runs on bounded worker pools (one for inserts, one
// for samples, so neither starves the other). An insert its table's rate
// limiter holds back holds no thread: its reactor parks in the table
// (Table::InsertBatchOrPark) and the sample that makes room for it wakes
// it onto the insert pool, so a shard holds back any number of writers
// (one parked reactor per open stream) and goes on serving everyone else.
// A held-back insert stops reading its stream, which is gRPC flow control,
// not an error. A sample that waits still waits on a sample pool thread.
//
// Samples go out as wire bytes the table encodes (SampleEncoder), not as
// messages, one response at a time: a request is sampled and encoded in
// chunks of at most one response, the next once the last is written, so a
// reader that stops reading pins at most max_stream_sample_bytes (and all
// of them together at most max_shard_sample_bytes; a stream waits for
// room).
//
// Bad input never reaches a table: an insert batch with any bad item is
// rejected whole with an InsertError naming the field (the stream goes on);
// a bad sample request ends its stream with INVALID_ARGUMENT. Every method
// takes its request as bytes and parses it itself (ParseRequest), so one
// that does not parse is INVALID_ARGUMENT naming what is wrong, e.g. a
// table name that is not UTF-8. Other streams are unaffected.
//
// Thread-safe. Does not own `server`; it must outlive this service and
// every call in flight.
#ifndef SHOAL_REPLAY_REPLAY_SERVICE_H_
#define SHOAL_REPLAY_REPLAY_SERVICE_H_

#include <cstdint>
#include <memory>

#include "shoal/v1/replay.grpc.pb.h"

#include "common/config_limits.h"
#include "common/thread_pool.h"
#include "replay/byte_budget.h"
#include "replay/replay_metrics.h"
#include "replay/replay_server.h"

namespace shoal {

struct ReplayServiceOptions {
  // Worker threads for inserts (large batches, and those woken after being
  // held back) and for samples (large responses, and those waiting on the
  // rate limiter or for room in the sampled-bytes budgets).
  int insert_threads = 8;
  int sample_threads = 8;
  // Cap on one SampleResponse when the request names none; a single larger
  // item still goes in a response of its own.
  int64_t max_response_bytes = 2 << 20;
  // Sampled bytes one stream may hold waiting for its reader (a request's
  // max_response_bytes above it is cut to it), and all streams together.
  // A single item larger than either still goes, alone.
  int64_t max_stream_sample_bytes = 8 << 20;
  int64_t max_shard_sample_bytes = 256 << 20;
  // Largest num_samples one request may ask for.
  int32_t max_samples_per_request = kMaxSamplesPerRequest;
};

// v1::ReplayService::CallbackService with every method on raw bytes:
// SampleStream's responses go out as wire bytes encoded by the table, and
// every method parses its requests itself, so a request that does not
// parse is INVALID_ARGUMENT naming the field (gRPC's typed handlers answer
// UNIMPLEMENTED with no message, or end a stream as if the client had
// closed it). Clients still see ordinary messages.
using ReplayCallbackService =
    v1::ReplayService::WithRawCallbackMethod_InsertStream<
        v1::ReplayService::WithRawCallbackMethod_SampleStream<
            v1::ReplayService::WithRawCallbackMethod_UpdatePriorities<
                v1::ReplayService::WithRawCallbackMethod_Info<
                    v1::ReplayService::WithRawCallbackMethod_Checkpoint<
                        v1::ReplayService::WithRawCallbackMethod_Reset<
                            v1::ReplayService::Service>>>>>>;

class ReplayServiceImpl final : public ReplayCallbackService {
 public:
  // `metrics` may be null.
  ReplayServiceImpl(ReplayServer* server, ReplayServiceOptions options,
                    ReplayMetrics* metrics);
  ~ReplayServiceImpl() override;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* InsertStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SampleStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* UpdatePriorities(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Checkpoint(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Reset(grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;

  // Sampled bytes waiting for readers now, over every stream.
  int64_t sample_bytes_waiting() const { return shard_sample_bytes_.held(); }

 private:
  ReplayServer* const server_;
  const ReplayServiceOptions options_;
  ReplayMetrics* const metrics_;
  ByteBudget shard_sample_bytes_;
  // Declared last: destroyed (drained and joined) first.
  std::unique_ptr<ThreadPool> insert_pool_;
  std::unique_ptr<ThreadPool> sample_pool_;
  std::unique_ptr<ThreadPool> admin_pool_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_REPLAY_SERVICE_H_
