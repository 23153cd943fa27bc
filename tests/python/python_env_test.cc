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
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "actor/envs/remote_env.h"
#include "common/status_macros.h"
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SHOAL_PYTHON3
#define SHOAL_PYTHON3 "python3"
#endif

extern char** environ;

namespace shoal {
namespace {

using ::testing::HasSubstr;

// Generating the stubs and starting grpc takes a second or two.
constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kExitTimeout = absl::Seconds(10);

// The env server subprocess. Killed (SIGKILL) on destruction if it still
// runs, so a failing test leaves nothing behind.
class PythonServer {
 public:
  ~PythonServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  // Spawns `python env_server.py --port 0` and waits for its address line.
  absl::Status Start() {
    const char* source_dir = std::getenv("SHOAL_SOURCE_DIR");
    if (source_dir == nullptr) {
      return absl::FailedPreconditionError(
          "SHOAL_SOURCE_DIR is not set (ctest sets it to the repo root)");
    }
    const char* python_env = std::getenv("SHOAL_PYTHON");
    const std::string python =
        python_env != nullptr ? python_env : SHOAL_PYTHON3;
    const std::string script =
        absl::StrCat(source_dir, "/tests/python/env_server.py");
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return absl::InternalError("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
    std::vector<std::string> args = {python, script, "--port", "0"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int error = posix_spawnp(&pid_, python.c_str(), &actions, nullptr,
                                   argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    stdout_fd_ = pipe_fds[0];
    if (error != 0) {
      pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat("cannot run ", python, ": ", std::strerror(error),
                       " (python3 is a project dependency)"));
    }
    std::string line;
    SHOAL_RETURN_IF_ERROR(ReadLine(&line));
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "listening on ")) {
      return absl::InternalError(
          absl::StrCat("unexpected first line from env_server.py: ", line));
    }
    address_ = std::string(rest);
    return absl::OkStatus();
  }

  // SIGTERM, then waits for the exit. Returns the exit code (or an error).
  absl::StatusOr<int> Stop() {
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + kExitTimeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        if (!WIFEXITED(status)) {
          return absl::InternalError("env_server.py died by a signal");
        }
        return WEXITSTATUS(status);
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError("env_server.py ignored SIGTERM");
  }

  const std::string& address() const { return address_; }

 private:
  absl::Status ReadLine(std::string* line) {
    const absl::Time deadline = absl::Now() + kStartTimeout;
    char c = 0;
    while (true) {
      const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      pollfd fd = {stdout_fd_, POLLIN, 0};
      if (left_ms <= 0 || poll(&fd, 1, static_cast<int>(left_ms)) <= 0) {
        return absl::DeadlineExceededError(
            "env_server.py printed no address within 60 s");
      }
      if (read(stdout_fd_, &c, 1) != 1) {
        return absl::FailedPreconditionError(
            "env_server.py exited before printing its address (see its "
            "stderr above; python3-grpcio and python3-grpc-tools are project "
            "dependencies; set SHOAL_PYTHON to pick the interpreter)");
      }
      if (c == '\n') return absl::OkStatus();
      line->push_back(c);
    }
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
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
  absl::StatusOr<int> exit_code = server.Stop();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
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
