#include "actor/envs/remote_env.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoal/v1/env.grpc.pb.h"

#include "actor/envs/env_factory.h"
#include "actor/envs/env_service.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal {
namespace {

using ::testing::HasSubstr;

struct TestServer {
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

TestServer StartServer(grpc::Service* service) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service);
  TestServer result;
  result.server = builder.BuildAndStart();
  EXPECT_NE(result.server, nullptr);
  EXPECT_GT(port, 0);
  result.address = absl::StrCat("127.0.0.1:", port);
  return result;
}

// A port nothing listens on: bound once by the kernel's choice, then freed.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

EnvServiceImpl MakeBuiltinService() {
  return EnvServiceImpl([](const std::string& name) {
    EnvOptions options;
    options.name = name;
    return MakeEnv(options);
  });
}

EnvOptions RemoteOptions(const std::string& address, const std::string& env,
                         int64_t timeout_ms = 5000) {
  EnvOptions options;
  options.remote_address = address;
  options.remote_env = env;
  options.remote_timeout_ms = timeout_ms;
  return options;
}

std::unique_ptr<Env> MakeLocal(const std::string& name) {
  EnvOptions options;
  options.name = name;
  absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(options);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *std::move(env) : nullptr;
}

// Discrete(2), observation [1] = the step count; every Step sleeps `delay`.
class SleepyEnv final : public Env {
 public:
  explicit SleepyEnv(absl::Duration delay) : delay_(delay) {
    spec_.name = "sleepy";
    spec_.observation_shape = {1};
    spec_.action_space.num_actions = 2;
  }
  const EnvSpec& spec() const override { return spec_; }
  absl::Status Reset(uint64_t seed, absl::Span<float> observation) override {
    observation[0] = 0.0f;
    return absl::OkStatus();
  }
  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) override {
    absl::SleepFor(delay_);
    observation[0] += 1.0f;
    return StepResult{};
  }
  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) override {
    return absl::UnimplementedError("SleepyEnv::SetState");
  }

 private:
  const absl::Duration delay_;
  EnvSpec spec_;
};

// What a misbehaving EnvService gets wrong in its replies.
enum class Fault {
  kNone,
  kShortObservation,    // 3 floats where the spec says 4
  kWrongDType,          // int64 data where the spec says float32
  kMissingObservation,  // no observation field at all
  kNoSpec,              // Open without a spec
  kNoActionSpace,       // a spec without discrete or box
  kFloat64,             // a float64 spec and replies (valid; converted)
  kOverflowingShape,    // a spec of [2^31, 2^31, 4]: the size wraps
  kHugeShape,           // a spec of [2^30]: 4 GiB per observation
};

// A hand-written EnvService that answers with `fault`. Observations are
// {1, 2, 3, 4}.
class FaultyEnvService final : public v1::EnvService::CallbackService {
 public:
  explicit FaultyEnvService(Fault fault) : fault_(fault) {}

  grpc::ServerUnaryReactor* Open(grpc::CallbackServerContext* context,
                                 const v1::OpenRequest* request,
                                 v1::OpenResponse* response) override {
    response->set_session_id(42);
    if (fault_ != Fault::kNoSpec) {
      v1::EnvSpec* spec = response->mutable_spec();
      spec->set_name("faulty");
      spec->mutable_observation()->set_dtype(
          fault_ == Fault::kFloat64 ? v1::DTYPE_FLOAT64 : v1::DTYPE_FLOAT32);
      if (fault_ == Fault::kOverflowingShape) {
        spec->mutable_observation()->add_shape(int64_t{1} << 31);
        spec->mutable_observation()->add_shape(int64_t{1} << 31);
      }
      spec->mutable_observation()->add_shape(
          fault_ == Fault::kHugeShape ? int64_t{1} << 30 : 4);
      if (fault_ != Fault::kNoActionSpace) spec->mutable_discrete()->set_n(2);
    }
    return Finish(context);
  }
  grpc::ServerUnaryReactor* Reset(grpc::CallbackServerContext* context,
                                  const v1::EnvResetRequest* request,
                                  v1::EnvResetResponse* response) override {
    WriteObservation(response->mutable_observation());
    return Finish(context);
  }
  grpc::ServerUnaryReactor* Step(grpc::CallbackServerContext* context,
                                 const v1::StepRequest* request,
                                 v1::StepResponse* response) override {
    if (fault_ != Fault::kMissingObservation) {
      WriteObservation(response->mutable_observation());
    }
    response->set_reward(1.0);
    return Finish(context);
  }
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* context,
                                  const v1::CloseRequest* request,
                                  v1::CloseResponse* response) override {
    return Finish(context);
  }

 private:
  static grpc::ServerUnaryReactor* Finish(
      grpc::CallbackServerContext* context) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  void WriteObservation(v1::Tensor* tensor) const {
    tensor->add_shape(4);
    if (fault_ == Fault::kWrongDType) {
      const std::vector<int64_t> values = {1, 2, 3, 4};
      tensor->set_dtype(v1::DTYPE_INT64);
      tensor->set_data(values.data(), values.size() * sizeof(int64_t));
    } else if (fault_ == Fault::kFloat64) {
      const std::vector<double> values = {1, 2, 3, 4};
      tensor->set_dtype(v1::DTYPE_FLOAT64);
      tensor->set_data(values.data(), values.size() * sizeof(double));
    } else {
      const std::vector<float> values = {1, 2, 3, 4};
      const int count = fault_ == Fault::kShortObservation ? 3 : 4;
      tensor->set_dtype(v1::DTYPE_FLOAT32);
      tensor->set_data(values.data(), count * sizeof(float));
    }
  }

  const Fault fault_;
};

TEST(RemoteEnvTest, SpecMatchesTheServedEnv) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  for (const std::string name : {"cartpole", "pendulum"}) {
    absl::StatusOr<std::unique_ptr<Env>> remote =
        MakeRemoteEnv(RemoteOptions(server.address, name));
    ASSERT_TRUE(remote.ok()) << remote.status();
    std::unique_ptr<Env> local = MakeLocal(name);
    const EnvSpec& want = local->spec();
    const EnvSpec& got = (*remote)->spec();
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.observation_shape, want.observation_shape);
    EXPECT_EQ(got.action_space.kind, want.action_space.kind);
    EXPECT_EQ(got.action_space.num_actions, want.action_space.num_actions);
    EXPECT_EQ(got.action_space.low, want.action_space.low);
    EXPECT_EQ(got.action_space.high, want.action_space.high);
    EXPECT_EQ(got.max_episode_steps, want.max_episode_steps);
  }
}

TEST(RemoteEnvTest, CartPoleEpisodesMatchALocalEnvStepForStep) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> remote =
      MakeRemoteEnv(RemoteOptions(server.address, "cartpole"));
  ASSERT_TRUE(remote.ok()) << remote.status();
  std::unique_ptr<Env> local = MakeLocal("cartpole");
  std::vector<float> want(4), got(4);
  for (uint64_t seed : {7, 8, 9}) {
    ASSERT_TRUE(local->Reset(seed, absl::MakeSpan(want)).ok());
    ASSERT_TRUE((*remote)->Reset(seed, absl::MakeSpan(got)).ok());
    ASSERT_EQ(got, want) << "seed " << seed;
    for (int t = 0;; ++t) {
      Action action;
      action.discrete = want[2] > 0.0f ? 1 : 0;  // lean into the fall
      absl::StatusOr<StepResult> w = local->Step(action, absl::MakeSpan(want));
      absl::StatusOr<StepResult> g =
          (*remote)->Step(action, absl::MakeSpan(got));
      ASSERT_TRUE(w.ok() && g.ok()) << w.status() << " " << g.status();
      ASSERT_EQ(got, want) << "seed " << seed << " step " << t;
      ASSERT_EQ(g->reward, w->reward);
      ASSERT_EQ(g->terminated, w->terminated);
      ASSERT_EQ(g->truncated, w->truncated);
      if (w->terminated || w->truncated) break;
    }
  }
}

TEST(RemoteEnvTest, PendulumBoxActionsMatchALocalEnv) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> remote =
      MakeRemoteEnv(RemoteOptions(server.address, "pendulum"));
  ASSERT_TRUE(remote.ok()) << remote.status();
  std::unique_ptr<Env> local = MakeLocal("pendulum");
  std::vector<float> want(3), got(3);
  ASSERT_TRUE(local->Reset(/*seed=*/3, absl::MakeSpan(want)).ok());
  ASSERT_TRUE((*remote)->Reset(/*seed=*/3, absl::MakeSpan(got)).ok());
  for (int t = 0; t < 50; ++t) {
    const float torque = 2.0f * std::sin(0.3f * t);
    Action action;
    action.box = absl::MakeConstSpan(&torque, 1);
    absl::StatusOr<StepResult> w = local->Step(action, absl::MakeSpan(want));
    absl::StatusOr<StepResult> g = (*remote)->Step(action, absl::MakeSpan(got));
    ASSERT_TRUE(w.ok() && g.ok()) << w.status() << " " << g.status();
    ASSERT_EQ(got, want) << "step " << t;
    ASSERT_EQ(g->reward, w->reward);
  }
}

TEST(RemoteEnvTest, ServerErrorsKeepTheirCodeAndTheSessionGoesOn) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(server.address, "cartpole"));
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> observation(4);
  Action action;
  // Stepping before Reset.
  EXPECT_EQ((*env)->Step(action, absl::MakeSpan(observation)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*env)->Reset(/*seed=*/1, absl::MakeSpan(observation)).ok());
  action.discrete = 5;
  absl::StatusOr<StepResult> bad =
      (*env)->Step(action, absl::MakeSpan(observation));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("action"));
  action.discrete = 1;
  EXPECT_TRUE((*env)->Step(action, absl::MakeSpan(observation)).ok());
  // A wrong-size observation span never reaches the server.
  std::vector<float> short_observation(3);
  EXPECT_EQ((*env)->Reset(1, absl::MakeSpan(short_observation)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*env)->SetState({0, 0, 0, 0}, absl::MakeSpan(observation)).code(),
            absl::StatusCode::kUnimplemented);
}

TEST(RemoteEnvTest, UnknownEnvNameIsRefusedByTheServer) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(server.address, "no-such-env"));
  EXPECT_FALSE(env.ok());
  EXPECT_THAT(env.status().message(), HasSubstr("no-such-env"));
}

TEST(RemoteEnvTest, ClosesItsSessionWhenDestroyed) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  {
    absl::StatusOr<std::unique_ptr<Env>> env =
        MakeRemoteEnv(RemoteOptions(server.address, "cartpole"));
    ASSERT_TRUE(env.ok()) << env.status();
    EXPECT_EQ(service.num_sessions(), 1);
  }
  EXPECT_EQ(service.num_sessions(), 0);
}

TEST(RemoteEnvTest, ClientStepLimitTruncatesEarlier) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  EnvOptions options = RemoteOptions(server.address, "pendulum");
  options.max_episode_steps = 5;
  absl::StatusOr<std::unique_ptr<Env>> env = MakeRemoteEnv(options);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)->spec().max_episode_steps, 5);
  std::vector<float> observation(3);
  ASSERT_TRUE((*env)->Reset(/*seed=*/0, absl::MakeSpan(observation)).ok());
  const float torque = 0.0f;
  Action action;
  action.box = absl::MakeConstSpan(&torque, 1);
  for (int t = 1; t <= 5; ++t) {
    absl::StatusOr<StepResult> result =
        (*env)->Step(action, absl::MakeSpan(observation));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->truncated, t == 5) << "step " << t;
  }
}

TEST(RemoteEnvTest, RejectsAnEmptyAddressAndANonPositiveTimeout) {
  EXPECT_EQ(MakeRemoteEnv(RemoteOptions("", "cartpole")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeRemoteEnv(RemoteOptions("127.0.0.1:1", "cartpole",
                                        /*timeout_ms=*/0))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RemoteEnvTest, ServerDownFailsQuicklyWithUnavailable) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(absl::StrCat("127.0.0.1:", UnusedPort()),
                                  "cartpole", /*timeout_ms=*/5000));
  EXPECT_EQ(env.status().code(), absl::StatusCode::kUnavailable)
      << env.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(RemoteEnvTest, ServerGoneAfterOpenMakesStepUnavailable) {
  EnvServiceImpl service = MakeBuiltinService();
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(server.address, "cartpole"));
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> observation(4);
  ASSERT_TRUE((*env)->Reset(/*seed=*/1, absl::MakeSpan(observation)).ok());
  server.server->Shutdown();
  server.server.reset();

  const absl::Time start = absl::Now();
  absl::StatusOr<StepResult> result =
      (*env)->Step(Action{}, absl::MakeSpan(observation));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
      << result.status();
  env->reset();  // Close to a dead server must not wait long either.
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(RemoteEnvTest, SlowStepIsDeadlineExceededWithinTheDeadline) {
  EnvServiceImpl service([](const std::string&) {
    return std::make_unique<SleepyEnv>(absl::Milliseconds(1500));
  });
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> env = MakeRemoteEnv(
      RemoteOptions(server.address, "sleepy", /*timeout_ms=*/200));
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> observation(1);
  ASSERT_TRUE((*env)->Reset(/*seed=*/0, absl::MakeSpan(observation)).ok());

  const absl::Time start = absl::Now();
  absl::StatusOr<StepResult> result =
      (*env)->Step(Action{}, absl::MakeSpan(observation));
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded)
      << result.status();
  EXPECT_GE(elapsed, absl::Milliseconds(150));
  EXPECT_LT(elapsed, absl::Milliseconds(1000));
}

struct FaultCase {
  Fault fault;
  // Which call fails and what its message names.
  bool open_fails;
  std::string field;
};

TEST(RemoteEnvTest, MalformedRepliesAreInternalAndNameTheField) {
  const std::vector<FaultCase> cases = {
      {Fault::kShortObservation, false, "EnvResetResponse.observation.data"},
      {Fault::kWrongDType, false, "EnvResetResponse.observation.dtype"},
      {Fault::kNoSpec, true, "OpenResponse.spec is missing"},
      {Fault::kNoActionSpace, true, "OpenResponse.spec.action_space"},
      {Fault::kOverflowingShape, true,
       "OpenResponse.spec.observation: shape [2147483648, 2147483648, 4] "
       "has more than 2^62 elements"},
      {Fault::kHugeShape, true, "is 4294967296 bytes of float32, over the"},
  };
  for (const FaultCase& c : cases) {
    FaultyEnvService service(c.fault);
    TestServer server = StartServer(&service);
    absl::StatusOr<std::unique_ptr<Env>> env =
        MakeRemoteEnv(RemoteOptions(server.address, "faulty"));
    absl::Status status = env.status();
    if (!c.open_fails) {
      ASSERT_TRUE(env.ok()) << env.status();
      std::vector<float> observation(4);
      status = (*env)->Reset(/*seed=*/0, absl::MakeSpan(observation));
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
    EXPECT_THAT(status.message(), HasSubstr(c.field));
  }
}

TEST(RemoteEnvTest, StepReplyWithoutObservationIsInternal) {
  FaultyEnvService service(Fault::kMissingObservation);
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(server.address, "faulty"));
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> observation(4);
  ASSERT_TRUE((*env)->Reset(/*seed=*/0, absl::MakeSpan(observation)).ok());
  absl::StatusOr<StepResult> result =
      (*env)->Step(Action{}, absl::MakeSpan(observation));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(),
              HasSubstr("StepResponse.observation is missing"));
}

TEST(RemoteEnvTest, Float64ObservationsAreConvertedToFloat32) {
  FaultyEnvService service(Fault::kFloat64);
  TestServer server = StartServer(&service);
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(server.address, "faulty"));
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> observation(4);
  ASSERT_TRUE((*env)->Reset(/*seed=*/0, absl::MakeSpan(observation)).ok());
  EXPECT_EQ(observation, (std::vector<float>{1, 2, 3, 4}));
  absl::StatusOr<StepResult> result =
      (*env)->Step(Action{}, absl::MakeSpan(observation));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->reward, 1.0);
}

}  // namespace
}  // namespace shoal
