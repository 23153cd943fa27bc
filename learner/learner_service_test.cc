// LearnerServiceImpl over real loopback gRPC: parameters out (GetParameters,
// WatchParameters with many, slow and up-to-date watchers) and episode
// reports in, good and bad.
#include "learner/learner_service.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/grpc.h"
#include "gtest/gtest.h"

#include "common/grpc_channel.h"
#include "common/grpc_server.h"

namespace shoal {
namespace {

// Keeps gRPC initialised for the whole binary; otherwise the end of each
// test's last server and channel shuts gRPC down, which can take 10 s.
[[maybe_unused]] const bool kGrpcInitialised = [] {
  grpc_init();
  return true;
}();

using ::testing::HasSubstr;

constexpr int64_t kParamBytes = 5 << 20;  // >= 5 chunks per version

v1::Parameters MakeParameters(int64_t version, int64_t bytes = kParamBytes) {
  v1::Parameters p;
  p.set_version(version);
  v1::NamedTensor* t = p.add_tensors();
  t->set_name("policy.0.weight");
  t->mutable_tensor()->set_dtype(v1::DTYPE_UINT8);
  t->mutable_tensor()->add_shape(bytes);
  std::string data(bytes, '\0');
  for (int64_t i = 0; i < bytes; ++i) {
    data[i] = static_cast<char>((i * 131 + version * 17) & 0xff);
  }
  t->mutable_tensor()->set_data(std::move(data));
  return p;
}

// A learner service on a free loopback port, with a client stub.
class TestLearner {
 public:
  explicit TestLearner(LearnerServiceOptions options = {})
      : stats_(/*window=*/3) {
    store_ = *ParameterStore::Create({});
    service_ =
        std::make_unique<LearnerServiceImpl>(store_.get(), &stats_, options);
    auto server = GrpcServer::Start(ServerOptions(), {service_.get()});
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ChannelOptions channel;
    channel.target = server_->address();
    channel.max_receive_message_bytes = 2 << 20;
    stub_ = v1::LearnerService::NewStub(*MakeChannel(channel));
  }
  ~TestLearner() { server_->Shutdown(absl::Now()); }

  ParameterStore& store() { return *store_; }
  EpisodeStats& stats() { return stats_; }
  LearnerServiceImpl& service() { return *service_; }
  v1::LearnerService::Stub& stub() { return *stub_; }

  void Publish(int64_t version) {
    ASSERT_TRUE(store_->Publish(MakeParameters(version), version * 100).ok());
  }

 private:
  EpisodeStats stats_;
  std::unique_ptr<ParameterStore> store_;
  std::unique_ptr<LearnerServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::LearnerService::Stub> stub_;
};

struct Received {
  int64_t version = 0;
  std::string bytes;
};

// Reads the chunks of one version; an error when the stream ends first or
// the chunks are inconsistent (mixed versions, out of order, wrong size).
absl::StatusOr<Received> ReadVersion(
    grpc::ClientReaderInterface<v1::ParametersChunk>* reader) {
  Received r;
  v1::ParametersChunk chunk;
  for (int i = 0;; ++i) {
    if (!reader->Read(&chunk)) {
      return absl::UnavailableError(absl::StrCat("stream ended at chunk ", i));
    }
    if (i == 0) r.version = chunk.version();
    if (chunk.version() != r.version || chunk.chunk_index() != i ||
        chunk.data().size() > (1u << 20)) {
      return absl::InternalError(absl::StrCat(
          "bad chunk ", chunk.chunk_index(), " of version ", chunk.version(),
          " at position ", i, " of version ", r.version));
    }
    r.bytes += chunk.data();
    if (i + 1 == chunk.num_chunks()) {
      if (static_cast<int64_t>(r.bytes.size()) != chunk.total_bytes()) {
        return absl::InternalError("total_bytes mismatch");
      }
      return r;
    }
  }
}

// Whether a chunk arrives on `reader` within `timeout`; cancels the call.
bool ReceivesAChunkWithin(
    grpc::ClientReaderInterface<v1::ParametersChunk>* reader,
    grpc::ClientContext* context, absl::Duration timeout) {
  std::atomic<bool> received{false};
  std::thread t([&] {
    v1::ParametersChunk chunk;
    if (reader->Read(&chunk)) received = true;
  });
  absl::SleepFor(timeout);
  context->TryCancel();
  t.join();
  return received.load();
}

// Checks that `r` is exactly MakeParameters(r.version).
void ExpectIntact(const Received& r) {
  v1::Parameters parsed;
  ASSERT_TRUE(parsed.ParseFromString(r.bytes));
  EXPECT_EQ(parsed.version(), r.version);
  EXPECT_TRUE(r.bytes == MakeParameters(r.version).SerializeAsString())
      << "version " << r.version << " differs";
}

TEST(LearnerServiceTest, GetParametersIsNotFoundBeforeTheFirstPublish) {
  TestLearner learner;
  grpc::ClientContext context;
  auto reader = learner.stub().GetParameters(&context, {});
  v1::ParametersChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("no parameters"));
}

TEST(LearnerServiceTest, GetParametersSendsTheNewestVersion) {
  TestLearner learner;
  for (int64_t v = 1; v <= 3; ++v) learner.Publish(v);
  grpc::ClientContext context;
  auto reader = learner.stub().GetParameters(&context, {});
  absl::StatusOr<Received> r = ReadVersion(reader.get());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version, 3);
  ExpectIntact(*r);
  v1::ParametersChunk extra;
  EXPECT_FALSE(reader->Read(&extra));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST(LearnerServiceTest, WatcherWithNoVersionGetsTheNewest) {
  TestLearner learner;
  for (int64_t v = 1; v <= 3; ++v) learner.Publish(v);
  grpc::ClientContext context;
  v1::WatchParametersRequest request;
  request.set_have_version(0);
  auto reader = learner.stub().WatchParameters(&context, request);
  absl::StatusOr<Received> r = ReadVersion(reader.get());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version, 3);
  ExpectIntact(*r);
  EXPECT_EQ(learner.store().serializations(), 3);
  context.TryCancel();
}

TEST(LearnerServiceTest, UpToDateWatcherGetsNothingUntilTheNextPublish) {
  TestLearner learner;
  for (int64_t v = 1; v <= 3; ++v) learner.Publish(v);
  grpc::ClientContext context;
  v1::WatchParametersRequest request;
  request.set_have_version(3);
  auto reader = learner.stub().WatchParameters(&context, request);
  std::atomic<bool> got{false};
  absl::StatusOr<Received> r;
  std::thread t([&] {
    r = ReadVersion(reader.get());
    got = true;
  });
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(got.load()) << "sent a version the watcher already had";
  learner.Publish(4);
  t.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version, 4);
  ExpectIntact(*r);
  context.TryCancel();
}

// A watcher that stops reading while three versions are published back to
// back: the version already started is finished, versions published during
// it may be skipped, and the newest follows. No version comes twice and no
// version's chunks mix with another's. (Whether version 3 is skipped
// depends on how far gRPC's flow control lets version 2 run ahead.)
TEST(LearnerServiceTest, SlowWatcherGetsOnlyTheNewestWithoutRepeatsOrMixing) {
  TestLearner learner;
  std::vector<v1::Parameters> next;
  for (int64_t v = 2; v <= 4; ++v) next.push_back(MakeParameters(v));
  grpc::ClientContext context;
  auto reader = learner.stub().WatchParameters(&context, {});
  learner.Publish(1);
  absl::StatusOr<Received> first = ReadVersion(reader.get());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->version, 1);

  for (const v1::Parameters& p : next) {
    ASSERT_TRUE(learner.store().Publish(p, /*learner_step=*/0).ok());
  }
  absl::SleepFor(absl::Milliseconds(300));  // slow: not reading
  std::vector<int64_t> versions = {first->version};
  while (versions.back() != 4) {
    absl::StatusOr<Received> r = ReadVersion(reader.get());
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectIntact(*r);
    ASSERT_GT(r->version, versions.back()) << "repeated or went back";
    versions.push_back(r->version);
  }
  std::printf("slow watcher received versions %s\n",
              absl::StrJoin(versions, ", ").c_str());
  EXPECT_FALSE(
      ReceivesAChunkWithin(reader.get(), &context, absl::Milliseconds(300)));
}

// A watcher that was away while versions 2, 3 and 4 were published comes
// back with version 1 and gets only version 4, once.
TEST(LearnerServiceTest, WatcherThatMissedVersionsGetsOnlyTheNewest) {
  TestLearner learner;
  for (int64_t v = 1; v <= 4; ++v) learner.Publish(v);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(1));
  v1::WatchParametersRequest request;
  request.set_have_version(1);
  auto reader = learner.stub().WatchParameters(&context, request);
  absl::StatusOr<Received> r = ReadVersion(reader.get());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version, 4);
  ExpectIntact(*r);
  v1::ParametersChunk extra;
  EXPECT_FALSE(reader->Read(&extra));  // until the deadline: no repeat
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

// Sixteen watchers open at once. Each gets the newest version, then the
// next publish, byte for byte the same as every other watcher, while the
// store serialises each version once.
TEST(LearnerServiceTest, SixteenWatchersGetIdenticalBytes) {
  constexpr int kWatchers = 16;
  TestLearner learner;
  for (int64_t v = 1; v <= 3; ++v) learner.Publish(v);
  std::vector<std::vector<Received>> got(kWatchers);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::atomic<int> have_first{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    threads.emplace_back([&, i] {
      auto reader = learner.stub().WatchParameters(contexts[i].get(), {});
      for (int k = 0; k < 2; ++k) {
        absl::StatusOr<Received> r = ReadVersion(reader.get());
        ASSERT_TRUE(r.ok()) << r.status();
        got[i].push_back(*std::move(r));
        if (k == 0) ++have_first;
      }
    });
  }
  while (have_first.load() < kWatchers) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(learner.service().open_watchers(), kWatchers);
  learner.Publish(4);
  for (std::thread& t : threads) t.join();

  const std::string v3 = MakeParameters(3).SerializeAsString();
  const std::string v4 = MakeParameters(4).SerializeAsString();
  for (int i = 0; i < kWatchers; ++i) {
    ASSERT_EQ(got[i].size(), 2u);
    EXPECT_EQ(got[i][0].version, 3);
    EXPECT_EQ(got[i][1].version, 4);
    EXPECT_TRUE(got[i][0].bytes == v3) << "watcher " << i;
    EXPECT_TRUE(got[i][1].bytes == v4) << "watcher " << i;
  }
  EXPECT_EQ(learner.store().serializations(), 4);
  for (auto& c : contexts) c->TryCancel();
}

TEST(LearnerServiceTest, CancelledWatchersAreReleased) {
  TestLearner learner;
  {
    grpc::ClientContext context;
    auto reader = learner.stub().WatchParameters(&context, {});
    learner.Publish(1);
    ASSERT_TRUE(ReadVersion(reader.get()).ok());
    EXPECT_EQ(learner.store().num_listeners(), 1);
    context.TryCancel();
    reader->Finish().IgnoreError();
  }
  for (int i = 0; i < 200 && learner.service().open_watchers() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(learner.service().open_watchers(), 0);
  EXPECT_EQ(learner.store().num_listeners(), 0);
  learner.Publish(2);  // no listener left to call
}

v1::Episode MakeEpisode(int32_t actor, double ret, int64_t env_steps,
                        bool eval = false) {
  v1::Episode e;
  e.set_actor_index(actor);
  e.set_episode_return(ret);
  e.set_length(10);
  e.set_actor_env_steps(env_steps);
  e.set_eval(eval);
  return e;
}

TEST(LearnerServiceTest, ReportEpisodesRecordsGoodBatches) {
  TestLearner learner;
  learner.Publish(1);
  v1::ReportEpisodesRequest request;
  *request.add_episodes() = MakeEpisode(0, 1.0, /*env_steps=*/100);
  *request.add_episodes() = MakeEpisode(0, 2.0, /*env_steps=*/250);
  *request.add_episodes() = MakeEpisode(1, 3.0, /*env_steps=*/50);
  *request.add_episodes() = MakeEpisode(1, 4.0, /*env_steps=*/60);
  *request.add_episodes() = MakeEpisode(2, 100.0, /*env_steps=*/7,
                                        /*eval=*/true);
  grpc::ClientContext context;
  v1::ReportEpisodesResponse response;
  ASSERT_TRUE(learner.stub().ReportEpisodes(&context, request, &response).ok());
  EXPECT_EQ(response.latest_version(), 1);

  EpisodeStatsSnapshot s = learner.stats().Snapshot();
  EXPECT_EQ(s.total_episodes, 5);
  EXPECT_EQ(s.train.episodes, 4);
  EXPECT_EQ(s.train.window_episodes, 3);       // window is 3
  EXPECT_DOUBLE_EQ(s.train.mean_return, 3.0);  // (2 + 3 + 4) / 3
  EXPECT_EQ(s.eval.episodes, 1);
  EXPECT_DOUBLE_EQ(s.eval.mean_return, 100.0);
  EXPECT_EQ(s.actors[0].episodes, 2);
  EXPECT_EQ(s.actors[0].env_steps, 250);
  EXPECT_EQ(s.total_env_steps, 250 + 60 + 7);
}

TEST(LearnerServiceTest, ReportEpisodesRejectsABadEpisodeNamingTheField) {
  struct Case {
    v1::Episode episode;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({MakeEpisode(0, std::nan(""), 1), "episode_return"});
  cases.push_back({MakeEpisode(0, std::numeric_limits<double>::infinity(), 1),
                   "episode_return"});
  cases.push_back({MakeEpisode(-1, 1.0, 1), "actor_index"});
  cases.back().field = "episodes[1].actor_index";
  cases.push_back({MakeEpisode(0, 1.0, 1), "length"});
  cases.back().episode.set_length(-5);
  cases.push_back({MakeEpisode(0, 1.0, -3), "actor_env_steps"});
  cases.push_back({MakeEpisode(0, 1.0, 1),
                   "episodes[1].length: must be in "
                   "[1, 281474976710656], got 0"});
  cases.back().episode.set_length(0);
  cases.push_back({MakeEpisode(0, 1.0, 1), "length"});
  cases.back().episode.set_length(kMaxEpisodeSteps + 1);
  cases.push_back(
      {MakeEpisode(65536, 1.0, 1),
       "episodes[1].actor_index: must be in [0, 65535], got 65536"});
  cases.push_back({MakeEpisode(0, 1.0, 1), "env_id"});
  cases.back().episode.set_env_id(65536);
  cases.push_back({MakeEpisode(0, 1.0, std::numeric_limits<int64_t>::max()),
                   "actor_env_steps"});

  TestLearner learner;
  for (const Case& c : cases) {
    v1::ReportEpisodesRequest request;
    *request.add_episodes() = MakeEpisode(3, 1.0, 10);  // good, same batch
    *request.add_episodes() = c.episode;
    grpc::ClientContext context;
    v1::ReportEpisodesResponse response;
    grpc::Status status =
        learner.stub().ReportEpisodes(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
  }
  EXPECT_EQ(learner.stats().Snapshot().total_episodes, 0);  // none recorded
}

// Reports `request`; the call's status.
grpc::Status Report(TestLearner& learner,
                    const v1::ReportEpisodesRequest& request) {
  grpc::ClientContext context;
  v1::ReportEpisodesResponse response;
  return learner.stub().ReportEpisodes(&context, request, &response);
}

TEST(LearnerServiceTest, ReportEpisodesRefusesTooManyEpisodesInOneRequest) {
  TestLearner learner;
  v1::ReportEpisodesRequest request;
  for (int i = 0; i < kMaxEpisodesPerReport; ++i) {
    *request.add_episodes() = MakeEpisode(i, 1.0, 10);
  }
  ASSERT_TRUE(Report(learner, request).ok());
  *request.add_episodes() = MakeEpisode(0, 1.0, 10);
  grpc::Status status = Report(learner, request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "episodes: 4097 episodes in one request, at most 4096");
  EXPECT_EQ(learner.stats().Snapshot().total_episodes, kMaxEpisodesPerReport);
}

// The attack: a million zero-length episodes in one message (4 MB,
// under the server's 4 MiB limit) dragged the train-return mean to 0.
TEST(LearnerServiceTest, AMillionZeroLengthEpisodesAreNotRecorded) {
  TestLearner learner;
  v1::ReportEpisodesRequest good;
  *good.add_episodes() = MakeEpisode(0, 7.0, 10);
  ASSERT_TRUE(Report(learner, good).ok());
  v1::ReportEpisodesRequest bad;
  v1::Episode zero;
  zero.set_actor_index(1);
  for (int i = 0; i < 1000000; ++i) *bad.add_episodes() = zero;
  grpc::Status status = Report(learner, bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("episodes: 1000000 episodes"));
  bad.mutable_episodes()->DeleteSubrange(2, bad.episodes_size() - 2);
  status = Report(learner, bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("episodes[0].length"));
  const EpisodeStatsSnapshot s = learner.stats().Snapshot();
  EXPECT_EQ(s.total_episodes, 1);
  EXPECT_DOUBLE_EQ(s.train.mean_return, 7.0);
}

// Every valid actor index, 4096 per request: the stats keep at most their
// default 4096 actors.
TEST(LearnerServiceTest, ManyDistinctActorIndicesKeepTheStatsBounded) {
  TestLearner learner;
  for (int first = 0; first <= kMaxActorIndex; first += kMaxEpisodesPerReport) {
    v1::ReportEpisodesRequest request;
    for (int i = first; i < first + kMaxEpisodesPerReport; ++i) {
      *request.add_episodes() = MakeEpisode(i, 1.0, 10);
    }
    ASSERT_TRUE(Report(learner, request).ok());
  }
  const EpisodeStatsSnapshot s = learner.stats().Snapshot();
  EXPECT_EQ(s.total_episodes, kMaxActorIndex + 1);
  EXPECT_EQ(s.actors.size(), size_t{EpisodeStats::kDefaultMaxActors});
  EXPECT_EQ(s.evicted_actors,
            kMaxActorIndex + 1 - EpisodeStats::kDefaultMaxActors);
}

// 36,864 actors each reporting the largest step count: their sum (2^63.2)
// would overflow int64; it stops at INT64_MAX.
TEST(LearnerServiceTest, HugeStepCountsSaturateTheTotal) {
  TestLearner learner;
  for (int r = 0; r < 9; ++r) {
    v1::ReportEpisodesRequest request;
    for (int i = 0; i < kMaxEpisodesPerReport; ++i) {
      v1::Episode* e = request.add_episodes();
      *e = MakeEpisode(r * kMaxEpisodesPerReport + i, 1.0, kMaxEpisodeSteps);
      e->set_length(kMaxEpisodeSteps);
    }
    ASSERT_TRUE(Report(learner, request).ok());
  }
  EXPECT_EQ(learner.stats().Snapshot().total_env_steps,
            std::numeric_limits<int64_t>::max());
}

TEST(LearnerServiceTest, WatchersBeyondTheLimitAreRefused) {
  LearnerServiceOptions options;
  options.max_watchers = 2;
  TestLearner learner(options);
  learner.Publish(1);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReaderInterface<v1::ParametersChunk>>>
      readers;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(
        learner.stub().WatchParameters(contexts.back().get(), {}));
    ASSERT_TRUE(ReadVersion(readers.back().get()).ok());
  }
  {
    grpc::ClientContext context;
    auto reader = learner.stub().WatchParameters(&context, {});
    v1::ParametersChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(status.error_message(),
              "WatchParameters: 2 streams open, at most 2");
  }
  EXPECT_EQ(learner.service().open_watchers(), 2);
  contexts[0]->TryCancel();
  readers[0]->Finish().IgnoreError();
  for (int i = 0; i < 200 && learner.service().open_watchers() > 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  grpc::ClientContext context;
  auto reader = learner.stub().WatchParameters(&context, {});
  EXPECT_TRUE(ReadVersion(reader.get()).ok());  // room again
  context.TryCancel();
  reader->Finish().IgnoreError();
  contexts[1]->TryCancel();
  readers[1]->Finish().IgnoreError();
}

}  // namespace
}  // namespace shoal
