// The real shoal-learner binary under a flood of ReportEpisodes from one
// hostile client (issue 14): 1.2 million distinct actor_index values, at
// most kMaxEpisodesPerReport per request, then 1.2 million valid episodes
// cycling through every index in range. Before the fix every index got
// its own entry for good and the learner grew by 140-200 MiB. Now indices
// in [0, 65535] are accepted into a map of at most 4096 actors (the least
// recently reporting evicted), the rest are refused whole with
// INVALID_ARGUMENT naming the field. The test reads the learner's VmRSS from
// /proc before and after the flood and requires growth under kMaxGrowth,
// then checks that the learner still answers a well-formed report.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/learner.grpc.pb.h"

#include "common/child_process.h"
#include "common/testing/test_util.h"
#include "learner/learner_service.h"

namespace shoal {
namespace {

constexpr int kDistinctIndices = 1200000;
constexpr int64_t kMaxGrowth = int64_t{32} << 20;

constexpr char kConfig[] = R"(experiment: bad_input_learner
stop: {wall_time_s: 600}
env: {name: cartpole}
algorithm: {name: dqn, batch_size: 32, n_step: 1}
network: {hidden: [32, 32]}
tables:
  - name: transitions
    max_size: 1000
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: observation, dtype: float32, shape: [4]}
      - {name: action, dtype: int64, shape: [], minimum: 0, maximum: 1}
      - {name: reward, dtype: float32, shape: []}
      - {name: discount, dtype: float32, shape: []}
      - {name: next_observation, dtype: float32, shape: [4]}
learner: {device: cpu}
)";

// Starts `program` (under $SHOAL_BINARY_DIR) with `flags`; its port, or 0
// with the reason in `*error`.
int StartServer(const std::string& dir, const std::string& program,
                std::vector<std::string> flags,
                std::unique_ptr<ChildProcess>* child, std::string* error) {
  std::vector<std::string> argv = {
      absl::StrCat(std::getenv("SHOAL_BINARY_DIR"), "/", program)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string name = program.substr(program.rfind('/') + 1);
  absl::StatusOr<std::unique_ptr<ChildProcess>> started =
      StartTestProcess(argv, absl::StrCat(dir, "/", name, ".log"));
  if (!started.ok()) {
    *error = started.status().ToString();
    return 0;
  }
  *child = *std::move(started);
  absl::StatusOr<int> port = (*child)->WaitForPort(
      absl::StrCat((*child)->name(), " listening on "), absl::Seconds(60));
  if (!port.ok()) {
    *error = absl::StrCat(port.status().ToString(), "\n", (*child)->LogTail());
    return 0;
  }
  return *port;
}

// Episodes with actor indices first .. first + n - 1, otherwise valid.
v1::ReportEpisodesRequest MakeRequest(int first, int n) {
  v1::ReportEpisodesRequest request;
  for (int i = 0; i < n; ++i) {
    v1::Episode* e = request.add_episodes();
    e->set_actor_index(first + i);
    e->set_env_id(i % 16);
    e->set_episode_return(1.0);
    e->set_length(10);
    e->set_actor_env_steps(10);
  }
  return request;
}

grpc::Status Report(v1::LearnerService::Stub& stub,
                    const v1::ReportEpisodesRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::ReportEpisodesResponse response;
  return stub.ReportEpisodes(&context, request, &response);
}

TEST(BadInputLearnerTest, MillionsOfActorIndicesDoNotGrowTheLearner) {
  const std::string dir = MakeTempDir("bad_input_learner").value();
  const std::string config = dir + "/config.yaml";
  ASSERT_TRUE(WriteTestFile(config, kConfig).ok());
  std::unique_ptr<ChildProcess> replay;
  std::string error;
  const int replay_port =
      StartServer(dir, "replay/shoal-replay",
                  {"--config", config, "--host", "127.0.0.1"}, &replay, &error);
  ASSERT_GT(replay_port, 0) << error;
  std::unique_ptr<ChildProcess> learner;
  const int port =
      StartServer(dir, "learner/shoal-learner",
                  {"--config", config, "--host", "127.0.0.1", "--replay",
                   absl::StrCat("127.0.0.1:", replay_port)},
                  &learner, &error);
  ASSERT_GT(port, 0) << error;
  auto stub = v1::LearnerService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  // Warm up gRPC's buffers and the first 4096 map entries, then measure.
  ASSERT_TRUE(Report(*stub, MakeRequest(0, kMaxEpisodesPerReport)).ok());
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t before = ResidentBytes(learner->pid());
  ASSERT_GT(before, 0);

  // 1.2 million distinct indices: those above kMaxActorIndex are refused.
  // Outcomes are counted, not asserted one by one, so that the growth is
  // reported even when they are wrong.
  const absl::Time start = absl::Now();
  int accepted = 0;
  int refused = 0;
  int other = 0;
  std::string last_other;
  const auto count = [&](const grpc::Status& status) {
    if (status.ok()) {
      ++accepted;
    } else if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
               absl::StrContains(status.error_message(), "].actor_index")) {
      ++refused;
    } else {
      ++other;
      last_other = status.error_message();
    }
  };
  for (int first = 0; first < kDistinctIndices;
       first += kMaxEpisodesPerReport) {
    const int n = std::min(kMaxEpisodesPerReport, kDistinctIndices - first);
    count(Report(*stub, MakeRequest(first, n)));
  }
  EXPECT_EQ(accepted, 16);  // indices 0 .. 65535
  EXPECT_EQ(refused, 277);
  // Another 1.2 million episodes, all valid, cycling through every index
  // in range: the stats keep evicting instead of growing.
  for (int k = 0; k < kDistinctIndices; k += kMaxEpisodesPerReport) {
    count(Report(*stub,
                 MakeRequest(k % (kMaxActorIndex + 1), kMaxEpisodesPerReport)));
  }
  EXPECT_EQ(accepted, 16 + 293);
  EXPECT_EQ(other, 0) << last_other;
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t after = ResidentBytes(learner->pid());
  std::printf(
      "%d requests (%d accepted, %d refused) in %.1f s; learner VmRSS %.1f "
      "-> %.1f MiB, growth %.1f MiB (bound %.0f MiB)\n",
      accepted + refused, accepted, refused,
      absl::ToDoubleSeconds(absl::Now() - start), before / 1048576.0,
      after / 1048576.0, (after - before) / 1048576.0, kMaxGrowth / 1048576.0);
  EXPECT_LT(after - before, kMaxGrowth);

  // Still serving: a real actor's report goes through.
  EXPECT_TRUE(Report(*stub, MakeRequest(3, 1)).ok());
  EXPECT_TRUE(learner->Poll() == std::nullopt) << learner->LogTail();
}

}  // namespace
}  // namespace shoal
