// actor_process_test: the real shoal-actor binary against a real
// shoal-replay process and a LearnerService served in this process (the
// "stub learner": ParameterStore + LearnerServiceImpl on a GrpcServer).
//
// The actor's log is the window into it: it logs "acting with policy
// version N" once per version it starts using and, on exit, a "stopped:"
// line with its totals.
//
// What the kill is checked against (replay_writer_test.cc's rule): items
// acked before the shard's checkpoint survive; items acked between the
// checkpoint and the SIGKILL are lost with the shard's memory (the
// checkpoint interval's loss, not the actor's); everything appended while
// the shard is down is kept unacked and resent. So at the end
//   table items <= actor items_acked, and
//   actor items_acked - table items <= what can be acked in the few
//   milliseconds between the Checkpoint reply and the kill.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"
#include "torch/torch.h"

#include "common/child_process.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/testing/test_util.h"
#include "common/torch/networks.h"
#include "common/torch/tensor_torch.h"
#include "learner/learner_service.h"
#include "learner/parameter_store.h"
#include "replay/testing/shard_process.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal {
namespace {

using ::testing::HasSubstr;

// Each env step takes >= 500 us; 4 envs: about 500 vector steps and 2000
// items a second, which keeps the table small and the loss bound tight.
constexpr char kConfigYaml[] = R"(experiment: actor-process-test
seed: 3
env: {name: cartpole, step_cost_us: 500}
algorithm: {name: dqn, n_step: 1}
network: {hidden: [16, 16]}
tables:
  - name: transitions
    sampler: {kind: fifo}
    remover: {kind: fifo}
    max_size: 1000000
    max_times_sampled: 1
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: observation, dtype: float32, shape: [OBS]}
      - {name: action, dtype: int64, shape: [], minimum: 0, maximum: 1}
      - {name: reward, dtype: float32, shape: []}
      - {name: discount, dtype: float32, shape: []}
      - {name: next_observation, dtype: float32, shape: [4]}
replay: {shards: 1}
actor: {num_envs: 4, report_every_episodes: 1}
stop: {env_steps: 1}
)";
constexpr int64_t kItemsPerMs = 2;

std::string ConfigYaml(int observation_size) {
  std::string yaml = kConfigYaml;
  yaml.replace(yaml.find("OBS"), 3, absl::StrCat(observation_size));
  return yaml;
}

std::string Binary() {
  const char* dir = std::getenv("SHOAL_BINARY_DIR");
  return absl::StrCat(dir != nullptr ? dir : ".", "/actor/shoal-actor");
}

// Polls `log` until it contains `needle`; the time it took, or -1.
absl::Duration WaitForLog(const std::string& log, const std::string& needle,
                          absl::Duration timeout) {
  const absl::Time start = absl::Now();
  while (absl::Now() - start < timeout) {
    if (absl::StrContains(ReadTestFile(log), needle))
      return absl::Now() - start;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return -absl::Seconds(1);
}

// The number after "key=" on the last line containing `marker`; -1.
int64_t LoggedValue(const std::string& log, const std::string& marker,
                    const std::string& key) {
  int64_t value = -1;
  for (absl::string_view line : absl::StrSplit(ReadTestFile(log), '\n')) {
    if (!absl::StrContains(line, marker)) continue;
    const size_t at = line.find(key + "=");
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = line.substr(at + key.size() + 1);
    rest = rest.substr(0, rest.find(' '));
    (void)absl::SimpleAtoi(rest, &value);
  }
  return value;
}

std::unique_ptr<v1::ReplayService::Stub> ReplayStub(const std::string& addr) {
  return v1::ReplayService::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
}

int64_t TableSize(const std::string& address) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::InfoResponse info;
  grpc::Status status = ReplayStub(address)->Info(&context, {}, &info);
  return status.ok() && info.tables_size() == 1 ? info.tables(0).size() : -1;
}

// Every item of the (fifo, sampled-once) table.
std::vector<v1::Item> DrainItems(const std::string& address) {
  std::vector<v1::Item> items;
  const int64_t size = TableSize(address);
  if (size <= 0) return items;
  auto stub = ReplayStub(address);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto stream = stub->SampleStream(&context);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(static_cast<int32_t>(size));
  stream->Write(request);
  v1::SampleResponse response;
  while (stream->Read(&response)) {
    for (const v1::SampledItem& sampled : response.items()) {
      items.push_back(sampled.item());
    }
    if (response.end_of_request()) break;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  return items;
}

// The weights the learner would publish for the test config's dqn policy.
v1::Parameters MakeParameters(const ExperimentConfig& config, int64_t version) {
  EnvShape shape;
  shape.observation_size = 4;
  shape.discrete = true;
  shape.num_actions = 2;
  std::shared_ptr<ActorPolicy> policy = MakePolicy(config, shape).value();
  v1::Parameters parameters;
  parameters.set_version(version);
  for (const auto& p : policy->named_parameters()) {
    v1::NamedTensor* named = parameters.add_tensors();
    named->set_name(p.key());
    EXPECT_TRUE(FromTorch(p.value().detach(), named->mutable_tensor()).ok());
  }
  return parameters;
}

// The stub learner: a real LearnerService on a fixed loopback port.
struct StubLearner {
  std::unique_ptr<ParameterStore> store = ParameterStore::Create({}).value();
  LearnerServiceImpl service{store.get(), /*stats=*/nullptr};
  std::unique_ptr<GrpcServer> server;
};

std::unique_ptr<StubLearner> StartLearner(int port) {
  auto learner = std::make_unique<StubLearner>();
  ServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  learner->server = GrpcServer::Start(options, {&learner->service}).value();
  return learner;
}

// One actor through its life: acting with no learner (items of version
// 0), picking up published weights within 100 ms, riding out a 3 s
// SIGKILL of its shard without crashing or losing an acknowledged item
// beyond the checkpoint rule, and exiting 0 on SIGTERM after a flush.
// Whether a TCP connection to `host`:`port` is accepted.
bool Connects(const char* host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &addr.sin_addr);
  const bool connected =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return connected;
}

TEST(ActorProcessTest, ActsFollowsWeightsSurvivesAShardKillAndStopsCleanly) {
  const std::string dir = MakeTempDir("actor-process-test-").value();
  const std::string config_file = dir + "/shoal.yaml";
  ASSERT_TRUE(WriteTestFile(config_file, ConfigYaml(4)).ok());
  const ExperimentConfig config =
      ParseExperimentConfig(ConfigYaml(4), "test.yaml").value();

  ShardProcessOptions shard_options;
  shard_options.config_file = config_file;
  shard_options.checkpoint_dir = dir + "/ckpt";
  auto shard = ShardProcess::Start(shard_options);
  ASSERT_TRUE(shard.ok()) << shard.status();
  const int learner_port = PickFreePort().value();

  const std::string log = dir + "/actor.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> actor = StartTestProcess(
      {Binary(), "--config", config_file, "--replay", (*shard)->address(),
       "--learner", absl::StrCat("127.0.0.1:", learner_port), "--actor_index",
       "0", "--log_level=debug", "--host=127.0.0.2", "--metrics_port=0"},
      log);
  ASSERT_TRUE(actor.ok()) << actor.status();
  // /metrics listens on --host, like every shoal server, not on all
  // addresses.
  const absl::StatusOr<int> metrics_port =
      (*actor)->WaitForPort("shoal-actor metrics on port ", absl::Seconds(20));
  ASSERT_TRUE(metrics_port.ok()) << metrics_port.status();
  EXPECT_TRUE(Connects("127.0.0.2", *metrics_port));
  EXPECT_FALSE(Connects("127.0.0.1", *metrics_port));

  // No learner yet: the actor acts anyway, with version 0.
  absl::Time until = absl::Now() + absl::Seconds(20);
  while (TableSize((*shard)->address()) < 500 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(TableSize((*shard)->address()), 500) << ReadTestFile(log);

  // The learner comes up; its first version is picked up after the
  // watcher's reconnect backoff.
  std::unique_ptr<StubLearner> learner = StartLearner(learner_port);
  ASSERT_TRUE(learner->store->Publish(MakeParameters(config, 1), 1).ok());
  ASSERT_GE(WaitForLog(log, "acting with policy version 1", absl::Seconds(15)),
            absl::ZeroDuration())
      << ReadTestFile(log);
  std::vector<absl::Duration> latencies;
  for (int64_t version = 2; version <= 6; ++version) {
    v1::Parameters parameters = MakeParameters(config, version);
    const absl::Time start = absl::Now();
    ASSERT_TRUE(learner->store->Publish(parameters, version).ok());
    const absl::Duration waited =
        WaitForLog(log, absl::StrCat("acting with policy version ", version),
                   absl::Seconds(5));
    ASSERT_GE(waited, absl::ZeroDuration()) << ReadTestFile(log);
    latencies.push_back(absl::Now() - start);
    std::cout << "publish -> in use, version " << version << ": "
              << latencies.back() << "\n";
  }
  std::sort(latencies.begin(), latencies.end());
  EXPECT_LT(latencies[latencies.size() / 2], absl::Milliseconds(100));

  // Checkpoint, then SIGKILL at once; down for 3 s; restart.
  v1::CheckpointResponse checkpoint;
  const absl::Time checkpoint_start = absl::Now();
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    ASSERT_TRUE(ReplayStub((*shard)->address())
                    ->Checkpoint(&context, {}, &checkpoint)
                    .ok());
  }
  ASSERT_TRUE((*shard)->Kill().ok());
  // Items acked in here may be lost: stored after the snapshot.
  const absl::Duration window = absl::Now() - checkpoint_start;
  absl::SleepFor(absl::Seconds(3));
  ASSERT_FALSE((*actor)->Poll().has_value()) << "the actor died\n"
                                             << ReadTestFile(log);
  ASSERT_TRUE((*shard)->Restart().ok());
  until = absl::Now() + absl::Seconds(20);
  while (TableSize((*shard)->address()) < checkpoint.items() + 2000 &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(TableSize((*shard)->address()), checkpoint.items() + 2000)
      << "the actor did not resume\n"
      << ReadTestFile(log);

  (*actor)->Signal(SIGTERM);
  ASSERT_EQ((*actor)->Wait(absl::Now() + absl::Seconds(20)), 0)
      << ReadTestFile(log);
  const int64_t acked = LoggedValue(log, "stopped:", "items_acked");
  const int64_t appended = LoggedValue(log, "stopped:", "items_appended");
  EXPECT_EQ(acked, appended) << "SIGTERM flushes everything";

  const std::vector<v1::Item> items = DrainItems((*shard)->address());
  const int64_t stored = static_cast<int64_t>(items.size());
  std::cout << "checkpoint " << checkpoint.items() << " items, kill window "
            << window << ", actor acked " << acked << ", table " << stored
            << "\n";
  EXPECT_LE(stored, acked);
  EXPECT_LE(acked - stored,
            kItemsPerMs * (absl::ToInt64Milliseconds(window) + 50) +
                config.actor.items_per_insert);
  std::set<int64_t> versions;
  for (const v1::Item& item : items) {
    versions.insert(item.policy_version());
    ASSERT_EQ(item.columns_size(), 5);
    EXPECT_EQ(item.columns(0).dtype(), v1::DTYPE_FLOAT32);
    EXPECT_EQ(item.columns(1).dtype(), v1::DTYPE_INT64);
  }
  EXPECT_TRUE(versions.count(0)) << "items from before the learner came";
  EXPECT_TRUE(versions.count(6)) << "items of the newest weights";
  EXPECT_EQ(*versions.rbegin(), 6);
}

TEST(ActorProcessTest, ConfigWhoseTableDoesNotMatchTheEnvExitsWithOneLine) {
  const std::string dir = MakeTempDir("actor-process-test-").value();
  const std::string config_file = dir + "/bad.yaml";
  ASSERT_TRUE(WriteTestFile(config_file, ConfigYaml(3)).ok());
  const std::string log = dir + "/actor.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> actor = StartTestProcess(
      {Binary(), "--config", config_file, "--replay", "127.0.0.1:1"}, log);
  ASSERT_TRUE(actor.ok()) << actor.status();
  ASSERT_EQ((*actor)->Wait(absl::Now() + absl::Seconds(30)), 2);
  const std::string output = ReadTestFile(log);
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  EXPECT_THAT(output, HasSubstr("shoal-actor: "));
  EXPECT_THAT(output, HasSubstr("'observation'"));
  EXPECT_THAT(output, HasSubstr("[4]"));
}

}  // namespace
}  // namespace shoal
