#include "common/grpc_server.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/auth.h"
#include "common/grpc_channel.h"
#include "common/grpc_status.h"
#include "common/testing/test_util.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

// Answers Info and Reset with OK; enough to exercise auth and limits.
class TestReplayService final : public v1::ReplayService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* /*request*/,
                                 v1::InfoResponse* /*response*/) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* Reset(grpc::CallbackServerContext* context,
                                  const v1::ResetRequest* /*request*/,
                                  v1::ResetResponse* /*response*/) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

grpc::ClientContext* WithDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return context;
}

absl::Status CallInfo(const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& table = "") {
  grpc::ClientContext context;
  v1::InfoRequest request;
  request.set_table(table);
  v1::InfoResponse response;
  return FromGrpcStatus(v1::ReplayService::NewStub(channel)->Info(
      WithDeadline(&context), request, &response));
}

absl::Status CallReset(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  v1::ResetResponse response;
  return FromGrpcStatus(v1::ReplayService::NewStub(channel)->Reset(
      WithDeadline(&context), v1::ResetRequest(), &response));
}

std::shared_ptr<grpc::Channel> MakeTestChannel(ChannelOptions options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *channel : nullptr;
}

// "SERVING", "NOT_SERVING"..., or the error as text.
std::string HealthOf(const std::shared_ptr<grpc::Channel>& channel) {
  absl::StatusOr<std::string> health = CheckHealth(channel, /*service=*/"");
  return health.ok() ? *health : health.status().ToString();
}

std::shared_ptr<grpc::Channel> PlaintextChannel(const GrpcServer& server) {
  return grpc::CreateChannel(server.address(),
                             grpc::InsecureChannelCredentials());
}

// Waits for the next event of `cq` and expects it to be `tag`, successful.
bool Await(grpc::CompletionQueue& cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  return cq.Next(&got, &ok) && ok && got == tag;
}

// Lists services through grpc.reflection.v1alpha, whose descriptors
// libgrpc++_reflection registers in protobuf's generated pool.
absl::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel) {
  // ServerReflectionRequest { list_services = 7: "*" }.
  const std::string request("\x3a\x01*", 3);
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  grpc::GenericStub stub(channel);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      WithDeadline(&context),
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  int tag[5];
  call->StartCall(&tag[0]);
  bool ok = Await(cq, &tag[0]);
  call->Write(request_buffer, &tag[1]);
  ok = Await(cq, &tag[1]) && ok;
  call->Read(&response_buffer, &tag[2]);
  ok = Await(cq, &tag[2]) && ok;
  call->WritesDone(&tag[3]);
  ok = Await(cq, &tag[3]) && ok;
  grpc::Status status;
  call->Finish(&status, &tag[4]);
  ok = Await(cq, &tag[4]) && ok;
  cq.Shutdown();
  if (!status.ok()) return FromGrpcStatus(status);
  if (!ok) return absl::InternalError("reflection call failed");

  const google::protobuf::Descriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
          "grpc.reflection.v1alpha.ServerReflectionResponse");
  if (descriptor == nullptr) {
    return absl::NotFoundError("reflection descriptors not linked in");
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> response(
      factory.GetPrototype(descriptor)->New());
  std::vector<grpc::Slice> slices;
  response_buffer.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  if (!response->ParseFromString(bytes)) {
    return absl::DataLossError("cannot parse ServerReflectionResponse");
  }
  const google::protobuf::Reflection* reflection = response->GetReflection();
  const google::protobuf::Message& list = reflection->GetMessage(
      *response, descriptor->FindFieldByName("list_services_response"));
  const google::protobuf::FieldDescriptor* services =
      list.GetDescriptor()->FindFieldByName("service");
  std::vector<std::string> names;
  for (int i = 0; i < list.GetReflection()->FieldSize(list, services); ++i) {
    const google::protobuf::Message& service =
        list.GetReflection()->GetRepeatedMessage(list, services, i);
    names.push_back(service.GetReflection()->GetString(
        service, service.GetDescriptor()->FindFieldByName("name")));
  }
  return names;
}

// One set of certificates for the whole binary (openssl takes a while).
const TestCertificates& Certificates() {
  static const TestCertificates* const certificates = [] {
    absl::StatusOr<std::string> dir = MakeTempDir("shoal_grpc_server_test");
    EXPECT_TRUE(dir.ok()) << dir.status();
    absl::StatusOr<TestCertificates> made =
        MakeTestCertificates(dir.value_or("/nonexistent"));
    EXPECT_TRUE(made.ok()) << made.status();
    return new TestCertificates(made.value_or(TestCertificates()));
  }();
  return *certificates;
}

ServerOptions TlsServerOptions(bool mutual) {
  ServerOptions options;
  options.tls.cert_file = Certificates().server_cert;
  options.tls.key_file = Certificates().server_key;
  if (mutual) options.tls.ca_file = Certificates().ca_cert;
  return options;
}

ChannelOptions TlsChannelOptions(const GrpcServer& server) {
  ChannelOptions options;
  options.target = server.address();
  options.tls.ca_file = Certificates().ca_cert;
  return options;
}

// Writes a tokens file with one token per role, "<role>-token", and
// returns its path.
std::string WriteTokensFile() {
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_tokens");
  EXPECT_TRUE(dir.ok()) << dir.status();
  const std::string path = dir.value_or("/nonexistent") + "/tokens";
  EXPECT_TRUE(WriteTestFile(path,
                            "# test tokens\n"
                            "actor actor-token\n"
                            "reader reader-token\n"
                            "admin admin-token\n")
                  .ok());
  return path;
}

// A channel options' token_file holding `token`.
std::string WriteTokenFile(absl::string_view token) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_token");
  EXPECT_TRUE(dir.ok()) << dir.status();
  const std::string path = dir.value_or("/nonexistent") + "/token";
  EXPECT_TRUE(WriteTestFile(path, token).ok());
  return path;
}

ServerOptions WithTokens(ServerOptions options) {
  options.tokens_file = WriteTokensFile();
  options.method_roles = ShoalMethodRoles();
  return options;
}

ChannelOptions WithToken(ChannelOptions options, absl::string_view token) {
  options.token_file = WriteTokenFile(token);
  return options;
}

ChannelOptions PlaintextChannelOptions(const GrpcServer& server) {
  ChannelOptions options;
  options.target = server.address();
  return options;
}

std::unique_ptr<GrpcServer> StartOrDie(const ServerOptions& options,
                                       grpc::Service* service) {
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(options, {service});
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(GrpcServerTest, PortZeroPicksAFreePortAndHealthSaysServing) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(ServerOptions(), &service);
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(server->address(), absl::StrCat("127.0.0.1:", server->port()));
  EXPECT_FALSE(server->tls());
  EXPECT_EQ(HealthOf(PlaintextChannel(*server)), "SERVING");
}

TEST(GrpcServerTest, SetServingFalseMakesHealthSayNotServing) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(ServerOptions(), &service);
  ASSERT_NE(server, nullptr);
  server->SetServing(false);
  EXPECT_EQ(HealthOf(PlaintextChannel(*server)), "NOT_SERVING");
  EXPECT_EQ(CheckHealth(PlaintextChannel(*server), "shoal.v1.ReplayService")
                .value_or("error"),
            "NOT_SERVING");
}

// Health answers per service name as well as for "", as grpc_health_probe
// -service=... and Kubernetes gRPC probes with `service:` ask; a service
// the server does not run is unknown.
TEST(GrpcServerTest, HealthAnswersForEachShoalServiceByName) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(ServerOptions(), &service);
  ASSERT_NE(server, nullptr);
  const std::shared_ptr<grpc::Channel> channel = PlaintextChannel(*server);
  EXPECT_EQ(CheckHealth(channel, "shoal.v1.ReplayService").value_or("error"),
            "SERVING");
  // gRPC answers NOT_FOUND for a service it has no status of.
  EXPECT_EQ(CheckHealth(channel, "shoal.v1.LearnerService").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(GrpcServerTest, ReflectionListsRegisteredServicesAndHealth) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(ServerOptions(), &service);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<std::vector<std::string>> services =
      ListServicesByReflection(PlaintextChannel(*server));
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, IsSupersetOf({"shoal.v1.ReplayService",
                                       "grpc.health.v1.Health"}));
}

TEST(GrpcServerTest, ServesRegisteredServiceCalls) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(ServerOptions(), &service);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(CallInfo(PlaintextChannel(*server)).ok());
}

TEST(GrpcServerTest, RefusesMessagesLargerThanTheLimit) {
  TestReplayService service;
  ServerOptions options;
  options.max_receive_message_bytes = 1024;
  std::unique_ptr<GrpcServer> server = StartOrDie(options, &service);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(CallInfo(PlaintextChannel(*server), std::string(100, 'x')).ok());
  EXPECT_EQ(CallInfo(PlaintextChannel(*server), std::string(2000, 'x')).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(GrpcServerTest, ShutdownEndsWaitAndRefusesNewCalls) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(ServerOptions(), &service);
  ASSERT_NE(server, nullptr);
  std::shared_ptr<grpc::Channel> channel = PlaintextChannel(*server);
  ASSERT_TRUE(CallInfo(channel).ok());
  server->Shutdown(absl::Now() + absl::Seconds(1));
  server->Wait();
  server->Shutdown(absl::Now());  // A second call is harmless.
  EXPECT_EQ(CallInfo(channel).code(), absl::StatusCode::kUnavailable);
}

TEST(GrpcServerTest, AddressInUseIsAnErrorNamingTheAddress) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> first = StartOrDie(ServerOptions(), &service);
  ASSERT_NE(first, nullptr);
  TestReplayService other_service;
  ServerOptions options;
  options.address = first->address();
  absl::StatusOr<std::unique_ptr<GrpcServer>> second =
      GrpcServer::Start(options, {&other_service});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(first->address()));
}

TEST(GrpcServerTest, MissingCertFileIsAnErrorNamingTheFile) {
  TestReplayService service;
  ServerOptions options;
  options.tls.cert_file = "/nonexistent/server.pem";
  options.tls.key_file = "/nonexistent/server.key";
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(options, {&service});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(server.status().message(),
              HasSubstr("TLS cert_file '/nonexistent/server.pem'"));
}

TEST(GrpcServerTest, CaFileWithoutCertificateIsAnError) {
  TestReplayService service;
  ServerOptions options;
  options.tls.ca_file = "ca.pem";
  EXPECT_EQ(GrpcServer::Start(options, {&service}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GrpcServerTest, OutOfRangeLimitsAreErrors) {
  TestReplayService service;
  ServerOptions options;
  options.max_receive_message_bytes = 0;
  EXPECT_THAT(GrpcServer::Start(options, {&service}).status().message(),
              HasSubstr("max_receive_message_bytes"));
  options = ServerOptions();
  options.max_concurrent_streams = 0;
  EXPECT_THAT(GrpcServer::Start(options, {&service}).status().message(),
              HasSubstr("max_concurrent_streams"));
}

TEST(GrpcServerTest, TlsClientTrustingTheCaConnects) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server =
      StartOrDie(TlsServerOptions(/*mutual=*/false), &service);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->tls());
  EXPECT_EQ(HealthOf(MakeTestChannel(TlsChannelOptions(*server))), "SERVING");
  EXPECT_TRUE(CallInfo(MakeTestChannel(TlsChannelOptions(*server))).ok());
}

TEST(GrpcServerTest, TlsClientVerifiesTheNameOverride) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server =
      StartOrDie(TlsServerOptions(/*mutual=*/false), &service);
  ASSERT_NE(server, nullptr);
  ChannelOptions options = TlsChannelOptions(*server);
  options.tls.server_name_override = "localhost";
  EXPECT_TRUE(CallInfo(MakeTestChannel(options)).ok());
  options.tls.server_name_override = "replay.example.com";
  EXPECT_EQ(CallInfo(MakeTestChannel(options)).code(),
            absl::StatusCode::kUnavailable);
}

TEST(GrpcServerTest, PlaintextClientCannotTalkToTlsServer) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server =
      StartOrDie(TlsServerOptions(/*mutual=*/false), &service);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(CallInfo(PlaintextChannel(*server)).code(),
            absl::StatusCode::kUnavailable);
}

TEST(GrpcServerTest, TlsClientTrustingAnotherCaIsRefused) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server =
      StartOrDie(TlsServerOptions(/*mutual=*/false), &service);
  ASSERT_NE(server, nullptr);
  ChannelOptions options = TlsChannelOptions(*server);
  options.tls.ca_file = Certificates().other_ca_cert;
  EXPECT_EQ(CallInfo(MakeTestChannel(options)).code(),
            absl::StatusCode::kUnavailable);
}

TEST(GrpcServerTest, MutualTlsRefusesClientWithoutCertificate) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server =
      StartOrDie(TlsServerOptions(/*mutual=*/true), &service);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(CallInfo(MakeTestChannel(TlsChannelOptions(*server))).code(),
            absl::StatusCode::kUnavailable);
}

TEST(GrpcServerTest, MutualTlsAcceptsClientWithCertificate) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server =
      StartOrDie(TlsServerOptions(/*mutual=*/true), &service);
  ASSERT_NE(server, nullptr);
  ChannelOptions options = TlsChannelOptions(*server);
  options.tls.cert_file = Certificates().client_cert;
  options.tls.key_file = Certificates().client_key;
  EXPECT_TRUE(CallInfo(MakeTestChannel(options)).ok());
}

TEST(GrpcServerTest, MutualTlsRefusesClientCertificateFromAnotherCa) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server =
      StartOrDie(TlsServerOptions(/*mutual=*/true), &service);
  ASSERT_NE(server, nullptr);
  ChannelOptions options = TlsChannelOptions(*server);
  // A well-formed certificate the server's CA did not sign.
  options.tls.cert_file = Certificates().other_ca_cert;
  options.tls.key_file = Certificates().other_ca_key;
  EXPECT_EQ(CallInfo(MakeTestChannel(options)).code(),
            absl::StatusCode::kUnavailable);
}

// The same checks run on plaintext and TLS servers, by different hooks
// (see auth.h), so every token test runs on both.
class TokenTest : public ::testing::TestWithParam<bool> {
 protected:
  bool tls() const { return GetParam(); }
  ServerOptions Server() const {
    return WithTokens(tls() ? TlsServerOptions(/*mutual=*/false)
                            : ServerOptions());
  }
  ChannelOptions Channel(const GrpcServer& server) const {
    return tls() ? TlsChannelOptions(server) : PlaintextChannelOptions(server);
  }
};

TEST_P(TokenTest, CallWithoutTokenIsUnauthenticated) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(Server(), &service);
  ASSERT_NE(server, nullptr);
  absl::Status status = CallInfo(MakeTestChannel(Channel(*server)));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
}

TEST_P(TokenTest, CallWithUnknownTokenIsUnauthenticated) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(Server(), &service);
  ASSERT_NE(server, nullptr);
  absl::Status status =
      CallInfo(MakeTestChannel(WithToken(Channel(*server), "stolen-token")));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
}

TEST_P(TokenTest, ReaderMayCallInfoButNotReset) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(Server(), &service);
  ASSERT_NE(server, nullptr);
  std::shared_ptr<grpc::Channel> channel =
      MakeTestChannel(WithToken(Channel(*server), "reader-token"));
  EXPECT_TRUE(CallInfo(channel).ok());
  EXPECT_EQ(CallReset(channel),
            absl::PermissionDeniedError(
                "role 'reader' may not call /shoal.v1.ReplayService/Reset"));
}

TEST_P(TokenTest, AdminMayCallReset) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(Server(), &service);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(
      CallReset(MakeTestChannel(WithToken(Channel(*server), "admin-token")))
          .ok());
}

TEST_P(TokenTest, HealthAndReflectionNeedNoToken) {
  TestReplayService service;
  std::unique_ptr<GrpcServer> server = StartOrDie(Server(), &service);
  ASSERT_NE(server, nullptr);
  std::shared_ptr<grpc::Channel> channel = MakeTestChannel(Channel(*server));
  EXPECT_EQ(HealthOf(channel), "SERVING");
  EXPECT_TRUE(ListServicesByReflection(channel).ok());
}

INSTANTIATE_TEST_SUITE_P(PlaintextAndTls, TokenTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Tls" : "Plaintext";
                         });

TEST(GrpcServerTest, BadTokensFileIsAnError) {
  TestReplayService service;
  ServerOptions options;
  options.tokens_file = "/nonexistent/tokens";
  EXPECT_THAT(GrpcServer::Start(options, {&service}).status().message(),
              HasSubstr("/nonexistent/tokens"));
}

}  // namespace
}  // namespace shoal
