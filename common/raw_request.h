// Requests taken as raw bytes, so that one that does not parse gets a clear
// answer. gRPC 1.51's generated handlers answer a request that fails to
// parse with UNIMPLEMENTED and no message (a proto3 string that is not
// UTF-8, a truncated message); services that take bytes (the
// WithRawCallbackMethod_* variants) parse with ParseRequest instead and
// answer INVALID_ARGUMENT naming the field: "table: not valid UTF-8: ...".
//
//   grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
//                                  const grpc::ByteBuffer* request,
//                                  grpc::ByteBuffer* response) override {
//     return ServeRawUnary<v1::InfoRequest, v1::InfoResponse>(
//         context, request, response,
//         [&](const v1::InfoRequest& r, v1::InfoResponse* out) { ... });
//   }
//
// Stateless and thread-safe.
#ifndef SHOAL_COMMON_RAW_REQUEST_H_
#define SHOAL_COMMON_RAW_REQUEST_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"

#include "common/grpc_status.h"

namespace shoal {

// Why `bytes` do not parse as a `type` message: "items[2].table: not valid
// UTF-8: '\377ab'" for the first string field (at any depth) that is not
// UTF-8, else "the message does not parse (truncated or not a <type>?)".
std::string DescribeUnparsable(absl::string_view bytes,
                               const google::protobuf::Descriptor& type);

// Parses `bytes` (consumed) into `out`; INVALID_ARGUMENT "malformed
// <Type>: <DescribeUnparsable>" when they do not parse.
absl::Status ParseRequest(grpc::ByteBuffer* bytes,
                          google::protobuf::Message* out);

// Serialises `message` into `out`.
absl::Status SerializeResponse(const google::protobuf::Message& message,
                               grpc::ByteBuffer* out);

// A unary call on raw bytes, answered on the calling thread: parses the
// request, runs `handler(const Request&, Response*) -> absl::Status`,
// serialises the response when it is OK, finishes the default reactor.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* ServeRawUnary(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request_bytes,
                                        grpc::ByteBuffer* response_bytes,
                                        Handler&& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::ByteBuffer bytes = *request_bytes;  // shares the slices, no copy
  Request request;
  absl::Status status = ParseRequest(&bytes, &request);
  Response response;
  if (status.ok()) status = std::forward<Handler>(handler)(request, &response);
  if (status.ok()) status = SerializeResponse(response, response_bytes);
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace shoal

#endif  // SHOAL_COMMON_RAW_REQUEST_H_
