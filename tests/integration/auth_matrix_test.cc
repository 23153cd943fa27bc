// The security matrix: every RPC of ReplayService, LearnerService and
// EnvService called by every role (actor, learner, admin, reader), by a
// caller with no token and by one with a token the server does not know,
// against real services behind TLS and a tokens file (GrpcServer, as the
// binaries build them; certificates made with `openssl` at run time).
//
// The expected rights are written out here from the issue, not read from
// ShoalMethodRoles, so the map is checked against them:
//   actor   inserts, reads parameters, reports episodes, steps envs;
//   learner samples, updates priorities;
//   reader  Info only;
//   admin   everything, checkpoint and reset included.
// Info is also open to actor and learner: a writer reads the table
// signature with it before encoding items (tests/python/replay_client.py),
// and the learner's sharded sampler weighs shards by it. Info is read-only
// and carries no items.
// An allowed call must end OK or with an error that is not about auth; a
// call without a token, or with an unknown one, UNAUTHENTICATED; a call by
// a role without the right, PERMISSION_DENIED. Health needs no token.
//
// Two more checks on the real binaries: a shoal-replay process with TLS,
// mutual TLS and tokens, called with wrong, missing and right tokens at
// debug log level, never writes a token or a key into its log; and no
// binary has a flag that takes a token or key itself rather than a file
// (their --helpfull output).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpc/grpc.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoal/v1/env.grpc.pb.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "actor/envs/env_factory.h"
#include "actor/envs/env_service.h"
#include "common/auth.h"
#include "common/child_process.h"
#include "common/grpc_channel.h"
#include "common/grpc_server.h"
#include "common/tensor_codec.h"
#include "common/testing/test_util.h"
#include "replay/replay_server.h"
#include "replay/replay_service.h"
#include <signal.h>

#ifdef SHOAL_AUTH_MATRIX_WITH_LEARNER
#include "shoal/v1/learner.grpc.pb.h"

#include "learner/episode_stats.h"
#include "learner/learner_service.h"
#include "learner/parameter_store.h"
#endif

namespace shoal {
namespace {

// Keeps gRPC initialised for the whole binary.
[[maybe_unused]] const bool kGrpcInitialised = [] {
  grpc_init();
  return true;
}();

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// Who calls: a role's token, no token, or a token nobody issued.
enum class Caller { kActor, kLearner, kAdmin, kReader, kNoToken, kWrongToken };

constexpr Caller kCallers[] = {Caller::kActor,   Caller::kLearner,
                               Caller::kAdmin,   Caller::kReader,
                               Caller::kNoToken, Caller::kWrongToken};

std::string CallerName(Caller caller) {
  switch (caller) {
    case Caller::kActor:
      return "actor";
    case Caller::kLearner:
      return "learner";
    case Caller::kAdmin:
      return "admin";
    case Caller::kReader:
      return "reader";
    case Caller::kNoToken:
      return "no token";
    case Caller::kWrongToken:
      return "wrong token";
  }
  return "?";
}

// A token nobody could guess, so finding it in a log means it leaked.
std::string RandomToken(absl::string_view prefix) {
  static absl::BitGen* const gen = new absl::BitGen();
  return absl::StrFormat("%s-%016x%016x", prefix, absl::Uniform<uint64_t>(*gen),
                         absl::Uniform<uint64_t>(*gen));
}

// A directory, certificates and a tokens file with one token per role.
struct Credentials {
  std::string dir;
  TestCertificates certificates;
  std::string tokens_file;
  std::map<Caller, std::string> tokens;  // the four roles and kWrongToken
  std::map<Caller, std::string> token_files;
};

// One set for the whole binary (openssl takes a while).
const Credentials& TestCredentials() {
  static const Credentials* const credentials = [] {
    auto* c = new Credentials();
    absl::StatusOr<std::string> dir = MakeTempDir("shoal_auth_matrix");
    EXPECT_TRUE(dir.ok()) << dir.status();
    c->dir = dir.value_or("/nonexistent");
    absl::StatusOr<TestCertificates> made = MakeTestCertificates(c->dir);
    EXPECT_TRUE(made.ok()) << made.status();
    c->certificates = made.value_or(TestCertificates());
    std::string tokens = "# one token per role\n";
    for (Caller caller : kCallers) {
      if (caller == Caller::kNoToken) continue;
      const std::string name =
          caller == Caller::kWrongToken ? "wrong" : CallerName(caller);
      c->tokens[caller] = RandomToken(name);
      c->token_files[caller] = absl::StrCat(c->dir, "/", name, ".token");
      EXPECT_TRUE(
          WriteTestFile(c->token_files[caller], c->tokens[caller] + "\n").ok());
      if (caller != Caller::kWrongToken) {
        absl::StrAppend(&tokens, name, " ", c->tokens[caller], "\n");
      }
    }
    c->tokens_file = c->dir + "/tokens";
    EXPECT_TRUE(WriteTestFile(c->tokens_file, tokens).ok());
    return c;
  }();
  return *credentials;
}

ServerOptions SecureServerOptions() {
  const Credentials& c = TestCredentials();
  ServerOptions options;
  options.tls.cert_file = c.certificates.server_cert;
  options.tls.key_file = c.certificates.server_key;
  options.tokens_file = c.tokens_file;
  options.method_roles = ShoalMethodRoles();
  return options;
}

std::shared_ptr<grpc::Channel> SecureChannel(const std::string& address,
                                             Caller caller) {
  const Credentials& c = TestCredentials();
  ChannelOptions options;
  options.target = address;
  options.tls.ca_file = c.certificates.ca_cert;
  if (caller != Caller::kNoToken) options.token_file = c.token_files.at(caller);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.value_or(nullptr);
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
}

v1::TensorSpec IdSpec() {
  v1::TensorSpec spec;
  spec.set_name("id");
  spec.set_dtype(v1::DTYPE_INT64);
  return spec;
}

TableOptions IdTable(const std::string& name) {
  TableOptions options;
  options.name = name;
  options.signature = {IdSpec()};
  options.max_size = 100000;
  options.rate_limiter = {/*samples_per_insert=*/1.0,
                          /*min_size_to_sample=*/1,
                          /*min_diff=*/std::numeric_limits<double>::lowest(),
                          /*max_diff=*/std::numeric_limits<double>::max()};
  return options;
}

v1::Item IdItem(const std::string& table, int64_t id) {
  v1::Item item;
  item.set_table(table);
  item.set_priority(1.0);
  EncodeTensor<int64_t>(std::vector<int64_t>{id}, {}, item.add_columns())
      .IgnoreError();
  return item;
}

// The services under test, each behind its own TLS + tokens GrpcServer.
class SecureServers {
 public:
  bool Start() {
    absl::StatusOr<std::string> dir = MakeTempDir("shoal_auth_checkpoints");
    if (!dir.ok()) return Fail(dir.status());
    ReplayServerOptions replay_options;
    replay_options.tables = {IdTable("transitions"), IdTable("scratch")};
    replay_options.checkpoint_dir = *dir;
    absl::StatusOr<std::unique_ptr<ReplayServer>> replay =
        ReplayServer::Create(replay_options);
    if (!replay.ok()) return Fail(replay.status());
    replay_ = *std::move(replay);
    for (int i = 1; i <= 10; ++i) {
      absl::Status inserted =
          replay_->FindTable("transitions")
              ->Insert(IdItem("transitions", i), /*writer_id=*/1, i,
                       absl::Now() + kCallTimeout)
              .status();
      if (!inserted.ok()) return Fail(inserted);
    }
    replay_service_ = std::make_unique<ReplayServiceImpl>(
        replay_.get(), ReplayServiceOptions(), nullptr);
    if (!Serve(replay_service_.get(), &replay_grpc_)) return false;

    env_service_ = std::make_unique<EnvServiceImpl>(
        [](const std::string& name) {
          EnvOptions options;
          options.name = name;
          return MakeEnv(options);
        },
        EnvServiceOptions{/*max_sessions=*/256,
                          /*idle_timeout=*/absl::Minutes(10),
                          /*num_threads=*/2});
    if (!Serve(env_service_.get(), &env_grpc_)) return false;

#ifdef SHOAL_AUTH_MATRIX_WITH_LEARNER
    absl::StatusOr<std::unique_ptr<ParameterStore>> store =
        ParameterStore::Create({});
    if (!store.ok()) return Fail(store.status());
    store_ = *std::move(store);
    v1::Parameters parameters;
    parameters.set_version(1);
    v1::NamedTensor* weight = parameters.add_tensors();
    weight->set_name("policy.0.weight");
    EncodeTensor<float>(std::vector<float>(4, 0.5f), {2, 2},
                        weight->mutable_tensor())
        .IgnoreError();
    if (absl::Status s = store_->Publish(parameters, /*learner_step=*/1);
        !s.ok()) {
      return Fail(s);
    }
    stats_ = std::make_unique<EpisodeStats>(/*window=*/10);
    learner_service_ =
        std::make_unique<LearnerServiceImpl>(store_.get(), stats_.get());
    if (!Serve(learner_service_.get(), &learner_grpc_)) return false;
#endif

    for (Caller caller : kCallers) {
      replay_channels_[caller] = SecureChannel(replay_grpc_->address(), caller);
      env_channels_[caller] = SecureChannel(env_grpc_->address(), caller);
      if (learner_grpc_ != nullptr) {
        learner_channels_[caller] =
            SecureChannel(learner_grpc_->address(), caller);
      }
    }
    return true;
  }

  ~SecureServers() {
    if (replay_ != nullptr) replay_->Cancel();
    for (std::unique_ptr<GrpcServer>* server :
         {&replay_grpc_, &env_grpc_, &learner_grpc_}) {
      if (*server != nullptr) (*server)->Shutdown(absl::Now());
    }
  }

  const std::shared_ptr<grpc::Channel>& replay(Caller caller) {
    return replay_channels_.at(caller);
  }
  const std::shared_ptr<grpc::Channel>& env(Caller caller) {
    return env_channels_.at(caller);
  }
  const std::shared_ptr<grpc::Channel>& learner(Caller caller) {
    return learner_channels_.at(caller);
  }
  bool has_learner() const { return learner_grpc_ != nullptr; }

  // A fresh writer id for each InsertStream call.
  uint64_t NextWriter() { return ++last_writer_; }

  // Opens (and, with `reset`, resets) a cartpole session as admin.
  uint64_t OpenSession(bool reset) {
    v1::EnvService::Stub stub(env(Caller::kAdmin));
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::OpenRequest request;
    request.set_env("cartpole");
    v1::OpenResponse response;
    grpc::Status status = stub.Open(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (reset) {
      grpc::ClientContext reset_context;
      SetDeadline(&reset_context);
      v1::EnvResetRequest reset_request;
      reset_request.set_session_id(response.session_id());
      v1::EnvResetResponse reset_response;
      status = stub.Reset(&reset_context, reset_request, &reset_response);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    return response.session_id();
  }

 private:
  bool Fail(const absl::Status& status) {
    ADD_FAILURE() << status;
    return false;
  }

  bool Serve(grpc::Service* service, std::unique_ptr<GrpcServer>* server) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> started =
        GrpcServer::Start(SecureServerOptions(), {service});
    if (!started.ok()) return Fail(started.status());
    *server = *std::move(started);
    return true;
  }

  std::unique_ptr<ReplayServer> replay_;
  std::unique_ptr<ReplayServiceImpl> replay_service_;
  std::unique_ptr<GrpcServer> replay_grpc_;
  std::unique_ptr<EnvServiceImpl> env_service_;
  std::unique_ptr<GrpcServer> env_grpc_;
#ifdef SHOAL_AUTH_MATRIX_WITH_LEARNER
  std::unique_ptr<ParameterStore> store_;
  std::unique_ptr<EpisodeStats> stats_;
  std::unique_ptr<LearnerServiceImpl> learner_service_;
#endif
  std::unique_ptr<GrpcServer> learner_grpc_;
  std::map<Caller, std::shared_ptr<grpc::Channel>> replay_channels_;
  std::map<Caller, std::shared_ptr<grpc::Channel>> env_channels_;
  std::map<Caller, std::shared_ptr<grpc::Channel>> learner_channels_;
  uint64_t last_writer_ = 1000;
};

// ---------------------------------------------------------------------------
// One well-formed call of each RPC.

grpc::Status CallInsertStream(SecureServers& s, Caller caller) {
  v1::ReplayService::Stub stub(s.replay(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub.InsertStream(&context);
  v1::InsertRequest request;
  request.set_writer_id(s.NextWriter());
  request.set_first_sequence(1);
  *request.add_items() = IdItem("transitions", 99);
  v1::InsertResponse ack;
  if (stream->Write(request) && stream->Read(&ack) && ack.has_error()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, ack.error().message());
  }
  stream->WritesDone();
  return stream->Finish();
}

grpc::Status CallSampleStream(SecureServers& s, Caller caller) {
  v1::ReplayService::Stub stub(s.replay(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub.SampleStream(&context);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(1);
  request.set_timeout_ms(2000);
  v1::SampleResponse response;
  if (stream->Write(request)) {
    while (stream->Read(&response) && !response.end_of_request()) {
    }
  }
  stream->WritesDone();
  return stream->Finish();
}

grpc::Status CallUpdatePriorities(SecureServers& s, Caller caller) {
  v1::ReplayService::Stub stub(s.replay(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::UpdatePrioritiesRequest request;
  request.set_table("transitions");
  request.add_keys(12345);  // shard 0, no such item: reported missing
  request.add_priorities(2.0);
  v1::UpdatePrioritiesResponse response;
  return stub.UpdatePriorities(&context, request, &response);
}

grpc::Status CallInfo(SecureServers& s, Caller caller) {
  v1::ReplayService::Stub stub(s.replay(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::InfoResponse response;
  return stub.Info(&context, v1::InfoRequest(), &response);
}

grpc::Status CallCheckpoint(SecureServers& s, Caller caller) {
  v1::ReplayService::Stub stub(s.replay(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::CheckpointResponse response;
  return stub.Checkpoint(&context, v1::CheckpointRequest(), &response);
}

grpc::Status CallReset(SecureServers& s, Caller caller) {
  v1::ReplayService::Stub stub(s.replay(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ResetRequest request;
  request.set_table("scratch");  // never "": that would empty every table
  v1::ResetResponse response;
  return stub.Reset(&context, request, &response);
}

grpc::Status CallOpen(SecureServers& s, Caller caller) {
  v1::EnvService::Stub stub(s.env(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::OpenRequest request;
  request.set_env("cartpole");
  v1::OpenResponse response;
  return stub.Open(&context, request, &response);
}

grpc::Status CallEnvReset(SecureServers& s, Caller caller) {
  const uint64_t session = s.OpenSession(/*reset=*/false);
  v1::EnvService::Stub stub(s.env(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::EnvResetRequest request;
  request.set_session_id(session);
  v1::EnvResetResponse response;
  return stub.Reset(&context, request, &response);
}

grpc::Status CallStep(SecureServers& s, Caller caller) {
  const uint64_t session = s.OpenSession(/*reset=*/true);
  v1::EnvService::Stub stub(s.env(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StepRequest request;
  request.set_session_id(session);
  EncodeTensor<int64_t>(std::vector<int64_t>{1}, {}, request.mutable_action())
      .IgnoreError();
  v1::StepResponse response;
  return stub.Step(&context, request, &response);
}

grpc::Status CallClose(SecureServers& s, Caller caller) {
  const uint64_t session = s.OpenSession(/*reset=*/false);
  v1::EnvService::Stub stub(s.env(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::CloseRequest request;
  request.set_session_id(session);
  v1::CloseResponse response;
  return stub.Close(&context, request, &response);
}

#ifdef SHOAL_AUTH_MATRIX_WITH_LEARNER
grpc::Status CallGetParameters(SecureServers& s, Caller caller) {
  v1::LearnerService::Stub stub(s.learner(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  auto reader = stub.GetParameters(&context, v1::GetParametersRequest());
  v1::ParametersChunk chunk;
  while (reader->Read(&chunk)) {
  }
  return reader->Finish();
}

grpc::Status CallWatchParameters(SecureServers& s, Caller caller) {
  v1::LearnerService::Stub stub(s.learner(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::WatchParametersRequest request;
  request.set_have_version(0);
  auto reader = stub.WatchParameters(&context, request);
  v1::ParametersChunk chunk;
  // The stream never ends by itself: one chunk of version 1 is success.
  const bool got = reader->Read(&chunk);
  if (got) context.TryCancel();
  grpc::Status status = reader->Finish();
  return got ? grpc::Status::OK : status;
}

grpc::Status CallReportEpisodes(SecureServers& s, Caller caller) {
  v1::LearnerService::Stub stub(s.learner(caller));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ReportEpisodesRequest request;
  v1::Episode* episode = request.add_episodes();
  episode->set_episode_return(1.0);
  episode->set_length(3);
  v1::ReportEpisodesResponse response;
  return stub.ReportEpisodes(&context, request, &response);
}
#endif

// ---------------------------------------------------------------------------
// The matrix.

struct MethodRow {
  // Full method name, "/shoal.v1.ReplayService/InsertStream".
  std::string method;
  // Roles that may call it besides admin, from the issue.
  std::set<Role> allowed;
  std::function<grpc::Status(SecureServers&, Caller)> call;
  // Needs the learner (LibTorch builds only).
  bool learner = false;
};

std::vector<MethodRow> Matrix() {
  const std::string replay = "/shoal.v1.ReplayService/";
  const std::string learner = "/shoal.v1.LearnerService/";
  const std::string env = "/shoal.v1.EnvService/";
  std::vector<MethodRow> rows = {
      {replay + "InsertStream", {Role::kActor}, CallInsertStream},
      {replay + "SampleStream", {Role::kLearner}, CallSampleStream},
      {replay + "UpdatePriorities", {Role::kLearner}, CallUpdatePriorities},
      {replay + "Info",
       {Role::kReader, Role::kActor, Role::kLearner},
       CallInfo},
      {replay + "Checkpoint", {}, CallCheckpoint},
      {replay + "Reset", {}, CallReset},
      {env + "Open", {Role::kActor}, CallOpen},
      {env + "Reset", {Role::kActor}, CallEnvReset},
      {env + "Step", {Role::kActor}, CallStep},
      {env + "Close", {Role::kActor}, CallClose},
  };
#ifdef SHOAL_AUTH_MATRIX_WITH_LEARNER
  rows.push_back({learner + "GetParameters",
                  {Role::kActor},
                  CallGetParameters,
                  /*learner=*/true});
  rows.push_back({learner + "WatchParameters",
                  {Role::kActor},
                  CallWatchParameters,
                  /*learner=*/true});
  rows.push_back({learner + "ReportEpisodes",
                  {Role::kActor},
                  CallReportEpisodes,
                  /*learner=*/true});
#else
  // Without LibTorch the learner's service is not built; its rights are
  // still checked against ShoalMethodRoles below.
  rows.push_back({learner + "GetParameters", {Role::kActor}, nullptr, true});
  rows.push_back({learner + "WatchParameters", {Role::kActor}, nullptr, true});
  rows.push_back({learner + "ReportEpisodes", {Role::kActor}, nullptr, true});
#endif
  return rows;
}

std::optional<Role> RoleOf(Caller caller) {
  switch (caller) {
    case Caller::kActor:
      return Role::kActor;
    case Caller::kLearner:
      return Role::kLearner;
    case Caller::kAdmin:
      return Role::kAdmin;
    case Caller::kReader:
      return Role::kReader;
    default:
      return std::nullopt;
  }
}

bool IsAuthError(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::PERMISSION_DENIED;
}

TEST(AuthMatrixTest, MatrixCoversEveryMethodOfEveryService) {
  std::set<std::string> in_matrix;
  for (const MethodRow& row : Matrix()) in_matrix.insert(row.method);
  for (const char* service :
       {"shoal.v1.ReplayService", "shoal.v1.LearnerService",
        "shoal.v1.EnvService"}) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service);
    if (descriptor == nullptr) {
      // LearnerService's descriptor is linked only with the learner.
      EXPECT_STREQ(service, "shoal.v1.LearnerService");
      continue;
    }
    for (int i = 0; i < descriptor->method_count(); ++i) {
      const std::string method =
          absl::StrCat("/", service, "/", descriptor->method(i)->name());
      EXPECT_TRUE(in_matrix.count(method)) << method << " has no row";
    }
  }
}

TEST(AuthMatrixTest, ShoalMethodRolesGrantExactlyTheIssuesRights) {
  const MethodRoles roles = ShoalMethodRoles();
  for (const MethodRow& row : Matrix()) {
    SCOPED_TRACE(row.method);
    std::set<Role> granted;
    if (auto it = roles.find(row.method); it != roles.end()) {
      granted.insert(it->second.begin(), it->second.end());
    }
    granted.erase(Role::kAdmin);  // implied
    EXPECT_EQ(granted, row.allowed);
  }
  for (const auto& [method, unused] : roles) {
    bool known = false;
    for (const MethodRow& row : Matrix()) known |= row.method == method;
    EXPECT_TRUE(known) << method << " is granted but has no row";
  }
}

TEST(AuthMatrixTest, EveryRpcTimesEveryCallerOverTls) {
  SecureServers s;
  ASSERT_TRUE(s.Start());
  std::printf("%-42s", "method");
  for (Caller caller : kCallers) {
    std::printf(" %-18s", CallerName(caller).c_str());
  }
  std::printf("\n");
  for (const MethodRow& row : Matrix()) {
    if (row.call == nullptr) continue;
    std::printf("%-42s", row.method.c_str());
    for (Caller caller : kCallers) {
      SCOPED_TRACE(absl::StrCat(row.method, " by ", CallerName(caller)));
      const grpc::Status status = row.call(s, caller);
      std::printf(" %-18s",
                  absl::StatusCodeToString(
                      static_cast<absl::StatusCode>(status.error_code()))
                      .c_str());
      const std::optional<Role> role = RoleOf(caller);
      if (!role.has_value()) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << status.error_message();
      } else if (*role == Role::kAdmin || row.allowed.count(*role)) {
        EXPECT_FALSE(IsAuthError(status.error_code()))
            << status.error_code() << ": " << status.error_message();
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << status.error_message();
        EXPECT_EQ(status.error_message(),
                  absl::StrCat("role '", RoleName(*role), "' may not call ",
                               row.method));
      }
      // No refusal repeats the token it refused.
      for (const auto& [unused, token] : TestCredentials().tokens) {
        EXPECT_THAT(status.error_message(), Not(HasSubstr(token)));
      }
    }
    std::printf("\n");
  }
  // Health needs no token, on every server.
  EXPECT_EQ(CheckHealth(s.replay(Caller::kNoToken), "").value_or("error"),
            "SERVING");
  EXPECT_EQ(CheckHealth(s.env(Caller::kNoToken), "").value_or("error"),
            "SERVING");
  if (s.has_learner()) {
    EXPECT_EQ(CheckHealth(s.learner(Caller::kNoToken), "").value_or("error"),
              "SERVING");
  }
}

// ---------------------------------------------------------------------------
// The real binaries.

std::string BinaryDir() {
  const char* dir = std::getenv("SHOAL_BINARY_DIR");
  return dir != nullptr ? dir : ".";
}

// The lines of a PEM file's base64 body: any of them in a log is a leak.
std::vector<std::string> PemBodyLines(const std::string& path) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(ReadTestFile(path), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.size() >= 16 && !absl::StartsWith(line, "-----")) {
      lines.emplace_back(line);
    }
  }
  return lines;
}

TEST(AuthMatrixTest, ReplayBinaryLogsNoTokenOrKey) {
  const Credentials& c = TestCredentials();
  const std::string config = c.dir + "/replay.yaml";
  ASSERT_TRUE(
      WriteTestFile(
          config,
          absl::StrCat(
              "experiment: auth_matrix\n"
              "stop: {wall_time_s: 60}\n"
              "tables:\n"
              "  - name: transitions\n"
              "    max_size: 1000\n"
              "    rate_limiter: {kind: min_size, min_size_to_sample: 1}\n"
              "    signature:\n"
              "      - {name: id, dtype: int64, shape: []}\n"
              "security:\n"
              "  tls_cert: ",
              c.certificates.server_cert, "\n  tls_key: ",
              c.certificates.server_key, "\n  tls_ca: ", c.certificates.ca_cert,
              "\n  tokens_file: ", c.tokens_file, "\n"))
          .ok());
  ChildProcessOptions options;
  options.name = "replay";
  options.argv = {BinaryDir() + "/replay/shoal-replay",
                  "--config",
                  config,
                  "--host",
                  "127.0.0.1",
                  "--port",
                  "0",
                  "--log_level",
                  "debug"};
  options.log_file = c.dir + "/replay.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> port =
      (*child)->WaitForPort("shoal-replay listening on ", absl::Seconds(30));
  ASSERT_TRUE(port.ok()) << port.status() << "\n" << (*child)->LogTail();

  // Mutual TLS: every client shows the test client certificate.
  auto channel = [&](Caller caller) {
    ChannelOptions channel_options;
    channel_options.target = absl::StrCat("127.0.0.1:", *port);
    channel_options.tls.ca_file = c.certificates.ca_cert;
    channel_options.tls.cert_file = c.certificates.client_cert;
    channel_options.tls.key_file = c.certificates.client_key;
    if (caller != Caller::kNoToken) {
      channel_options.token_file = c.token_files.at(caller);
    }
    absl::StatusOr<std::shared_ptr<grpc::Channel>> made =
        MakeChannel(channel_options);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.value_or(nullptr);
  };
  auto info = [&](Caller caller) {
    v1::ReplayService::Stub stub(channel(caller));
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::InfoResponse response;
    return stub.Info(&context, v1::InfoRequest(), &response);
  };
  for (int i = 0; i < 3; ++i) {
    const grpc::Status wrong = info(Caller::kWrongToken);
    EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(wrong.error_message(),
                Not(HasSubstr(c.tokens.at(Caller::kWrongToken))));
  }
  EXPECT_EQ(info(Caller::kNoToken).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(info(Caller::kReader).ok());
  {
    v1::ReplayService::Stub stub(channel(Caller::kReader));
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ResetResponse response;
    EXPECT_EQ(stub.Reset(&context, v1::ResetRequest(), &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    v1::ReplayService::Stub stub(channel(Caller::kActor));
    grpc::ClientContext context;
    SetDeadline(&context);
    auto stream = stub.InsertStream(&context);
    v1::InsertRequest request;
    request.set_writer_id(1);
    request.set_first_sequence(1);
    *request.add_items() = IdItem("transitions", 1);
    *request.add_items() = IdItem("nope", 2);  // refused: logs an error?
    v1::InsertResponse ack;
    EXPECT_TRUE(stream->Write(request));
    EXPECT_TRUE(stream->Read(&ack));
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  (*child)->Signal(SIGTERM);
  EXPECT_EQ((*child)->Wait(absl::Now() + absl::Seconds(20)), 0);

  const std::string log = ReadTestFile(options.log_file);
  ASSERT_THAT(log, HasSubstr("listening")) << "the log is not the server's";
  for (const auto& [caller, token] : c.tokens) {
    EXPECT_THAT(log, Not(HasSubstr(token)))
        << CallerName(caller) << "'s token is in the log";
  }
  for (const std::string& key :
       {c.certificates.server_key, c.certificates.client_key,
        c.certificates.ca_key}) {
    for (const std::string& line : PemBodyLines(key)) {
      EXPECT_THAT(log, Not(HasSubstr(line))) << key << " is in the log";
    }
  }
}

// shoal-env-server with TLS, a client CA and tokens: a remote env with the
// actor's token and the client certificate opens, resets and steps; no
// token, another role's token or a plaintext client are refused at Open.
TEST(AuthMatrixTest, EnvServerBinaryServesRemoteEnvsOverTlsWithTokens) {
  const Credentials& c = TestCredentials();
  ChildProcessOptions options;
  options.name = "env-server";
  options.argv = {BinaryDir() + "/actor/envs/shoal-env-server",
                  "--env=cartpole",
                  "--port=0",
                  "--tls_cert=" + c.certificates.server_cert,
                  "--tls_key=" + c.certificates.server_key,
                  "--tls_ca=" + c.certificates.ca_cert,
                  "--tokens_file=" + c.tokens_file};
  options.log_file = c.dir + "/env-server.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  // Its one stdout line: "listening on 127.0.0.1:PORT".
  int port = -1;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       port < 0 && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(20))) {
    const std::string log = ReadTestFile(options.log_file);
    const size_t at = log.find("listening on 127.0.0.1:");
    const size_t end = log.find('\n', at);
    if (at == std::string::npos || end == std::string::npos) continue;
    const size_t first = at + std::strlen("listening on 127.0.0.1:");
    ASSERT_TRUE(absl::SimpleAtoi(log.substr(first, end - first), &port)) << log;
  }
  ASSERT_GT(port, 0) << (*child)->LogTail();

  auto open = [&](std::optional<Caller> caller, bool tls) {
    EnvOptions env;
    env.name = "remote";
    env.remote_address = absl::StrCat("127.0.0.1:", port);
    env.remote_env = "cartpole";
    env.remote_timeout_ms = 5000;
    if (tls) {
      env.remote_tls.ca_file = c.certificates.ca_cert;
      env.remote_tls.cert_file = c.certificates.client_cert;
      env.remote_tls.key_file = c.certificates.client_key;
    }
    if (caller.has_value()) env.remote_token_file = c.token_files.at(*caller);
    return MakeEnv(env);
  };
  absl::StatusOr<std::unique_ptr<Env>> env = open(Caller::kActor, true);
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> observation(4);
  ASSERT_TRUE((*env)->Reset(7, absl::MakeSpan(observation)).ok());
  Action action;
  action.discrete = 1;
  absl::StatusOr<StepResult> step =
      (*env)->Step(action, absl::MakeSpan(observation));
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(step->reward, 1.0);

  EXPECT_EQ(open(std::nullopt, true).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(open(Caller::kWrongToken, true).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(open(Caller::kReader, true).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(open(Caller::kActor, false).status().code(),
            absl::StatusCode::kUnavailable);
  env->reset();
  (*child)->Signal(SIGTERM);
  EXPECT_EQ((*child)->Wait(absl::Now() + absl::Seconds(20)), 0);
  const std::string log = ReadTestFile(options.log_file);
  for (const auto& [caller, token] : c.tokens) {
    EXPECT_THAT(log, Not(HasSubstr(token))) << CallerName(caller);
  }
}

// Flags naming a secret must take a file: `--token_file`, never `--token`.
// --tls_key takes the path of the PEM key (ChannelOptions::tls.key_file,
// read with ReadPemFile), as its siblings --tls_cert and --tls_ca do.
TEST(AuthMatrixTest, NoBinaryTakesATokenOrKeyOnTheCommandLine) {
  const std::set<std::string> path_flags = {"tls_key"};
  std::vector<std::string> binaries = {
      "replay/shoal-replay", "actor/envs/shoal-env-server", "tools/shoalctl"};
#ifdef SHOAL_AUTH_MATRIX_WITH_LEARNER
  binaries.push_back("learner/shoal-learner");
  binaries.push_back("actor/shoal-actor");
#endif
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_helpfull");
  ASSERT_TRUE(dir.ok()) << dir.status();
  for (const std::string& binary : binaries) {
    SCOPED_TRACE(binary);
    ChildProcessOptions options;
    options.name = binary;
    options.argv = {absl::StrCat(BinaryDir(), "/", binary), "--helpfull"};
    options.log_file = absl::StrCat(
        *dir, "/", absl::StrReplaceAll(binary, {{"/", "_"}}), ".help");
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Start(options);
    ASSERT_TRUE(child.ok()) << child.status();
    (*child)->Wait(absl::Now() + absl::Seconds(30));
    const std::string help = ReadTestFile(options.log_file);
    int flags = 0;
    for (absl::string_view line : absl::StrSplit(help, '\n')) {
      if (!absl::StartsWith(line, "    --")) continue;
      absl::string_view name = line.substr(6);
      name = name.substr(0, name.find_first_of(" ("));
      ++flags;
      const std::string lower = absl::AsciiStrToLower(name);
      const bool secret = absl::StrContains(lower, "token") ||
                          absl::StrContains(lower, "key") ||
                          absl::StrContains(lower, "secret") ||
                          absl::StrContains(lower, "password") ||
                          absl::StrContains(lower, "credential");
      if (!secret) continue;
      EXPECT_TRUE(absl::EndsWith(lower, "_file") ||
                  path_flags.count(std::string(name)))
          << "--" << name << " takes a secret on the command line";
    }
    EXPECT_GT(flags, 3) << "no flags parsed from:\n" << help;
  }
}

}  // namespace
}  // namespace shoal
