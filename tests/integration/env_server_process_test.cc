// The real shoal-env-server binary as a process, with --metrics_port=0: it
// prints its metrics port after its gRPC address, counts the calls made to
// it over gRPC on /metrics (sessions, steps, resets, refused calls, Step
// latency) beside the process_* series and shoal_build_info, and what it
// serves passes `promtool check metrics` (Debian's `prometheus` package,
// installed by scripts/install_deps.sh) without a complaint. Without
// --metrics_port it serves no metrics.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/env.grpc.pb.h"

#include "common/child_process.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/testing/test_util.h"
#include "tools/metrics_scrape.h"
#include <signal.h>
#include <sys/wait.h>

namespace shoal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kListening[] = "listening on 127.0.0.1:";

std::string EnvServerBinary() {
  return absl::StrCat(std::getenv("SHOAL_BINARY_DIR"),
                      "/actor/envs/shoal-env-server");
}

// One shoal-env-server process serving cartpole on 127.0.0.1 and the
// gRPC port it printed.
struct EnvServerProcess {
  std::unique_ptr<ChildProcess> child;
  int port = 0;

  std::string Log() const { return ReadTestFile(child->log_file()); }
};

// The port of the server's "listening on 127.0.0.1:PORT" line in `log`;
// -1 until that line is complete.
int GrpcPort(const std::string& log) {
  const size_t at = log.find(kListening);
  const size_t end = log.find('\n', at);
  if (at == std::string::npos || end == std::string::npos) return -1;
  const size_t first = at + std::strlen(kListening);
  int port = -1;
  return absl::SimpleAtoi(log.substr(first, end - first), &port) ? port : -1;
}

absl::StatusOr<EnvServerProcess> StartEnvServer(
    const std::string& log_file, const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {EnvServerBinary(), "--env=cartpole",
                                   "--address=127.0.0.1", "--port=0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  EnvServerProcess process;
  SHOAL_ASSIGN_OR_RETURN(process.child,
                         StartTestProcess(std::move(argv), log_file));
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while ((process.port = GrpcPort(process.Log())) < 0) {
    if (process.child->Poll().has_value() || absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no '", kListening, "PORT' line:\n", process.Log()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return process;
}

std::unique_ptr<v1::EnvService::Stub> MakeStub(int port) {
  return v1::EnvService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

absl::StatusOr<uint64_t> Open(v1::EnvService::Stub& stub) {
  grpc::ClientContext context;
  v1::OpenResponse response;
  SHOAL_RETURN_IF_ERROR(
      FromGrpcStatus(stub.Open(&context, v1::OpenRequest(), &response)));
  return response.session_id();
}

absl::Status Reset(v1::EnvService::Stub& stub, uint64_t session) {
  grpc::ClientContext context;
  v1::EnvResetRequest request;
  request.set_session_id(session);
  v1::EnvResetResponse response;
  return FromGrpcStatus(stub.Reset(&context, request, &response));
}

// Steps `session` with the discrete action `action`.
absl::Status Step(v1::EnvService::Stub& stub, uint64_t session,
                  int64_t action) {
  grpc::ClientContext context;
  v1::StepRequest request;
  request.set_session_id(session);
  request.mutable_action()->set_dtype(v1::DTYPE_INT64);
  request.mutable_action()->set_data(&action, sizeof(action));
  v1::StepResponse response;
  return FromGrpcStatus(stub.Step(&context, request, &response));
}

absl::Status Close(v1::EnvService::Stub& stub, uint64_t session) {
  grpc::ClientContext context;
  v1::CloseRequest request;
  request.set_session_id(session);
  v1::CloseResponse response;
  return FromGrpcStatus(stub.Close(&context, request, &response));
}

// What `promtool check metrics < file` printed (stdout and stderr) and its
// exit code; 127 when no promtool is on PATH.
struct PromtoolResult {
  std::string output;
  int exit_code = -1;
};

PromtoolResult CheckWithPromtool(const std::string& file) {
  PromtoolResult result;
  FILE* pipe = popen(
      absl::StrCat("promtool check metrics < '", file, "' 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

TEST(EnvServerProcessTest, MetricsCountTheCallsServedAndPassPromtool) {
  const std::string work = MakeTempDir("env_server_process").value();
  absl::StatusOr<EnvServerProcess> process =
      StartEnvServer(work + "/env-server.log", {"--metrics_port=0"});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<int> metrics_port = process->child->WaitForPort(
      "shoal-env-server metrics on ", absl::Seconds(20));
  ASSERT_TRUE(metrics_port.ok()) << metrics_port.status();

  // Two sessions opened, one closed; one refused Step before Reset, one
  // Reset, five steps (always pushing right ends CartPole only after
  // about ten), one refused out-of-range action, one refused Close.
  auto stub = MakeStub(process->port);
  absl::StatusOr<uint64_t> session = Open(*stub);
  absl::StatusOr<uint64_t> closed = Open(*stub);
  ASSERT_TRUE(session.ok() && closed.ok());
  ASSERT_TRUE(Close(*stub, *closed).ok());
  EXPECT_EQ(Step(*stub, *session, /*action=*/1).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Reset(*stub, *session).ok());
  for (int t = 0; t < 5; ++t) {
    ASSERT_TRUE(Step(*stub, *session, /*action=*/1).ok());
  }
  EXPECT_EQ(Step(*stub, *session, /*action=*/7).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Close(*stub, *closed).code(), absl::StatusCode::kNotFound);

  absl::StatusOr<std::string> text =
      FetchMetricsText(*metrics_port, absl::Seconds(5));
  ASSERT_TRUE(text.ok()) << text.status();
  const MetricSamples samples = ParseMetricsText(*text);
  EXPECT_EQ(samples.Get("shoal_env_server_sessions", -1), 1);
  EXPECT_EQ(samples.Get("shoal_env_server_sessions_opened_total", -1), 2);
  EXPECT_EQ(samples.Get("shoal_env_server_resets_total", -1), 1);
  EXPECT_EQ(samples.Get("shoal_env_server_steps_total", -1), 5);
  EXPECT_EQ(samples.Get("shoal_env_server_rejected_requests_total", -1), 3);
  // Every Step call is timed, refused ones too.
  EXPECT_EQ(samples.Get("shoal_env_server_step_seconds_count", -1), 7);
  EXPECT_EQ(samples.Get("shoal_env_server_step_seconds_bucket{le=\"+Inf\"}"),
            7);
  EXPECT_GT(samples.Get("shoal_env_server_step_seconds_sum", -1), 0);
  EXPECT_THAT(*text, HasSubstr("# TYPE shoal_env_server_sessions gauge\n"));
  EXPECT_THAT(*text,
              HasSubstr("# TYPE shoal_env_server_step_seconds histogram\n"));
  EXPECT_TRUE(samples.Has("process_resident_memory_bytes"));
  EXPECT_THAT(*text, HasSubstr("\nshoal_build_info{"));

  const std::string scrape = work + "/metrics.txt";
  ASSERT_TRUE(WriteTestFile(scrape, *text).ok());
  const PromtoolResult promtool = CheckWithPromtool(scrape);
  ASSERT_NE(promtool.exit_code, 127)
      << "no promtool on PATH: install Debian's prometheus package "
         "(scripts/install_deps.sh)";
  EXPECT_EQ(promtool.exit_code, 0) << promtool.output;
  EXPECT_EQ(promtool.output, "") << *text;

  // With a client still connected, shutdown takes the whole 5 s grace.
  stub.reset();
  process->child->Signal(SIGTERM);
  EXPECT_EQ(process->child->Wait(absl::Now() + absl::Seconds(20)), 0)
      << process->Log();
  std::filesystem::remove_all(work);
}

TEST(EnvServerProcessTest, ServesNoMetricsWithoutMetricsPort) {
  const std::string work = MakeTempDir("env_server_process").value();
  absl::StatusOr<EnvServerProcess> process =
      StartEnvServer(work + "/env-server.log", {});
  ASSERT_TRUE(process.ok()) << process.status();
  // Both lines are flushed together, so the listening line is enough.
  EXPECT_THAT(process->Log(), Not(HasSubstr("metrics on port")));
  auto stub = MakeStub(process->port);
  absl::StatusOr<uint64_t> session = Open(*stub);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_TRUE(Reset(*stub, *session).ok());
  EXPECT_TRUE(Step(*stub, *session, /*action=*/0).ok());

  // With a client still connected, shutdown takes the whole 5 s grace.
  stub.reset();
  process->child->Signal(SIGTERM);
  EXPECT_EQ(process->child->Wait(absl::Now() + absl::Seconds(20)), 0)
      << process->Log();
  std::filesystem::remove_all(work);
}

}  // namespace
}  // namespace shoal
