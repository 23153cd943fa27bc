#include "common/grpc_status.h"

#include "gtest/gtest.h"

namespace shoal {
namespace {

TEST(GrpcStatusTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, ToGrpcStatusKeepsCodeAndMessage) {
  grpc::Status status =
      ToGrpcStatus(absl::InvalidArgumentError("tensor 'obs' has shape [3]"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "tensor 'obs' has shape [3]");
}

TEST(GrpcStatusTest, FromGrpcStatusKeepsCodeAndMessage) {
  absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "role reader"));
  EXPECT_EQ(status, absl::PermissionDeniedError("role reader"));
}

TEST(GrpcStatusTest, EveryCanonicalCodeSurvivesARoundTrip) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status original(static_cast<absl::StatusCode>(code), "message");
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(original)), original) << code;
  }
}

}  // namespace
}  // namespace shoal
