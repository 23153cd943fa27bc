#include "tools/client_rpc.h"

#include <algorithm>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "shoal/v1/learner.grpc.pb.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/grpc_channel.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

constexpr char kHealthCheckMethod[] = "/grpc.health.v1.Health/Check";

// The server-side sample wait ends this much before the call's deadline
// (at most), so the server's own message, naming the table, comes back
// rather than the bare "Deadline Exceeded" of the client's context.
constexpr absl::Duration kSampleDeadlineMargin = absl::Milliseconds(500);

// A context whose call ends at now + `timeout` and fails at once when the
// server is unreachable.
void PrepareContext(absl::Duration timeout, grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context->set_wait_for_ready(false);
}

// How long the server may wait for the rate limiter: the timeout less a
// margin (a tenth of it, at most kSampleDeadlineMargin), at least 1 ms.
int64_t SampleWaitMs(absl::Duration timeout) {
  const absl::Duration margin = std::min(timeout / 10, kSampleDeadlineMargin);
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout - margin));
}

// The HealthCheckResponse status enum value's name (grpc/health/v1).
absl::StatusOr<std::string> HealthStatusName(uint64_t status) {
  switch (status) {
    case 0:
      return std::string("UNKNOWN");
    case 1:
      return std::string("SERVING");
    case 2:
      return std::string("NOT_SERVING");
    case 3:
      return std::string("SERVICE_UNKNOWN");
  }
  return absl::DataLossError(
      absl::StrCat("health check answered unknown status ", status));
}

// Parses HealthCheckResponse { ServingStatus status = 1; } without its
// .proto (not installed with gRPC): field 1 as a varint; absent = UNKNOWN.
absl::StatusOr<std::string> ParseHealthCheckResponse(
    const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  SHOAL_RETURN_IF_ERROR(FromGrpcStatus(buffer.Dump(&slices)));
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) {
    return absl::DataLossError("health check answer is not a protobuf message");
  }
  uint64_t status = 0;
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& field = fields.field(i);
    if (field.number() == 1 &&
        field.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      status = field.varint();
    }
  }
  return HealthStatusName(status);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectForCommand(
    const ClientFlags& flags, const std::string& target) {
  ChannelOptions options;
  options.target = target;
  options.tls.ca_file = flags.tls_ca;
  options.tls.cert_file = flags.tls_cert;
  options.tls.key_file = flags.tls_key;
  options.token_file = flags.token_file;
  options.max_receive_message_bytes = kCommandMaxReceiveBytes;
  return MakeChannel(options);
}

absl::StatusOr<v1::InfoResponse> CallInfo(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& table,
    absl::Duration timeout) {
  std::unique_ptr<v1::ReplayService::Stub> stub =
      v1::ReplayService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(timeout, &context);
  v1::InfoRequest request;
  request.set_table(table);
  v1::InfoResponse response;
  SHOAL_RETURN_IF_ERROR(
      FromGrpcStatus(stub->Info(&context, request, &response)));
  return response;
}

absl::StatusOr<std::vector<v1::SampledItem>> CallSample(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& table,
    int n, absl::Duration timeout) {
  if (n < 1) {
    return absl::InvalidArgumentError(absl::StrCat("n must be >= 1, got ", n));
  }
  std::unique_ptr<v1::ReplayService::Stub> stub =
      v1::ReplayService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(timeout, &context);
  auto stream = stub->SampleStream(&context);
  v1::SampleRequest request;
  request.set_table(table);
  request.set_num_samples(n);
  request.set_timeout_ms(SampleWaitMs(timeout));
  request.set_request_id(1);
  std::vector<v1::SampledItem> items;
  // A failed write or read shows up in Finish()'s status.
  if (stream->Write(request) && stream->WritesDone()) {
    v1::SampleResponse response;
    while (stream->Read(&response)) {
      for (v1::SampledItem& item : *response.mutable_items()) {
        items.push_back(std::move(item));
      }
      if (response.end_of_request()) break;
    }
  }
  // Drains the stream (the server ends it once it has read WritesDone).
  v1::SampleResponse extra;
  while (stream->Read(&extra)) {
  }
  SHOAL_RETURN_IF_ERROR(FromGrpcStatus(stream->Finish()));
  return items;
}

absl::StatusOr<v1::CheckpointResponse> CallCheckpoint(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  std::unique_ptr<v1::ReplayService::Stub> stub =
      v1::ReplayService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(timeout, &context);
  v1::CheckpointResponse response;
  SHOAL_RETURN_IF_ERROR(FromGrpcStatus(
      stub->Checkpoint(&context, v1::CheckpointRequest(), &response)));
  return response;
}

absl::StatusOr<AssembledParameters> AssembleParameters(
    const std::vector<v1::ParametersChunk>& chunks) {
  if (chunks.empty()) {
    return absl::DataLossError("parameters stream ended without a chunk");
  }
  const v1::ParametersChunk& first = chunks.front();
  if (first.num_chunks() != static_cast<int>(chunks.size())) {
    return absl::DataLossError(
        absl::StrCat("version ", first.version(), " has ", first.num_chunks(),
                     " chunks, received ", chunks.size()));
  }
  AssembledParameters assembled;
  assembled.version = first.version();
  assembled.learner_step = first.learner_step();
  assembled.total_bytes = first.total_bytes();
  assembled.published_unix_ms = first.published_unix_ms();
  assembled.num_chunks = first.num_chunks();
  std::string bytes;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const v1::ParametersChunk& chunk = chunks[i];
    if (chunk.version() != first.version() ||
        chunk.chunk_index() != static_cast<int>(i)) {
      return absl::DataLossError(
          absl::StrCat("chunk ", i, " is chunk ", chunk.chunk_index(),
                       " of version ", chunk.version(), ", expected chunk ", i,
                       " of version ", first.version()));
    }
    bytes.append(chunk.data());
  }
  if (static_cast<int64_t>(bytes.size()) != first.total_bytes()) {
    return absl::DataLossError(
        absl::StrCat("version ", first.version(), " chunks hold ", bytes.size(),
                     " bytes, total_bytes says ", first.total_bytes()));
  }
  if (!assembled.parameters.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(
        "version ", first.version(), " is not a valid Parameters message"));
  }
  return assembled;
}

absl::StatusOr<AssembledParameters> CallGetParameters(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  std::unique_ptr<v1::LearnerService::Stub> stub =
      v1::LearnerService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(timeout, &context);
  auto stream = stub->GetParameters(&context, v1::GetParametersRequest());
  std::vector<v1::ParametersChunk> chunks;
  v1::ParametersChunk chunk;
  while (stream->Read(&chunk)) chunks.push_back(std::move(chunk));
  SHOAL_RETURN_IF_ERROR(FromGrpcStatus(stream->Finish()));
  return AssembleParameters(chunks);
}

absl::StatusOr<std::string> CallHealthCheck(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  PrepareContext(timeout, &context);
  // HealthCheckRequest { string service = 1; } with service "": no bytes
  // (one empty slice; a ByteBuffer without any cannot be sent).
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, kHealthCheckMethod, grpc::StubOptions(), &request,
                 &response,
                 [&done](grpc::Status status) { done.set_value(status); });
  SHOAL_RETURN_IF_ERROR(FromGrpcStatus(done.get_future().get()));
  return ParseHealthCheckResponse(response);
}

}  // namespace shoal
