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
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/learner.grpc.pb.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/child_process.h"
#include "common/testing/test_util.h"
#include "learner/learner_checkpoint.h"
#include "learner/learner_testing.h"
#include <signal.h>

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
      - {name: action, dtype: int64, shape: [], minimum: 0, maximum: 1}
      - {name: reward, dtype: float32, shape: []}
      - {name: discount, dtype: float32, shape: []}
      - {name: next_observation, dtype: float32, shape: [4]}
learner:
  publish_every_steps: 20
  device: cpu
)";

// A server binary started with `flags`, its output in `dir`/`tag`.log, and
// the port of its "<program> listening on HOST port N" line (0 when it did
// not come; the reason is in the log and `error`).
struct Server {
  std::unique_ptr<ChildProcess> child;
  int port = 0;
  std::string error;

  std::string Log() const {
    return absl::StrCat(error, "\n",
                        child ? ReadTestFile(child->log_file()) : "");
  }
};

Server StartServer(const std::string& binary, const std::string& dir,
                   const std::string& tag,
                   const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), flags.begin(), flags.end());
  Server server;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      StartTestProcess(std::move(argv), absl::StrCat(dir, "/", tag, ".log"));
  if (!child.ok()) {
    server.error = child.status().ToString();
    return server;
  }
  server.child = *std::move(child);
  absl::StatusOr<int> port = server.child->WaitForPort(
      absl::StrCat(server.child->name(), " listening on "), absl::Seconds(60));
  if (port.ok()) {
    server.port = *port;
  } else {
    server.error = port.status().ToString();
  }
  return server;
}

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
  const Server replay =
      StartServer(Binary("replay/shoal-replay", SHOAL_REPLAY_BINARY), dir,
                  "replay", {"--config", config_path, "--host", "127.0.0.1"});
  const int replay_port = replay.port;
  ASSERT_GT(replay_port, 0) << replay.Log();
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
    const Server learner =
        StartServer(learner_binary, dir, "learner1", learner_flags);
    const int port = learner.port;
    ASSERT_GT(port, 0) << learner.Log();
    const Published trained =
        WaitForParameters(port, absl::Seconds(60),
                          [](const Published& p) { return p.version >= 5; });
    ASSERT_GE(trained.version, 5) << learner.Log();
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
    ASSERT_GT(before.step, 0) << learner.Log();
    learner.child->Kill();
    EXPECT_EQ(learner.child->exit_code(), 128 + SIGKILL);
  }

  const Server learner =
      StartServer(learner_binary, dir, "learner2", learner_flags);
  const int port = learner.port;
  ASSERT_GT(port, 0) << learner.Log();
  // The first publish after the restart continues the checkpoint's count,
  // at (at least) its step; the newest checkpoint may have moved on since
  // `before` was read, never back.
  const Published resumed =
      WaitForParameters(port, absl::Seconds(30),
                        [](const Published& p) { return p.version > 0; });
  EXPECT_GT(resumed.version, before.version) << learner.Log();
  EXPECT_GE(resumed.learner_step, before.step);
  const Published later = WaitForParameters(
      port, absl::Seconds(60),
      [&](const Published& p) { return p.version >= resumed.version + 3; });
  EXPECT_GE(later.version, resumed.version + 3) << learner.Log();
  EXPECT_GT(later.learner_step, resumed.learner_step);

  learner.child->Signal(SIGTERM);
  EXPECT_EQ(learner.child->Wait(absl::Now() + absl::Seconds(30)), 0)
      << learner.Log();
  auto checkpointer = LearnerCheckpointer::Create({ckpt_dir, 2}).value();
  std::vector<std::string> complete = checkpointer->ListComplete();
  ASSERT_FALSE(complete.empty());
  absl::StatusOr<LearnerCheckpointState> last =
      ReadLearnerMeta(complete.back());
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_GE(last->step, later.learner_step);
  EXPECT_GE(last->version, later.version);
  EXPECT_TRUE(absl::StrContains(learner.Log(), "restored"));
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
  const Server replay =
      StartServer(Binary("replay/shoal-replay", SHOAL_REPLAY_BINARY), dir,
                  "replay", {"--config", config_path, "--host", "127.0.0.1"});
  const int replay_port = replay.port;
  ASSERT_GT(replay_port, 0) << replay.Log();
  InsertTransitions(replay_port, /*n=*/200, /*nan_rewards=*/true);

  const std::string log = dir + "/learner.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> learner = StartTestProcess(
      {Binary("learner/shoal-learner", SHOAL_LEARNER_BINARY), "--config",
       config_path, "--replay", absl::StrCat("127.0.0.1:", replay_port),
       "--host", "127.0.0.1", "--checkpoint_dir", dir + "/ckpt"},
      log);
  ASSERT_TRUE(learner.ok()) << learner.status();
  EXPECT_EQ((*learner)->Wait(absl::Now() + absl::Seconds(60)), 2);
  const std::string output = ReadTestFile(log);
  EXPECT_TRUE(absl::StrContains(output, "NaN")) << output;
  // Only the initial weights were published: step 0, version 1.
  EXPECT_TRUE(absl::StrContains(output, "training stopped at step 0"))
      << output;
}

}  // namespace
}  // namespace shoal
