// ReplayServiceImpl: the gRPC face of one replay shard (callback API).
//
// Each InsertStream and SampleStream gets a self-deleting reactor with at
// most one read or write in flight. Work that waits on a rate limiter runs
// on bounded worker pools (one for inserts, one for samples, so that
// inserts blocked until samples happen never starve those samples, and the
// other way round), never on gRPC's callback threads; what a limiter admits
// at once (a small insert batch, a sample request) is done on the callback
// thread, saving the hop. A blocked insert stops reading its stream, which
// is gRPC flow control, not an error. Samples go out as wire bytes the
// table encodes (SampleEncoder), not as messages.
//
// Bad input never reaches a table: an insert batch with any bad item is
// rejected whole with an InsertError naming the field (the stream goes on);
// a bad sample request ends its stream with INVALID_ARGUMENT. Other streams
// are unaffected.
//
// Thread-safe. Does not own `server`; it must outlive this service and
// every call in flight.
#ifndef SHOAL_REPLAY_REPLAY_SERVICE_H_
#define SHOAL_REPLAY_REPLAY_SERVICE_H_

#include <cstdint>
#include <memory>

#include "shoal/v1/replay.grpc.pb.h"

#include "common/thread_pool.h"
#include "replay/replay_metrics.h"
#include "replay/replay_server.h"

namespace shoal {

struct ReplayServiceOptions {
  // Worker threads for inserts and for samples.
  int insert_threads = 8;
  int sample_threads = 8;
  // Cap on one SampleResponse when the request names none; a single larger
  // item still goes in a response of its own.
  int64_t max_response_bytes = 2 << 20;
  // Largest num_samples one request may ask for.
  int32_t max_samples_per_request = 1 << 16;
};

// v1::ReplayService::CallbackService with the streams on raw bytes:
// SampleStream's responses go out as wire bytes encoded by the table, and
// both streams parse their requests themselves, so a request that does not
// parse ends the stream with INVALID_ARGUMENT (gRPC's typed reader would
// end it as if the client had closed it). Clients still see ordinary
// messages.
using ReplayCallbackService =
    v1::ReplayService::WithRawCallbackMethod_InsertStream<
        v1::ReplayService::WithRawCallbackMethod_SampleStream<
            v1::ReplayService::WithCallbackMethod_UpdatePriorities<
                v1::ReplayService::WithCallbackMethod_Info<
                    v1::ReplayService::WithCallbackMethod_Checkpoint<
                        v1::ReplayService::WithCallbackMethod_Reset<
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
      grpc::CallbackServerContext* context,
      const v1::UpdatePrioritiesRequest* request,
      v1::UpdatePrioritiesResponse* response) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request,
                                 v1::InfoResponse* response) override;
  grpc::ServerUnaryReactor* Checkpoint(
      grpc::CallbackServerContext* context,
      const v1::CheckpointRequest* request,
      v1::CheckpointResponse* response) override;
  grpc::ServerUnaryReactor* Reset(grpc::CallbackServerContext* context,
                                  const v1::ResetRequest* request,
                                  v1::ResetResponse* response) override;

 private:
  ReplayServer* const server_;
  const ReplayServiceOptions options_;
  ReplayMetrics* const metrics_;
  // Declared last: destroyed (drained and joined) first.
  std::unique_ptr<ThreadPool> insert_pool_;
  std::unique_ptr<ThreadPool> sample_pool_;
  std::unique_ptr<ThreadPool> admin_pool_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_REPLAY_SERVICE_H_
