// actor_bench: one actor loop (ActorLoop) on cartpole with 16 envs and a
// 2x64 dqn MLP, one intra-op thread, streaming every item to a replay shard
// served in this process on loopback. The limit is the same loop with the
// network call removed (actor.initial_policy = uniform: actions drawn
// without a forward pass), so the ratio is what the policy costs.
//
// Then publish -> use latency: a ParameterStore served by a LearnerService
// on loopback, a ParameterWatcher feeding the loop's PolicyRunner, and the
// time from Publish until the stepping loop first acts with that version.
//
// Prints one JSON object per line:
//   {"bench": "actor_env_steps_per_s", "value": ..., "unit": "steps/s",
//    "limit": ..., "ratio": ...}
//   {"bench": "publish_to_use_p50", "value": ..., "unit": "ms"} (and p99)
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "torch/torch.h"

#include "actor/actor_loop.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/torch/tensor_torch.h"
#include "learner/client/parameter_watcher.h"
#include "learner/learner_service.h"
#include "learner/parameter_store.h"
#include "replay/client/replay_writer.h"
#include "replay/local_shard.h"
#include "replay/table.h"

namespace shoal {
namespace {

constexpr int kNumEnvs = 16;
constexpr int64_t kSteps = 500'000;
constexpr int kLatencySamples = 50;

ExperimentConfig MakeConfig(InitialPolicy initial) {
  ExperimentConfig config;
  config.experiment = "actor-bench";
  config.seed = 1;
  config.env.name = "cartpole";
  config.algorithm.name = AlgorithmKind::kDqn;
  config.algorithm.n_step = 3;
  config.network.hidden = {64, 64};
  TableConfig& table = config.tables[0];
  table.name = "transitions";
  table.max_size = 200000;  // fifo removal keeps memory flat
  table.rate_limiter.min_size_to_sample = 1;
  config.actor.num_envs = kNumEnvs;
  config.actor.inference_threads = 1;
  config.actor.initial_policy = initial;
  return config;
}

void Print(const std::string& bench, double value, const std::string& unit,
           double limit) {
  if (limit > 0) {
    std::printf(
        "{\"bench\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", "
        "\"limit\": %.6g, \"ratio\": %.3f}\n",
        bench.c_str(), value, unit.c_str(), limit, value / limit);
  } else {
    std::printf("{\"bench\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
                bench.c_str(), value, unit.c_str());
  }
  std::fflush(stdout);
}

std::unique_ptr<LocalShard> StartShard(const ExperimentConfig& config) {
  ReplayServerOptions options;
  options.tables = {TableOptionsFromConfig(config.tables[0], 0)};
  return LocalShard::Start(std::move(options)).value();
}

std::unique_ptr<ReplayWriter> MakeWriter(const LocalShard& shard) {
  ReplayWriterOptions options;
  options.addresses = shard.address();
  return ReplayWriter::Create(options).value();
}

// Env steps per second of one loop of kSteps steps.
double StepsPerSecond(InitialPolicy initial) {
  const ExperimentConfig config = MakeConfig(initial);
  std::unique_ptr<LocalShard> shard = StartShard(config);
  std::unique_ptr<ReplayWriter> writer = MakeWriter(*shard);
  ActorLoopOptions options;
  options.writer = writer.get();
  options.max_env_steps = kSteps;
  options.log_every = absl::InfiniteDuration();
  std::unique_ptr<ActorLoop> loop = ActorLoop::Create(config, options).value();
  const absl::Time start = absl::Now();
  absl::Status run = loop->Run();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!run.ok())
    std::fprintf(stderr, "actor_bench: %s\n", run.ToString().c_str());
  (void)writer->Close(absl::Now() + absl::Seconds(10));
  return static_cast<double>(loop->stats().env_steps) / seconds;
}

v1::Parameters Encode(torch::nn::Module& module, int64_t version) {
  v1::Parameters parameters;
  parameters.set_version(version);
  for (const auto& p : module.named_parameters()) {
    v1::NamedTensor* named = parameters.add_tensors();
    named->set_name(p.key());
    (void)FromTorch(p.value().detach(), named->mutable_tensor());
  }
  return parameters;
}

void PublishToUseLatency() {
  const ExperimentConfig config = MakeConfig(InitialPolicy::kRandomWeights);
  std::unique_ptr<LocalShard> shard = StartShard(config);
  std::unique_ptr<ReplayWriter> writer = MakeWriter(*shard);
  std::unique_ptr<ParameterStore> store = ParameterStore::Create({}).value();
  LearnerServiceImpl service(store.get(), /*stats=*/nullptr);
  std::unique_ptr<GrpcServer> server =
      GrpcServer::Start(ServerOptions(), {&service}).value();

  ActorLoopOptions options;
  options.writer = writer.get();
  options.log_every = absl::InfiniteDuration();
  std::unique_ptr<ActorLoop> loop = ActorLoop::Create(config, options).value();
  PolicyRunner* runner = loop->runner();
  ParameterWatcherOptions watch;
  watch.channel.target = server->address();
  std::unique_ptr<ParameterWatcher> watcher =
      ParameterWatcher::Create(watch, [runner](auto params, absl::Time at) {
        runner->OnParameters(std::move(params), at);
      }).value();
  std::thread stepping([&] { (void)loop->Run(); });

  EnvShape shape;
  shape.observation_size = 4;
  shape.num_actions = 2;
  std::shared_ptr<ActorPolicy> policy = MakePolicy(config, shape).value();
  std::vector<double> ms;
  for (int64_t version = 1; version <= kLatencySamples + 1; ++version) {
    const v1::Parameters parameters = Encode(*policy, version);
    const absl::Time start = absl::Now();
    (void)store->Publish(parameters, version);
    while (runner->acting_version() < version &&
           absl::Now() - start < absl::Seconds(10)) {
      absl::SleepFor(absl::Microseconds(50));
    }
    // The first includes connecting; leave it out.
    if (version > 1) {
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  loop->Stop();
  stepping.join();
  watcher->Stop();
  (void)writer->Close(absl::Now() + absl::Seconds(5));
  std::sort(ms.begin(), ms.end());
  Print("publish_to_use_p50", ms[ms.size() / 2], "ms", 0);
  Print("publish_to_use_p99",
        ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * 0.99))],
        "ms", 0);
}

}  // namespace
}  // namespace shoal

int main() {
  (void)shoal::InitLogging("actor_bench", "warn");
  const double limit = shoal::StepsPerSecond(shoal::InitialPolicy::kUniform);
  const double value =
      shoal::StepsPerSecond(shoal::InitialPolicy::kRandomWeights);
  shoal::Print("actor_env_steps_per_s", value, "steps/s", limit);
  shoal::PublishToUseLatency();
  return 0;
}
