// Steps a pure-Python environment through shoal's remote Env: starts
// tests/python/env_server.py as a real subprocess, reads the port it prints,
// and checks every step against the same arithmetic done here in C++.
//
// Python with grpcio and grpc_tools is a project dependency, so a missing
// interpreter or module FAILS these tests (it never skips them). The
// interpreter is $SHOAL_PYTHON, else the one CMake found (SHOAL_PYTHON3).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "actor/envs/remote_env.h"
#include "common/child_process.h"
#include "common/status_macros.h"
#include "common/testing/test_util.h"
#include <signal.h>

#ifndef SHOAL_PYTHON3
#define SHOAL_PYTHON3 "python3"
#endif

namespace shoal {
namespace {

using ::testing::HasSubstr;

// Generating the stubs and starting grpc takes a second or two.
constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kExitTimeout = absl::Seconds(10);

// The env server subprocess, a ChildProcess with its output in a temporary
// directory's env_server.log. Killed on destruction if it still runs, so a
// failing test leaves nothing behind.
class PythonServer {
 public:
  // Starts `python env_server.py --port 0` and waits for its address line.
  absl::Status Start() {
    const char* source_dir = std::getenv("SHOAL_SOURCE_DIR");
    if (source_dir == nullptr) {
      return absl::FailedPreconditionError(
          "SHOAL_SOURCE_DIR is not set (ctest sets it to the repo root)");
    }
    const char* python_env = std::getenv("SHOAL_PYTHON");
    const std::string python =
        python_env != nullptr ? python_env : SHOAL_PYTHON3;
    SHOAL_ASSIGN_OR_RETURN(const std::string dir,
                           MakeTempDir("python_env_test"));
    SHOAL_ASSIGN_OR_RETURN(
        child_,
        StartTestProcess(
            {python, absl::StrCat(source_dir, "/tests/python/env_server.py"),
             "--port", "0"},
            dir + "/env_server.log"));
    absl::StatusOr<int> port =
        child_->WaitForPort("env_server.py listening on ", kStartTimeout);
    if (!port.ok()) {
      return absl::Status(
          port.status().code(),
          absl::StrCat(port.status().message(),
                       "\n(python3-grpcio and python3-grpc-tools are project "
                       "dependencies; SHOAL_PYTHON picks the interpreter)"));
    }
    address_ = absl::StrCat("127.0.0.1:", *port);
    return absl::OkStatus();
  }

  // SIGTERM, then the exit code (128 + signal when it had to be killed
  // after kExitTimeout).
  int Stop() {
    child_->Signal(SIGTERM);
    return child_->Wait(absl::Now() + kExitTimeout);
  }

  const std::string& address() const { return address_; }
  std::string Log() const { return child_->LogTail(); }

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string address_;
};

// The point mass of env_server.py, in the same float64 arithmetic.
struct PointMass {
  double x = 0.0;
  double v = 0.0;
  int steps = 0;

  void Reset(uint64_t seed) {
    x = static_cast<double>(seed % 101) / 100.0 - 0.5;
    v = 0.0;
    steps = 0;
  }
  StepResult Step(float force) {
    const double a = std::min(std::max(static_cast<double>(force), -1.0), 1.0);
    v = v + 0.1 * a;
    x = x + 0.1 * v;
    StepResult result;
    result.reward = -(x * x) - 0.01 * (a * a);
    ++steps;
    result.terminated = std::abs(x) > 2.0;
    result.truncated = !result.terminated && steps >= 50;
    return result;
  }
  std::vector<float> Observation() const {
    return {static_cast<float>(x), static_cast<float>(v)};
  }
};

EnvOptions RemoteOptions(const std::string& address) {
  EnvOptions options;
  options.name = "remote";
  options.remote_address = address;
  options.remote_env = "point_mass";
  options.remote_timeout_ms = 5000;
  return options;
}

TEST(PythonEnvServerTest, PointMassStepsMatchTheReferenceModel) {
  PythonServer server;
  const absl::Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(server.address()));
  ASSERT_TRUE(env.ok()) << env.status();

  const EnvSpec& spec = (*env)->spec();
  EXPECT_EQ(spec.name, "point_mass");
  EXPECT_EQ(spec.observation_shape, (std::vector<int64_t>{2}));
  EXPECT_FALSE(spec.action_space.discrete());
  EXPECT_EQ(spec.action_space.low, (std::vector<float>{-1.0f}));
  EXPECT_EQ(spec.action_space.high, (std::vector<float>{1.0f}));
  EXPECT_EQ(spec.max_episode_steps, 50);

  // 200 steps: several episodes, some truncated, some terminated (the force
  // pushes one way long enough to leave |x| <= 2).
  constexpr int kSteps = 200;
  PointMass model;
  std::vector<float> observation(2);
  uint64_t seed = 17;
  int episodes = 0, terminations = 0;
  ASSERT_TRUE((*env)->Reset(seed, absl::MakeSpan(observation)).ok());
  model.Reset(seed);
  ASSERT_EQ(observation, model.Observation());
  for (int t = 0; t < kSteps; ++t) {
    const float force = 1.5f * std::sin(0.05f * static_cast<float>(t));
    Action action;
    action.box = absl::MakeConstSpan(&force, 1);
    absl::StatusOr<StepResult> got =
        (*env)->Step(action, absl::MakeSpan(observation));
    ASSERT_TRUE(got.ok()) << got.status();
    const StepResult want = model.Step(force);
    ASSERT_EQ(observation, model.Observation()) << "step " << t;
    ASSERT_EQ(got->reward, want.reward) << "step " << t;
    ASSERT_EQ(got->terminated, want.terminated) << "step " << t;
    ASSERT_EQ(got->truncated, want.truncated) << "step " << t;
    if (want.terminated || want.truncated) {
      ++episodes;
      terminations += want.terminated;
      ++seed;
      ASSERT_TRUE((*env)->Reset(seed, absl::MakeSpan(observation)).ok());
      model.Reset(seed);
    }
  }
  EXPECT_GE(episodes, 3);
  EXPECT_GE(terminations, 1);

  env->reset();  // closes the session
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

TEST(PythonEnvServerTest, ServerErrorsReachTheClientWithTheirCode) {
  PythonServer server;
  const absl::Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::unique_ptr<Env>> env =
      MakeRemoteEnv(RemoteOptions(server.address()));
  ASSERT_TRUE(env.ok()) << env.status();
  std::vector<float> observation(2);
  const float nan = std::nanf("");
  Action action;
  action.box = absl::MakeConstSpan(&nan, 1);

  absl::StatusOr<StepResult> before_reset =
      (*env)->Step(action, absl::MakeSpan(observation));
  EXPECT_EQ(before_reset.status().code(), absl::StatusCode::kInvalidArgument);

  const float zero = 0.0f;
  Action good;
  good.box = absl::MakeConstSpan(&zero, 1);
  EXPECT_EQ((*env)->Step(good, absl::MakeSpan(observation)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*env)->Reset(/*seed=*/0, absl::MakeSpan(observation)).ok());
  absl::StatusOr<StepResult> bad =
      (*env)->Step(action, absl::MakeSpan(observation));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("StepRequest.action[0]"));
  EXPECT_TRUE((*env)->Step(good, absl::MakeSpan(observation)).ok());
}

}  // namespace
}  // namespace shoal
