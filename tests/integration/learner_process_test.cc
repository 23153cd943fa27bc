// The real shoal-learner binary against a real shoal-replay: cartpole
// transitions are inserted over gRPC, the learner trains and publishes
// (read back with LearnerService.GetParameters), checkpoints every second,
// is killed with SIGKILL and restarted on the same checkpoint directory:
// the step and the published version go on from the newest complete
// checkpoint instead of starting over. SIGTERM then ends it with exit
// code 0 after a final checkpoint.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/learner.grpc.pb.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/test_util.h"
#include "learner/learner_checkpoint.h"
#include "learner/learner_testing.h"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace shoal {
namespace {

std::string Binary(absl::string_view relative, const char* fallback) {
  const char* dir = std::getenv("SHOAL_BINARY_DIR");
  if (dir != nullptr) return absl::StrCat(dir, "/", relative);
  return fallback;
}

constexpr char kConfig[] = R"(experiment: learner_process
stop: {wall_time_s: 600}
env: {name: cartpole}
algorithm:
  name: dqn
  batch_size: 32
  n_step: 1
network: {hidden: [32, 32]}
tables:
  - name: transitions
    max_size: 10000
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: observation, dtype: float32, shape: [4]}
      - {name: action, dtype: int64, shape: []}
      - {name: reward, dtype: float32, shape: []}
      - {name: discount, dtype: float32, shape: []}
      - {name: next_observation, dtype: float32, shape: [4]}
learner:
  publish_every_steps: 20
  device: cpu
)";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One child process; stdout and stderr go to files. SIGKILLed on
// destruction if still running.
class Process {
 public:
  Process(const std::string& binary, const std::string& work_dir,
          const std::string& tag, const std::vector<std::string>& flags)
      : program_(std::filesystem::path(binary).filename().string()),
        stdout_path_(absl::StrCat(work_dir, "/", tag, ".stdout")),
        stderr_path_(absl::StrCat(work_dir, "/", tag, ".stderr")) {
    std::vector<std::string> args = {binary};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // The port of the "<program> listening on HOST port N" line; 0 when it
  // does not come within `timeout`.
  int WaitForPort(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    const std::string prefix = absl::StrCat(program_, " listening on ");
    while (absl::Now() < deadline) {
      for (absl::string_view line :
           absl::StrSplit(ReadFile(stdout_path_), '\n')) {
        std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
        int port = 0;
        if (absl::StartsWith(line, prefix) && words.size() == 6 &&
            absl::SimpleAtoi(words[5], &port)) {
          return port;
        }
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return 0;
  }

  void Signal(int sig) { kill(pid_, sig); }

  // The exit code, 128 + signal when killed, or -1 after `timeout`.
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

  std::string Stderr() const { return ReadFile(stderr_path_); }

 private:
  const std::string program_;
  const std::string stdout_path_;
  const std::string stderr_path_;
  pid_t pid_ = -1;
};

// Inserts `n` cartpole transitions; with `nan_rewards` every reward is NaN.
void InsertTransitions(int replay_port, int n, bool nan_rewards = false) {
  auto stub = v1::ReplayService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", replay_port),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->InsertStream(&context);
  v1::InsertRequest request;
  request.set_writer_id(1);
  request.set_first_sequence(1);
  for (v1::Item& item : testing::CartPoleTransitions(n, /*seed=*/11)) {
    if (nan_rewards) {
      *item.mutable_columns(2) = testing::FloatTensor({std::nanf("")}, {});
    }
    *request.add_items() = std::move(item);
  }
  ASSERT_TRUE(stream->Write(request));
  v1::InsertResponse ack;
  ASSERT_TRUE(stream->Read(&ack));
  ASSERT_FALSE(ack.has_error()) << ack.error().message();
  ASSERT_EQ(ack.acked_sequence(), static_cast<uint64_t>(n));
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
}

struct Published {
  int64_t version = 0;
  int64_t learner_step = 0;
};

// The newest version's header via GetParameters; version 0 when none yet
// or the call failed.
Published GetParameters(int port) {
  auto stub = v1::LearnerService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  auto reader = stub->GetParameters(&context, v1::GetParametersRequest());
  v1::ParametersChunk chunk;
  Published published;
  while (reader->Read(&chunk)) {
    published.version = chunk.version();
    published.learner_step = chunk.learner_step();
  }
  if (!reader->Finish().ok()) return Published();
  return published;
}

// Waits until `done(GetParameters(port))`; the last answer.
template <typename Pred>
Published WaitForParameters(int port, absl::Duration timeout, Pred done) {
  const absl::Time deadline = absl::Now() + timeout;
  Published last;
  while (absl::Now() < deadline) {
    last = GetParameters(port);
    if (done(last)) return last;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return last;
}

TEST(LearnerProcessTest, ResumesStepAndVersionAfterSigkill) {
  const std::string dir = MakeTempDir("learner_process").value();
  const std::string config_path = dir + "/config.yaml";
  ASSERT_TRUE(WriteTestFile(config_path, kConfig).ok());
  Process replay(Binary("replay/shoal-replay", SHOAL_REPLAY_BINARY), dir,
                 "replay", {"--config", config_path, "--host", "127.0.0.1"});
  const int replay_port = replay.WaitForPort(absl::Seconds(30));
  ASSERT_GT(replay_port, 0) << replay.Stderr();
  InsertTransitions(replay_port, /*n=*/2000);

  const std::string ckpt_dir = dir + "/ckpt";
  const std::vector<std::string> learner_flags = {
      "--config",
      config_path,
      "--replay",
      absl::StrCat("127.0.0.1:", replay_port),
      "--host",
      "127.0.0.1",
      "--checkpoint_dir",
      ckpt_dir,
      "--checkpoint_every_s",
      "1",
      "--logdir",
      dir + "/logs",
      "--log_every_s",
      "1"};
  const std::string learner_binary =
      Binary("learner/shoal-learner", SHOAL_LEARNER_BINARY);

  LearnerCheckpointState before;
  {
    Process learner(learner_binary, dir, "learner1", learner_flags);
    const int port = learner.WaitForPort(absl::Seconds(60));
    ASSERT_GT(port, 0) << learner.Stderr();
    const Published trained =
        WaitForParameters(port, absl::Seconds(60),
                          [](const Published& p) { return p.version >= 5; });
    ASSERT_GE(trained.version, 5) << learner.Stderr();
    // Wait for a complete checkpoint past step 0.
    auto checkpointer = LearnerCheckpointer::Create({ckpt_dir, 2}).value();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      std::vector<std::string> complete = checkpointer->ListComplete();
      if (!complete.empty()) {
        absl::StatusOr<LearnerCheckpointState> state =
            ReadLearnerMeta(complete.back());
        if (state.ok() && state->step > 0) {
          before = *state;
          break;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_GT(before.step, 0) << learner.Stderr();
    learner.Signal(SIGKILL);
    EXPECT_EQ(learner.Wait(absl::Seconds(10)), 128 + SIGKILL);
  }

  Process learner(learner_binary, dir, "learner2", learner_flags);
  const int port = learner.WaitForPort(absl::Seconds(60));
  ASSERT_GT(port, 0) << learner.Stderr();
  // The first publish after the restart continues the checkpoint's count,
  // at (at least) its step; the newest checkpoint may have moved on since
  // `before` was read, never back.
  const Published resumed =
      WaitForParameters(port, absl::Seconds(30),
                        [](const Published& p) { return p.version > 0; });
  EXPECT_GT(resumed.version, before.version) << learner.Stderr();
  EXPECT_GE(resumed.learner_step, before.step);
  const Published later = WaitForParameters(
      port, absl::Seconds(60),
      [&](const Published& p) { return p.version >= resumed.version + 3; });
  EXPECT_GE(later.version, resumed.version + 3) << learner.Stderr();
  EXPECT_GT(later.learner_step, resumed.learner_step);

  learner.Signal(SIGTERM);
  EXPECT_EQ(learner.Wait(absl::Seconds(30)), 0) << learner.Stderr();
  auto checkpointer = LearnerCheckpointer::Create({ckpt_dir, 2}).value();
  std::vector<std::string> complete = checkpointer->ListComplete();
  ASSERT_FALSE(complete.empty());
  absl::StatusOr<LearnerCheckpointState> last =
      ReadLearnerMeta(complete.back());
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_GE(last->step, later.learner_step);
  EXPECT_GE(last->version, later.version);
  EXPECT_TRUE(absl::StrContains(learner.Stderr(), "restored"));
}

TEST(LearnerProcessTest, ANanLossExitsNonZeroWithoutPublishingIt) {
  const std::string dir = MakeTempDir("learner_process").value();
  const std::string config_path = dir + "/config.yaml";
  std::string config = kConfig;
  const std::string reward = "{name: reward, dtype: float32, shape: []}";
  config.replace(config.find(reward), reward.size(),
                 "{name: reward, dtype: float32, shape: [], "
                 "allow_nonfinite: true}");
  ASSERT_TRUE(WriteTestFile(config_path, config).ok());
  Process replay(Binary("replay/shoal-replay", SHOAL_REPLAY_BINARY), dir,
                 "replay", {"--config", config_path, "--host", "127.0.0.1"});
  const int replay_port = replay.WaitForPort(absl::Seconds(30));
  ASSERT_GT(replay_port, 0) << replay.Stderr();
  InsertTransitions(replay_port, /*n=*/200, /*nan_rewards=*/true);

  Process learner(Binary("learner/shoal-learner", SHOAL_LEARNER_BINARY), dir,
                  "learner",
                  {"--config", config_path, "--replay",
                   absl::StrCat("127.0.0.1:", replay_port), "--host",
                   "127.0.0.1", "--checkpoint_dir", dir + "/ckpt"});
  EXPECT_EQ(learner.Wait(absl::Seconds(60)), 2);
  const std::string stderr_text = learner.Stderr();
  EXPECT_TRUE(absl::StrContains(stderr_text, "NaN")) << stderr_text;
  // Only the initial weights were published: step 0, version 1.
  EXPECT_TRUE(absl::StrContains(stderr_text, "training stopped at step 0"))
      << stderr_text;
}

}  // namespace
}  // namespace shoal
