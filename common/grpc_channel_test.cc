#include "common/grpc_channel.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/auth.h"
#include "common/grpc_server.h"
#include "common/grpc_status.h"
#include "common/testing/test_util.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

// Records the "authorization" metadata of each Info call.
class RecordingReplayService final : public v1::ReplayService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* /*request*/,
                                 v1::InfoResponse* /*response*/) override {
    std::string authorization = "<none>";
    if (auto it = context->client_metadata().find("authorization");
        it != context->client_metadata().end()) {
      authorization.assign(it->second.data(), it->second.size());
    }
    {
      absl::MutexLock lock(&mu_);
      last_authorization_ = authorization;
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  std::string last_authorization() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return last_authorization_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string last_authorization_ ABSL_GUARDED_BY(mu_);
};

absl::Status CallInfo(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::InfoResponse response;
  return FromGrpcStatus(v1::ReplayService::NewStub(channel)->Info(
      &context, v1::InfoRequest(), &response));
}

TEST(MakeChannelTest, SendsTheBearerTokenFromTheTokenFile) {
  RecordingReplayService service;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(ServerOptions(), {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_channel_test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(WriteTestFile(*dir + "/token", "abc123\n").ok());

  ChannelOptions options;
  options.target = (*server)->address();
  options.token_file = *dir + "/token";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_TRUE(CallInfo(*channel).ok());
  EXPECT_EQ(service.last_authorization(), "Bearer abc123");
}

TEST(MakeChannelTest, ServerWithTokensKeepsTheTokenFromHandlers) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_channel_test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(WriteTestFile(*dir + "/tokens", "actor abc123\n").ok());
  ASSERT_TRUE(WriteTestFile(*dir + "/token", "abc123\n").ok());
  RecordingReplayService service;
  ServerOptions server_options;
  server_options.tokens_file = *dir + "/tokens";
  server_options.method_roles = ShoalMethodRoles();
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(server_options, {&service});
  ASSERT_TRUE(server.ok()) << server.status();

  ChannelOptions options;
  options.target = (*server)->address();
  options.token_file = *dir + "/token";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_TRUE(CallInfo(*channel).ok());
  EXPECT_EQ(service.last_authorization(), "<none>");
}

TEST(MakeChannelTest, SendsNoTokenWithoutTokenFile) {
  RecordingReplayService service;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(ServerOptions(), {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  ChannelOptions options;
  options.target = absl::StrCat("dns:///", (*server)->address());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_TRUE(CallInfo(*channel).ok());
  EXPECT_EQ(service.last_authorization(), "<none>");
}

TEST(MakeChannelTest, MissingFilesAreErrorsNamingTheFile) {
  ChannelOptions options;
  options.target = "127.0.0.1:1";
  options.tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(MakeChannel(options).status().message(),
              HasSubstr("TLS ca_file '/nonexistent/ca.pem'"));
  options = ChannelOptions();
  options.target = "127.0.0.1:1";
  options.token_file = "/nonexistent/token";
  EXPECT_THAT(MakeChannel(options).status().message(),
              HasSubstr("token file '/nonexistent/token'"));
}

TEST(MakeChannelTest, FileThatIsNotPemIsAnError) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_channel_test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(WriteTestFile(*dir + "/ca.pem", "not a certificate").ok());
  ChannelOptions options;
  options.target = "127.0.0.1:1";
  options.tls.ca_file = *dir + "/ca.pem";
  EXPECT_EQ(MakeChannel(options).status(),
            absl::InvalidArgumentError(absl::StrCat(
                "TLS ca_file '", *dir, "/ca.pem' is not a PEM file")));
}

TEST(MakeChannelTest, BadOptionsAreErrors) {
  EXPECT_EQ(MakeChannel(ChannelOptions()).status(),
            absl::InvalidArgumentError("channel target is empty"));
  ChannelOptions options;
  options.target = "127.0.0.1:1";
  options.tls.cert_file = "client.pem";
  EXPECT_THAT(MakeChannel(options).status().message(),
              HasSubstr("both cert_file and key_file"));
  options = ChannelOptions();
  options.target = "127.0.0.1:1";
  options.max_receive_message_bytes = int64_t{1} << 40;
  EXPECT_THAT(MakeChannel(options).status().message(),
              HasSubstr("max_receive_message_bytes"));
}

}  // namespace
}  // namespace shoal
