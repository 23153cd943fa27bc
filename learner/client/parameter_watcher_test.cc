// ParameterWatcher against a fake learner over real loopback gRPC (the
// client does not link the learner): versions arrive, malformed chunk sequences
// are dropped and the stream restarted, a learner that is down at start or
// restarts is picked up, and a publish reaches the callback quickly.
#include "learner/client/parameter_watcher.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "gtest/gtest.h"

#include "common/grpc_server.h"

namespace shoal {
namespace {

// Keeps gRPC initialised for the whole binary; otherwise the end of each
// test's last server and channel shuts gRPC down, which can take 10 s.
[[maybe_unused]] const bool kGrpcInitialised = [] {
  grpc_init();
  return true;
}();

constexpr int64_t kChunkBytes = 1 << 20;

v1::Parameters MakeParameters(int64_t version, int64_t bytes) {
  v1::Parameters p;
  p.set_version(version);
  v1::NamedTensor* t = p.add_tensors();
  t->set_name("policy.0.weight");
  t->mutable_tensor()->set_dtype(v1::DTYPE_UINT8);
  t->mutable_tensor()->add_shape(bytes);
  t->mutable_tensor()->set_data(std::string(bytes, static_cast<char>(version)));
  return p;
}

// When the fake learner says it published `version`.
int64_t PublishedUnixMs(int64_t version) { return 1'700'000'000'000 + version; }

// The chunks of `p`, as the learner cuts them.
std::vector<v1::ParametersChunk> Cut(const v1::Parameters& p) {
  const std::string bytes = p.SerializeAsString();
  const int64_t total = static_cast<int64_t>(bytes.size());
  const int n = static_cast<int>(
      std::max<int64_t>(1, (total + kChunkBytes - 1) / kChunkBytes));
  std::vector<v1::ParametersChunk> chunks(n);
  for (int i = 0; i < n; ++i) {
    chunks[i].set_version(p.version());
    chunks[i].set_chunk_index(i);
    chunks[i].set_num_chunks(n);
    chunks[i].set_total_bytes(total);
    chunks[i].set_published_unix_ms(PublishedUnixMs(p.version()));
    chunks[i].set_data(bytes.substr(i * kChunkBytes, kChunkBytes));
  }
  return chunks;
}

// A LearnerService with only WatchParameters: each stream sends the newest
// chunk list whose version is above what it sent. Sync API: a test fake.
class FakeLearner final : public v1::LearnerService::Service {
 public:
  // Publishes `chunks` as version `version` (they may be malformed).
  void PublishChunks(int64_t version, std::vector<v1::ParametersChunk> chunks) {
    absl::MutexLock lock(&mu_);
    version_ = version;
    chunks_ = std::make_shared<const std::vector<v1::ParametersChunk>>(
        std::move(chunks));
  }
  void Publish(int64_t version, int64_t bytes = 1000) {
    PublishChunks(version, Cut(MakeParameters(version, bytes)));
  }

  grpc::Status WatchParameters(
      grpc::ServerContext* context, const v1::WatchParametersRequest* request,
      grpc::ServerWriter<v1::ParametersChunk>* writer) override {
    int64_t sent = request->have_version();
    while (!context->IsCancelled()) {
      std::shared_ptr<const std::vector<v1::ParametersChunk>> chunks;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [&] {
          mu_.AssertHeld();  // Await calls it with mu_ held
          return version_ > sent;
        };
        mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(20));
        if (version_ > sent) chunks = chunks_;
        sent = version_;
      }
      if (chunks == nullptr) continue;
      for (const v1::ParametersChunk& c : *chunks) {
        if (!writer->Write(c)) return grpc::Status::CANCELLED;
      }
    }
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const std::vector<v1::ParametersChunk>> chunks_
      ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<GrpcServer> StartServer(FakeLearner* learner,
                                        const std::string& address) {
  ServerOptions options;
  options.address = address;
  auto server = GrpcServer::Start(options, {learner});
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// Records what the callback got.
class Received {
 public:
  ParameterWatcher::Callback Callback() {
    return
        [this](std::shared_ptr<const v1::Parameters> p, absl::Time published) {
          absl::MutexLock lock(&mu_);
          versions_.push_back(p->version());
          times_.push_back(absl::Now());
          published_.push_back(published);
        };
  }
  // Waits until version `v` arrived; false after `timeout`.
  bool WaitFor(int64_t v, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto got = [&] {
      mu_.AssertHeld();  // Await calls it with mu_ held
      return std::find(versions_.begin(), versions_.end(), v) !=
             versions_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&got), timeout);
  }
  std::vector<int64_t> versions() {
    absl::MutexLock lock(&mu_);
    return versions_;
  }
  absl::Time time_of_last() {
    absl::MutexLock lock(&mu_);
    return times_.back();
  }
  std::vector<absl::Time> published() {
    absl::MutexLock lock(&mu_);
    return published_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int64_t> versions_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> times_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> published_ ABSL_GUARDED_BY(mu_);
};

ParameterWatcherOptions MakeOptions(const std::string& address) {
  ParameterWatcherOptions options;
  options.channel.target = address;
  options.channel.min_reconnect_backoff = absl::Milliseconds(50);
  options.channel.max_reconnect_backoff = absl::Milliseconds(200);
  options.backoff.initial_delay = absl::Milliseconds(20);
  options.backoff.max_delay = absl::Milliseconds(200);
  return options;
}

// A free loopback port: bound by a server that is shut down at once.
std::string FreeAddress() {
  FakeLearner unused;
  std::unique_ptr<GrpcServer> server = StartServer(&unused, "127.0.0.1:0");
  const std::string address = server->address();
  server->Shutdown(absl::Now());
  return address;
}

TEST(ParameterWatcherTest, ReceivesVersionsPublishedAfterItConnects) {
  FakeLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner, "127.0.0.1:0");
  Received received;
  auto watcher = ParameterWatcher::Create(MakeOptions(server->address()),
                                          received.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  absl::SleepFor(absl::Milliseconds(100));
  learner.Publish(1, /*bytes=*/5 << 20);  // 6 chunks
  ASSERT_TRUE(received.WaitFor(1));
  learner.Publish(2, /*bytes=*/5 << 20);
  ASSERT_TRUE(received.WaitFor(2));
  EXPECT_EQ((*watcher)->latest_version(), 2);
  // Each version comes with the time its chunks say it was published.
  EXPECT_EQ(
      received.published(),
      (std::vector<absl::Time>{absl::FromUnixMillis(PublishedUnixMs(1)),
                               absl::FromUnixMillis(PublishedUnixMs(2))}));
  ParameterWatcherStats stats = (*watcher)->stats();
  EXPECT_EQ(stats.versions_received, 2);
  EXPECT_EQ(stats.malformed, 0);
  EXPECT_EQ(stats.reconnects, 0);
}

TEST(ParameterWatcherTest, RejectsBadOptions) {
  ParameterWatcherOptions options = MakeOptions("127.0.0.1:1");
  options.have_version = -1;
  EXPECT_EQ(
      ParameterWatcher::Create(options, [](auto, auto) {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParameterWatcher::Create(MakeOptions("127.0.0.1:1"), nullptr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// Each malformed sequence is dropped with a count and the stream restarted;
// the good version published afterwards still arrives.
TEST(ParameterWatcherTest, DropsMalformedChunkSequencesAndRestarts) {
  std::vector<std::vector<v1::ParametersChunk>> bad;
  std::vector<v1::ParametersChunk> good = Cut(MakeParameters(1, 3 << 20));
  ASSERT_EQ(good.size(), 4u);
  {  // out of order
    auto c = good;
    std::swap(c[1], c[2]);
    bad.push_back(c);
  }
  {  // a chunk of another version in the middle
    auto c = good;
    c[2].set_version(7);
    bad.push_back(c);
  }
  {  // total_bytes disagrees with the data
    auto c = good;
    for (auto& chunk : c) chunk.set_total_bytes(chunk.total_bytes() + 1);
    bad.push_back(c);
  }
  {  // does not start at chunk 0
    bad.push_back({good.begin() + 1, good.end()});
  }
  {  // complete, but not a Parameters message
    v1::ParametersChunk c;
    c.set_version(1);
    c.set_num_chunks(1);
    c.set_total_bytes(3);
    c.set_data("\xff\xff\xff");
    bad.push_back({c});
  }

  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("case ", i));
    FakeLearner learner;
    std::unique_ptr<GrpcServer> server = StartServer(&learner, "127.0.0.1:0");
    Received received;
    auto watcher = ParameterWatcher::Create(MakeOptions(server->address()),
                                            received.Callback());
    ASSERT_TRUE(watcher.ok());
    learner.PublishChunks(1, bad[i]);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while ((*watcher)->stats().malformed == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_GE((*watcher)->stats().malformed, 1);
    learner.Publish(2);
    ASSERT_TRUE(received.WaitFor(2));
    EXPECT_EQ(received.versions(), std::vector<int64_t>{2});
    if (i + 1 < bad.size()) {  // chunk errors restart the stream
      EXPECT_GE((*watcher)->stats().reconnects, 1);
    }
  }
}

TEST(ParameterWatcherTest, KeepsRetryingUntilTheLearnerComesUp) {
  const std::string address = FreeAddress();
  Received received;
  const absl::Time start = absl::Now();
  auto watcher =
      ParameterWatcher::Create(MakeOptions(address), received.Callback());
  ASSERT_TRUE(watcher.ok());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));  // did not block
  absl::SleepFor(absl::Seconds(1));
  EXPECT_GE((*watcher)->stats().reconnects, 2);
  EXPECT_EQ((*watcher)->latest_version(), 0);

  FakeLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner, address);
  ASSERT_NE(server, nullptr);
  learner.Publish(1);
  EXPECT_TRUE(received.WaitFor(1));
}

TEST(ParameterWatcherTest, ReconnectsAfterTheLearnerRestarts) {
  FakeLearner learner;
  FakeLearner restarted;  // the same learner after a restart, at version 1
  std::unique_ptr<GrpcServer> server = StartServer(&learner, "127.0.0.1:0");
  const std::string address = server->address();
  Received received;
  auto watcher =
      ParameterWatcher::Create(MakeOptions(address), received.Callback());
  ASSERT_TRUE(watcher.ok());
  learner.Publish(1);
  ASSERT_TRUE(received.WaitFor(1));

  server->Shutdown(absl::Now());
  server.reset();
  absl::SleepFor(absl::Milliseconds(300));
  restarted.Publish(1);
  server = StartServer(&restarted, address);
  ASSERT_NE(server, nullptr);
  absl::SleepFor(absl::Milliseconds(300));
  restarted.Publish(2);
  ASSERT_TRUE(received.WaitFor(2));
  // Version 1 was not sent again: the watcher asked for more than 1.
  EXPECT_EQ(received.versions(), (std::vector<int64_t>{1, 2}));
  EXPECT_GE((*watcher)->stats().reconnects, 1);
}

// Publish-to-callback latency over 50 publishes of 64 KiB; the median
// must be under 100 ms (it is printed).
TEST(ParameterWatcherTest, PublishReachesTheCallbackWithin100Milliseconds) {
  FakeLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner, "127.0.0.1:0");
  Received received;
  auto watcher = ParameterWatcher::Create(MakeOptions(server->address()),
                                          received.Callback());
  ASSERT_TRUE(watcher.ok());
  learner.Publish(1);
  ASSERT_TRUE(received.WaitFor(1));
  std::vector<absl::Duration> latencies;
  for (int64_t v = 2; v <= 51; ++v) {
    const absl::Time published = absl::Now();
    learner.Publish(v, /*bytes=*/64 << 10);
    ASSERT_TRUE(received.WaitFor(v));
    latencies.push_back(received.time_of_last() - published);
  }
  std::sort(latencies.begin(), latencies.end());
  const absl::Duration p50 = latencies[latencies.size() / 2];
  const absl::Duration p90 = latencies[latencies.size() * 9 / 10];
  std::printf(
      "publish -> callback latency over %zu publishes: p50 %s, p90 %s\n",
      latencies.size(), absl::FormatDuration(p50).c_str(),
      absl::FormatDuration(p90).c_str());
  EXPECT_LT(p50, absl::Milliseconds(100));
}

TEST(ParameterWatcherTest, StopEndsTheStreamAndTheCallbacks) {
  FakeLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner, "127.0.0.1:0");
  Received received;
  auto watcher = ParameterWatcher::Create(MakeOptions(server->address()),
                                          received.Callback());
  ASSERT_TRUE(watcher.ok());
  learner.Publish(1);
  ASSERT_TRUE(received.WaitFor(1));
  (*watcher)->Stop();
  learner.Publish(2);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(received.versions(), std::vector<int64_t>{1});
}

}  // namespace
}  // namespace shoal
