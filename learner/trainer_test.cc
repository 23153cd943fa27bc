#include "learner/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/learner.grpc.pb.h"

#include "common/grpc_server.h"
#include "common/testing/test_util.h"
#include "learner/learner_service.h"
#include "learner/learner_testing.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;
using testing::CartPoleDqnConfig;
using testing::CartPoleTransitions;
using testing::StartShardWithItems;

EnvShape CartPoleShape() {
  EnvShape shape;
  shape.observation_size = 4;
  shape.discrete = true;
  shape.num_actions = 2;
  return shape;
}

// Everything a trainer talks to: a replay shard holding cartpole
// transitions, the sampler and pipeline over it, and a learner service on
// loopback whose store records every version published.
struct Rig {
  ExperimentConfig config;
  std::unique_ptr<LocalShard> shard;
  std::unique_ptr<ShardedSampler> sampler;
  std::unique_ptr<BatchPipeline> pipeline;
  std::unique_ptr<ParameterStore> store;
  std::unique_ptr<EpisodeStats> episodes;
  std::unique_ptr<LearnerServiceImpl> service;
  std::unique_ptr<GrpcServer> server;
  absl::Mutex mu;
  std::vector<int64_t> published ABSL_GUARDED_BY(mu);

  ~Rig() {
    if (server != nullptr) server->Shutdown(absl::Now());
    pipeline.reset();
  }
};

std::unique_ptr<Rig> MakeRig(const ExperimentConfig& config,
                             const std::vector<v1::Item>& items) {
  auto rig = std::make_unique<Rig>();
  rig->config = config;
  rig->shard = StartShardWithItems(config, items).value();
  ShardedSamplerOptions sampler_options;
  sampler_options.addresses = rig->shard->address();
  sampler_options.table = config.learner.table;
  sampler_options.seed = 3;
  rig->sampler = ShardedSampler::Create(sampler_options).value();
  BatchPipelineOptions options;
  options.table = config.learner.table;
  options.batch_size = static_cast<int>(config.algorithm.batch_size);
  options.prefetch_batches = static_cast<int>(config.learner.prefetch_batches);
  options.columns = LearnerColumns(config, CartPoleShape()).value();
  rig->pipeline = BatchPipeline::Create(rig->sampler.get(), options).value();
  rig->store = ParameterStore::Create({}).value();
  Rig* raw = rig.get();
  rig->store->Subscribe([raw] {
    const int64_t version = raw->store->latest_version();
    absl::MutexLock lock(&raw->mu);
    raw->published.push_back(version);
  });
  rig->episodes = std::make_unique<EpisodeStats>(/*window=*/100);
  rig->service = std::make_unique<LearnerServiceImpl>(rig->store.get(),
                                                      rig->episodes.get());
  ServerOptions server_options;
  server_options.address = "127.0.0.1:0";
  rig->server = GrpcServer::Start(server_options, {rig->service.get()}).value();
  return rig;
}

std::unique_ptr<Algorithm> MakeDqn(const ExperimentConfig& config) {
  return MakeAlgorithm(config, CartPoleShape(), torch::kCPU).value();
}

// GetParameters over gRPC: the version, learner step and tensor names.
struct Fetched {
  int64_t version = 0;
  int64_t learner_step = 0;
  std::vector<std::string> names;
};

absl::StatusOr<Fetched> FetchParameters(const std::string& address) {
  auto stub = v1::LearnerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto reader = stub->GetParameters(&context, v1::GetParametersRequest());
  v1::ParametersChunk chunk;
  std::string data;
  Fetched fetched;
  while (reader->Read(&chunk)) {
    data += chunk.data();
    fetched.version = chunk.version();
    fetched.learner_step = chunk.learner_step();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return absl::UnknownError(status.error_message());
  v1::Parameters parameters;
  if (!parameters.ParseFromString(data)) {
    return absl::DataLossError("unparsable parameters");
  }
  if (parameters.version() != fetched.version) {
    return absl::DataLossError("chunk and message versions differ");
  }
  for (const v1::NamedTensor& t : parameters.tensors()) {
    fetched.names.push_back(t.name());
  }
  return fetched;
}

TEST(TrainerTest, TrainsPublishesCheckpointsAndResumesWhereItStopped) {
  ExperimentConfig config = CartPoleDqnConfig();
  config.learner.publish_every_steps = 50;
  std::unique_ptr<Rig> rig =
      MakeRig(config, CartPoleTransitions(/*n=*/2000, /*seed=*/5,
                                          /*policy_version=*/1));
  const std::string dir = MakeTempDir("trainer").value();
  auto checkpointer = LearnerCheckpointer::Create({dir + "/ckpt", 2}).value();

  TrainerOptions options;
  options.max_steps = 200;
  options.publish_every_steps = config.learner.publish_every_steps;
  options.logdir = dir + "/logs";
  options.log_every = absl::Seconds(1);
  auto trainer = Trainer::Create(options, MakeDqn(config), rig->pipeline.get(),
                                 rig->store.get(), rig->episodes.get(),
                                 checkpointer.get(), /*version=*/0);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Publish().ok());
  absl::Status run = (*trainer)->Run();
  ASSERT_TRUE(run.ok()) << run;
  EXPECT_EQ((*trainer)->step(), 200);
  EXPECT_EQ((*trainer)->version(), 5);  // initial + steps 50, 100, 150, 200
  {
    absl::MutexLock lock(&rig->mu);
    EXPECT_THAT(rig->published, ::testing::ElementsAre(1, 2, 3, 4, 5));
  }
  absl::StatusOr<Fetched> fetched = FetchParameters(rig->server->address());
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->version, 5);
  EXPECT_EQ(fetched->learner_step, 200);
  std::vector<std::string> want;
  for (const auto& p : (*trainer)->algorithm().policy().named_parameters()) {
    want.push_back(p.key());
  }
  for (const auto& b : (*trainer)->algorithm().policy().named_buffers()) {
    want.push_back(b.key());
  }
  EXPECT_EQ(fetched->names, want);
  // Items were made by version 1; steps 151..200 train under version 4
  // (version 5 is published after step 200), so the lag peaks at 3.
  EXPECT_EQ((*trainer)->stats().max_policy_lag, 3);
  EXPECT_TRUE(fs::exists(dir + "/ckpt/ckpt-00000000000000000200/DONE"));
  EXPECT_TRUE(fs::exists(dir + "/logs/scalars.csv"));
  EXPECT_GT(fs::file_size(dir + "/logs/scalars.csv"), 100u);

  const TrainerStats& stats = (*trainer)->stats();
  std::printf(
      "{\"bench\": \"trainer_pipeline\", \"algorithm\": \"dqn\", "
      "\"batch_size\": %lld, \"steps\": %lld, \"updates_per_s\": %.1f, "
      "\"data_wait_fraction\": %.4f}\n",
      static_cast<long long>(config.algorithm.batch_size),
      static_cast<long long>(stats.steps), stats.updates_per_second,
      stats.data_wait_fraction);

  // A new trainer resumes from the checkpoint: step and version go on.
  trainer->reset();
  std::unique_ptr<Algorithm> resumed;
  auto restored = checkpointer->Restore(
      [&]() -> absl::StatusOr<std::unique_ptr<Algorithm>> {
        return MakeAlgorithm(config, CartPoleShape(), torch::kCPU);
      },
      &resumed);
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_TRUE(restored->has_value());
  EXPECT_EQ((*restored)->step, 200);
  EXPECT_EQ((*restored)->version, 5);
  options.max_steps = 250;
  auto second = Trainer::Create(
      options, std::move(resumed), rig->pipeline.get(), rig->store.get(),
      rig->episodes.get(), checkpointer.get(), (*restored)->version);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->step(), 200);
  ASSERT_TRUE((*second)->Publish().ok());
  EXPECT_EQ((*second)->version(), 6);
  ASSERT_TRUE((*second)->Run().ok());
  EXPECT_EQ((*second)->step(), 250);
  EXPECT_EQ((*second)->version(), 7);  // step 250
  EXPECT_EQ(FetchParameters(rig->server->address())->version, 7);
  EXPECT_TRUE(fs::exists(dir + "/ckpt/ckpt-00000000000000000250/DONE"));
}

TEST(TrainerTest, ANanLossStopsTrainingWithoutPublishing) {
  ExperimentConfig config = CartPoleDqnConfig();
  config.tables[0].signature[2].allow_nonfinite = true;  // reward
  std::vector<v1::Item> items = CartPoleTransitions(200, 6);
  for (v1::Item& item : items) {
    *item.mutable_columns(2) = testing::FloatTensor({std::nanf("")}, {});
  }
  std::unique_ptr<Rig> rig = MakeRig(config, items);
  TrainerOptions options;
  options.max_steps = 100;
  options.publish_every_steps = 1;
  auto trainer = Trainer::Create(options, MakeDqn(config), rig->pipeline.get(),
                                 rig->store.get(), nullptr, nullptr, 0);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Publish().ok());
  absl::Status run = (*trainer)->Run();
  EXPECT_EQ(run.code(), absl::StatusCode::kInternal) << run;
  EXPECT_EQ((*trainer)->step(), 0);
  EXPECT_EQ(rig->store->latest_version(), 1);
}

TEST(TrainerTest, StopEndsRunWhileReplayIsEmpty) {
  std::unique_ptr<Rig> rig = MakeRig(CartPoleDqnConfig(), {});
  auto trainer =
      Trainer::Create(TrainerOptions(), MakeDqn(CartPoleDqnConfig()),
                      rig->pipeline.get(), rig->store.get(), nullptr, nullptr,
                      /*version=*/0);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(300));
    (*trainer)->Stop();
  });
  EXPECT_TRUE((*trainer)->Run().ok());
  stopper.join();
  EXPECT_EQ((*trainer)->step(), 0);
  // Run publishes the (unpublished) initial weights on the way out.
  EXPECT_EQ((*trainer)->version(), 1);
}

}  // namespace
}  // namespace shoal
