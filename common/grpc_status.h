// Conversions between absl::Status (used everywhere inside shoal) and
// grpc::Status (used only at the RPC edge). Both libraries share the
// canonical code numbering, so code and message survive a round trip.
//
//   reactor->Finish(ToGrpcStatus(table->Insert(item)));
//   absl::Status status = FromGrpcStatus(stub->Info(&ctx, req, &resp));
#ifndef SHOAL_COMMON_GRPC_STATUS_H_
#define SHOAL_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace shoal {

// Same code and message. Payloads of `status` are dropped.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Same code and message. grpc's binary error_details are dropped.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace shoal

#endif  // SHOAL_COMMON_GRPC_STATUS_H_
