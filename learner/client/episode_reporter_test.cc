// EpisodeReporter against a fake learner over real loopback gRPC: batches
// reach the server, and with the server away stepping never blocks and the
// queue stays bounded, then drains once the server comes (back).
#include "learner/client/episode_reporter.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

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

// A LearnerService with only ReportEpisodes; keeps every batch. Refuses a
// batch with a negative actor_index as the real one does.
class FakeLearner final : public v1::LearnerService::Service {
 public:
  grpc::Status ReportEpisodes(grpc::ServerContext* context,
                              const v1::ReportEpisodesRequest* request,
                              v1::ReportEpisodesResponse* response) override {
    for (const v1::Episode& e : request->episodes()) {
      if (e.actor_index() < 0) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "episodes[0].actor_index: must be >= 0");
      }
    }
    absl::MutexLock lock(&mu_);
    batch_sizes_.push_back(request->episodes_size());
    for (const v1::Episode& e : request->episodes()) {
      lengths_.push_back(e.length());
    }
    response->set_latest_version(7);
    return grpc::Status::OK;
  }
  std::vector<int> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  std::vector<int64_t> lengths() {
    absl::MutexLock lock(&mu_);
    return lengths_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> lengths_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<GrpcServer> StartServer(FakeLearner* learner,
                                        const std::string& address) {
  ServerOptions options;
  options.address = address;
  auto server = GrpcServer::Start(options, {learner});
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

EpisodeReporterOptions MakeOptions(const std::string& address) {
  EpisodeReporterOptions options;
  options.channel.target = address;
  options.channel.min_reconnect_backoff = absl::Milliseconds(50);
  options.channel.max_reconnect_backoff = absl::Milliseconds(200);
  options.backoff.initial_delay = absl::Milliseconds(20);
  options.backoff.max_delay = absl::Milliseconds(200);
  options.rpc_timeout = absl::Seconds(2);
  return options;
}

v1::Episode MakeEpisode(int64_t length, int32_t actor = 0) {
  v1::Episode e;
  e.set_actor_index(actor);
  e.set_episode_return(1.0);
  e.set_length(length);
  return e;
}

TEST(EpisodeReporterTest, BatchesReachTheServerInOrder) {
  FakeLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner, "127.0.0.1:0");
  EpisodeReporterOptions options = MakeOptions(server->address());
  options.max_batch = 10;
  auto reporter = EpisodeReporter::Create(options);
  ASSERT_TRUE(reporter.ok()) << reporter.status();
  for (int i = 0; i < 95; ++i) (*reporter)->Report(MakeEpisode(i));
  ASSERT_TRUE((*reporter)->Flush(absl::Now() + absl::Seconds(10)).ok());

  std::vector<int64_t> lengths = learner.lengths();
  ASSERT_EQ(lengths.size(), 95u);
  for (int i = 0; i < 95; ++i) EXPECT_EQ(lengths[i], i);
  for (int size : learner.batch_sizes()) EXPECT_LE(size, 10);
  EpisodeReporterStats stats = (*reporter)->stats();
  EXPECT_EQ(stats.reported, 95);
  EXPECT_EQ(stats.dropped, 0);
  EXPECT_EQ(stats.learner_version, 7);
}

TEST(EpisodeReporterTest, DropsARefusedBatchWithoutRetrying) {
  FakeLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner, "127.0.0.1:0");
  auto reporter = EpisodeReporter::Create(MakeOptions(server->address()));
  ASSERT_TRUE(reporter.ok());
  (*reporter)->Report(MakeEpisode(1, /*actor=*/-1));
  ASSERT_TRUE((*reporter)->Flush(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ((*reporter)->stats().rejected, 1);
  (*reporter)->Report(MakeEpisode(2));
  ASSERT_TRUE((*reporter)->Flush(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ((*reporter)->stats().reported, 1);
}

// With no server, 100k reports from the "stepping loop" must each return
// at once while the queue never grows past max_queue (the oldest go);
// when the server comes up on that address, the newest max_queue arrive.
TEST(EpisodeReporterTest, ServerDownNeverBlocksAndKeepsTheQueueBounded) {
  FakeLearner probe;
  std::unique_ptr<GrpcServer> probe_server = StartServer(&probe, "127.0.0.1:0");
  const std::string address = probe_server->address();
  probe_server->Shutdown(absl::Now());
  probe_server.reset();

  EpisodeReporterOptions options = MakeOptions(address);
  options.max_queue = 1000;
  options.max_batch = 100;
  auto reporter = EpisodeReporter::Create(options);
  ASSERT_TRUE(reporter.ok());
  absl::Duration slowest = absl::ZeroDuration();
  for (int i = 0; i < 100000; ++i) {
    const absl::Time start = absl::Now();
    (*reporter)->Report(MakeEpisode(i));
    slowest = std::max(slowest, absl::Now() - start);
    if (i % 1000 == 0) {
      ASSERT_LE((*reporter)->stats().queued, 1000);
    }
  }
  absl::SleepFor(absl::Milliseconds(500));  // some calls fail meanwhile
  EpisodeReporterStats stats = (*reporter)->stats();
  EXPECT_LE(stats.queued, 1000);
  EXPECT_GE(stats.dropped, 100000 - 1000 - 100);
  EXPECT_GE(stats.failed_calls, 1);
  EXPECT_LT(slowest, absl::Milliseconds(50)) << "Report blocked";

  FakeLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner, address);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE((*reporter)->Flush(absl::Now() + absl::Seconds(20)).ok());
  std::vector<int64_t> lengths = learner.lengths();
  ASSERT_FALSE(lengths.empty());
  EXPECT_LE(lengths.size(), 1000u);
  EXPECT_EQ(lengths.back(), 99999);  // the newest survived
  (*reporter)->Close(absl::Now() + absl::Seconds(1));
}

TEST(EpisodeReporterTest, CloseReturnsPromptlyWithTheServerDown) {
  auto reporter = EpisodeReporter::Create(MakeOptions("127.0.0.1:1"));
  ASSERT_TRUE(reporter.ok());
  for (int i = 0; i < 10; ++i) (*reporter)->Report(MakeEpisode(i));
  const absl::Time start = absl::Now();
  (*reporter)->Close(absl::Now() + absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  (*reporter)->Report(MakeEpisode(11));  // ignored after Close
  EXPECT_LE((*reporter)->stats().queued, 10);
}

}  // namespace
}  // namespace shoal
