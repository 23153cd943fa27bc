#include "actor/envs/env_service.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "shoal/v1/env.grpc.pb.h"

#include "actor/envs/env_factory.h"
#include "actor/envs/env_service_metrics.h"
#include "common/grpc_status.h"
#include "common/metrics.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

// A started server and a stub connected to it over loopback.
struct ServerAndStub {
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::EnvService::Stub> stub;
};

ServerAndStub Start(EnvServiceImpl* service) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service);
  ServerAndStub f;
  f.server = builder.BuildAndStart();
  EXPECT_GT(port, 0);
  f.stub = v1::EnvService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  return f;
}

EnvMaker BuiltinMaker() {
  return [](const std::string& name) {
    EnvOptions options;
    options.name = name;
    return MakeEnv(options);
  };
}

absl::StatusOr<uint64_t> Open(v1::EnvService::Stub& stub,
                              const std::string& env) {
  grpc::ClientContext context;
  v1::OpenRequest request;
  request.set_env(env);
  v1::OpenResponse response;
  absl::Status status = FromGrpcStatus(stub.Open(&context, request, &response));
  if (!status.ok()) return status;
  return response.session_id();
}

absl::Status Reset(v1::EnvService::Stub& stub, uint64_t session,
                   uint64_t seed = 0) {
  grpc::ClientContext context;
  v1::EnvResetRequest request;
  request.set_session_id(session);
  request.set_seed(seed);
  v1::EnvResetResponse response;
  return FromGrpcStatus(stub.Reset(&context, request, &response));
}

absl::StatusOr<v1::StepResponse> Step(v1::EnvService::Stub& stub,
                                      uint64_t session,
                                      const v1::Tensor* action) {
  grpc::ClientContext context;
  v1::StepRequest request;
  request.set_session_id(session);
  if (action != nullptr) *request.mutable_action() = *action;
  v1::StepResponse response;
  absl::Status status = FromGrpcStatus(stub.Step(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::Status Close(v1::EnvService::Stub& stub, uint64_t session) {
  grpc::ClientContext context;
  v1::CloseRequest request;
  request.set_session_id(session);
  v1::CloseResponse response;
  return FromGrpcStatus(stub.Close(&context, request, &response));
}

v1::Tensor Int64Action(int64_t value) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_INT64);
  tensor.set_data(&value, sizeof(value));
  return tensor;
}

v1::Tensor Float32Action(const std::vector<float>& values) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_FLOAT32);
  tensor.add_shape(static_cast<int64_t>(values.size()));
  tensor.set_data(values.data(), values.size() * sizeof(float));
  return tensor;
}

// Expects `result` to fail with `code` and a message containing `field`.
template <typename T>
void ExpectError(const T& result, absl::StatusCode code,
                 const std::string& field) {
  absl::Status status;
  if constexpr (std::is_same_v<T, absl::Status>) {
    status = result;
  } else {
    status = result.status();
  }
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_THAT(status.message(), HasSubstr(field));
}

// The value of the one unlabelled series of family `name` in `registry`:
// a counter's or gauge's value, a histogram's sample count; -1 when absent.
double Series(prometheus::Registry& registry, const std::string& name) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name || family.metric.size() != 1) continue;
    const prometheus::ClientMetric& metric = family.metric[0];
    switch (family.type) {
      case prometheus::MetricType::Counter:
        return metric.counter.value;
      case prometheus::MetricType::Gauge:
        return metric.gauge.value;
      case prometheus::MetricType::Histogram:
        return static_cast<double>(metric.histogram.sample_count);
      default:
        return -1;
    }
  }
  return -1;
}

// Discrete(2), observation [1]; every Step sleeps `delay`.
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

TEST(EnvServiceTest, BadActionsAreRefusedAndOtherSessionsKeepServing) {
  EnvServiceImpl service(BuiltinMaker());
  ServerAndStub f = Start(&service);
  absl::StatusOr<uint64_t> cartpole = Open(*f.stub, "cartpole");
  absl::StatusOr<uint64_t> pendulum = Open(*f.stub, "pendulum");
  ASSERT_TRUE(cartpole.ok() && pendulum.ok());
  ASSERT_TRUE(Reset(*f.stub, *cartpole).ok());
  ASSERT_TRUE(Reset(*f.stub, *pendulum).ok());

  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  ExpectError(Step(*f.stub, *cartpole, nullptr), kInvalid,
              "StepRequest.action is missing");
  const v1::Tensor float_action = Float32Action({1.0f});
  ExpectError(Step(*f.stub, *cartpole, &float_action), kInvalid,
              "StepRequest.action.dtype");
  v1::Tensor vector_action = Int64Action(1);
  vector_action.add_shape(2);
  ExpectError(Step(*f.stub, *cartpole, &vector_action), kInvalid,
              "StepRequest.action.shape");
  const v1::Tensor out_of_range = Int64Action(2);
  ExpectError(Step(*f.stub, *cartpole, &out_of_range), kInvalid,
              "out of range");
  const v1::Tensor nan_action =
      Float32Action({std::numeric_limits<float>::quiet_NaN()});
  ExpectError(Step(*f.stub, *pendulum, &nan_action), kInvalid,
              "StepRequest.action[0]");
  const v1::Tensor two_torques = Float32Action({0.0f, 0.0f});
  ExpectError(Step(*f.stub, *pendulum, &two_torques), kInvalid,
              "StepRequest.action.shape");
  v1::Tensor short_data = Float32Action({0.0f});
  short_data.mutable_data()->resize(2);
  ExpectError(Step(*f.stub, *pendulum, &short_data), kInvalid,
              "StepRequest.action.data");

  // Both sessions are where they were and still step.
  const v1::Tensor push = Int64Action(1);
  const v1::Tensor torque = Float32Action({0.5f});
  absl::StatusOr<v1::StepResponse> cart_step = Step(*f.stub, *cartpole, &push);
  absl::StatusOr<v1::StepResponse> pend_step =
      Step(*f.stub, *pendulum, &torque);
  ASSERT_TRUE(cart_step.ok()) << cart_step.status();
  ASSERT_TRUE(pend_step.ok()) << pend_step.status();
  EXPECT_EQ(cart_step->observation().dtype(), v1::DTYPE_FLOAT32);
  EXPECT_EQ(cart_step->observation().data().size(), 4 * sizeof(float));
  EXPECT_EQ(pend_step->observation().data().size(), 3 * sizeof(float));
}

TEST(EnvServiceTest, UnknownSessionsAreNotFound) {
  EnvServiceImpl service(BuiltinMaker());
  ServerAndStub f = Start(&service);
  const v1::Tensor push = Int64Action(1);
  ExpectError(Reset(*f.stub, /*session=*/12345), absl::StatusCode::kNotFound,
              "12345");
  ExpectError(Step(*f.stub, /*session=*/12345, &push),
              absl::StatusCode::kNotFound, "12345");
  ExpectError(Close(*f.stub, /*session=*/12345), absl::StatusCode::kNotFound,
              "CloseRequest.session_id");
  absl::StatusOr<uint64_t> session = Open(*f.stub, "cartpole");
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(Close(*f.stub, *session).ok());
  ExpectError(Reset(*f.stub, *session), absl::StatusCode::kNotFound,
              "session_id");
}

TEST(EnvServiceTest, SteppingOutsideAnEpisodeIsFailedPrecondition) {
  EnvServiceImpl service(BuiltinMaker());
  ServerAndStub f = Start(&service);
  absl::StatusOr<uint64_t> session = Open(*f.stub, "cartpole");
  ASSERT_TRUE(session.ok());
  const v1::Tensor push = Int64Action(1);
  ExpectError(Step(*f.stub, *session, &push),
              absl::StatusCode::kFailedPrecondition, "call Reset");

  ASSERT_TRUE(Reset(*f.stub, *session).ok());
  // Always pushing right ends a CartPole episode within a few dozen steps.
  bool ended = false;
  for (int t = 0; t < 500 && !ended; ++t) {
    absl::StatusOr<v1::StepResponse> step = Step(*f.stub, *session, &push);
    ASSERT_TRUE(step.ok()) << step.status();
    ended = step->terminated() || step->truncated();
  }
  ASSERT_TRUE(ended);
  ExpectError(Step(*f.stub, *session, &push),
              absl::StatusCode::kFailedPrecondition, "call Reset");
  ASSERT_TRUE(Reset(*f.stub, *session).ok());
  EXPECT_TRUE(Step(*f.stub, *session, &push).ok());
}

TEST(EnvServiceTest, FactoryErrorsReachTheClient) {
  EnvServiceImpl service(BuiltinMaker());
  ServerAndStub f = Start(&service);
  absl::StatusOr<uint64_t> session = Open(*f.stub, "no-such-env");
  EXPECT_FALSE(session.ok());
  EXPECT_THAT(session.status().message(), HasSubstr("no-such-env"));
  EXPECT_EQ(service.num_sessions(), 0);
}

TEST(EnvServiceTest, OpenBeyondMaxSessionsIsResourceExhausted) {
  EnvServiceOptions options;
  options.max_sessions = 2;
  EnvServiceImpl service(BuiltinMaker(), options);
  ServerAndStub f = Start(&service);
  absl::StatusOr<uint64_t> first = Open(*f.stub, "cartpole");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(Open(*f.stub, "cartpole").ok());
  ExpectError(Open(*f.stub, "cartpole"), absl::StatusCode::kResourceExhausted,
              "2 sessions");
  ASSERT_TRUE(Close(*f.stub, *first).ok());
  EXPECT_TRUE(Open(*f.stub, "cartpole").ok());
}

TEST(EnvServiceTest, IdleSessionsAreReaped) {
  EnvServiceOptions options;
  options.idle_timeout = absl::Seconds(30);
  EnvServiceImpl service(BuiltinMaker(), options);
  ServerAndStub f = Start(&service);
  absl::StatusOr<uint64_t> session = Open(*f.stub, "cartpole");
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(service.ReapIdleSessions(absl::Now()), 0);
  EXPECT_EQ(service.ReapIdleSessions(absl::Now() + absl::Seconds(31)), 1);
  EXPECT_EQ(service.num_sessions(), 0);
  ExpectError(Reset(*f.stub, *session), absl::StatusCode::kNotFound, "reaped");
}

// Every count is read right after the client has its answer: the service
// counts before it answers.
TEST(EnvServiceTest, MetricsCountSessionsStepsResetsAndRefusedCalls) {
  prometheus::Registry registry;
  EnvServiceMetrics metrics(registry);
  EnvServiceOptions options;
  options.idle_timeout = absl::Seconds(30);
  options.metrics = &metrics;
  EnvServiceImpl service(BuiltinMaker(), options);
  ServerAndStub f = Start(&service);
  auto series = [&](const std::string& name) { return Series(registry, name); };
  // Every series exists, at 0, before the first call.
  for (const char* name :
       {"shoal_env_server_sessions", "shoal_env_server_sessions_opened_total",
        "shoal_env_server_steps_total", "shoal_env_server_resets_total",
        "shoal_env_server_rejected_requests_total",
        "shoal_env_server_step_seconds"}) {
    EXPECT_EQ(series(name), 0.0) << name;
  }

  absl::StatusOr<uint64_t> first = Open(*f.stub, "cartpole");
  absl::StatusOr<uint64_t> second = Open(*f.stub, "cartpole");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(series("shoal_env_server_sessions"), 2.0);
  EXPECT_EQ(series("shoal_env_server_sessions_opened_total"), 2.0);
  const v1::Tensor push = Int64Action(1);
  // Before Reset: refused, timed, not a step.
  ExpectError(Step(*f.stub, *first, &push),
              absl::StatusCode::kFailedPrecondition, "call Reset");
  ASSERT_TRUE(Reset(*f.stub, *first, /*seed=*/3).ok());
  for (int t = 0; t < 3; ++t) ASSERT_TRUE(Step(*f.stub, *first, &push).ok());
  EXPECT_EQ(series("shoal_env_server_resets_total"), 1.0);
  EXPECT_EQ(series("shoal_env_server_steps_total"), 3.0);
  EXPECT_EQ(series("shoal_env_server_step_seconds"), 4.0);
  EXPECT_EQ(series("shoal_env_server_rejected_requests_total"), 1.0);

  // A bad action, an unknown session (Step, Reset, Close) and an unknown
  // env are refused and counted; none of them steps or resets.
  const v1::Tensor out_of_range = Int64Action(2);
  ExpectError(Step(*f.stub, *first, &out_of_range),
              absl::StatusCode::kInvalidArgument, "out of range");
  ExpectError(Step(*f.stub, /*session=*/12345, &push),
              absl::StatusCode::kNotFound, "12345");
  ExpectError(Reset(*f.stub, /*session=*/12345), absl::StatusCode::kNotFound,
              "12345");
  ExpectError(Close(*f.stub, /*session=*/12345), absl::StatusCode::kNotFound,
              "12345");
  EXPECT_FALSE(Open(*f.stub, "no-such-env").ok());
  EXPECT_EQ(series("shoal_env_server_rejected_requests_total"), 6.0);
  EXPECT_EQ(series("shoal_env_server_steps_total"), 3.0);
  EXPECT_EQ(series("shoal_env_server_resets_total"), 1.0);
  EXPECT_EQ(series("shoal_env_server_step_seconds"), 6.0);
  EXPECT_EQ(series("shoal_env_server_sessions"), 2.0);
  EXPECT_EQ(series("shoal_env_server_sessions_opened_total"), 2.0);

  // Closing one session and reaping the other lower the gauge to 0; the
  // opened count stays.
  ASSERT_TRUE(Close(*f.stub, *second).ok());
  EXPECT_EQ(series("shoal_env_server_sessions"), 1.0);
  EXPECT_EQ(service.ReapIdleSessions(absl::Now() + absl::Seconds(31)), 1);
  EXPECT_EQ(series("shoal_env_server_sessions"), 0.0);
  EXPECT_EQ(series("shoal_env_server_sessions_opened_total"), 2.0);

  // The histogram uses the shared latency buckets and timed real calls.
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "shoal_env_server_step_seconds") continue;
    const prometheus::ClientMetric::Histogram& histogram =
        family.metric.at(0).histogram;
    EXPECT_EQ(histogram.bucket.size(), LatencyBuckets().size() + 1);
    EXPECT_GT(histogram.sample_sum, 0.0);
    EXPECT_LT(histogram.sample_sum, 10.0);
  }
}

// Eight clients, each with its own session of an env whose Step sleeps
// 300 ms, step at the same time. Serialised (or on a pool of 2 threads) the
// eight steps would take 2.4 s (1.2 s); in parallel about 300 ms. The bound
// (600 ms) fails if any step had to wait for another session's step.
TEST(EnvServiceTest, DifferentSessionsStepInParallel) {
  constexpr int kClients = 8;
  const absl::Duration kDelay = absl::Milliseconds(300);
  EnvServiceImpl service(
      [&](const std::string&) { return std::make_unique<SleepyEnv>(kDelay); });
  ServerAndStub f = Start(&service);
  std::vector<uint64_t> sessions;
  for (int i = 0; i < kClients; ++i) {
    absl::StatusOr<uint64_t> session = Open(*f.stub, "sleepy");
    ASSERT_TRUE(session.ok());
    ASSERT_TRUE(Reset(*f.stub, *session).ok());
    sessions.push_back(*session);
  }
  const v1::Tensor push = Int64Action(1);
  std::vector<absl::Status> results(kClients);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = Step(*f.stub, sessions[i], &push).status(); });
  }
  for (std::thread& thread : threads) thread.join();
  const absl::Duration elapsed = absl::Now() - start;
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_LT(elapsed, 2 * kDelay);
}

}  // namespace
}  // namespace shoal
