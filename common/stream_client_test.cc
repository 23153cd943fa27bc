// CallTracker and TrackedContext against a real loopback gRPC server (a
// LearnerService whose WatchParameters streams stay open until cancelled),
// and ReconnectSchedule's arithmetic on its own.
#include "common/stream_client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "grpcpp/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/learner.grpc.pb.h"

#include "common/grpc_server.h"

namespace shoal {
namespace {

// Keeps gRPC initialised for the whole binary (see parameter_watcher_test).
[[maybe_unused]] const bool kGrpcInitialised = [] {
  grpc_init();
  return true;
}();

// WatchParameters streams that send nothing and end when cancelled.
class IdleLearner final : public v1::LearnerService::CallbackService {
 public:
  grpc::ServerWriteReactor<v1::ParametersChunk>* WatchParameters(
      grpc::CallbackServerContext* /*context*/,
      const v1::WatchParametersRequest* /*request*/) override {
    class Idle final : public grpc::ServerWriteReactor<v1::ParametersChunk> {
     public:
      void OnCancel() override { Finish(grpc::Status::CANCELLED); }
      void OnDone() override { delete this; }
    };
    return new Idle;
  }
};

std::unique_ptr<GrpcServer> StartServer(IdleLearner* learner) {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  auto server = GrpcServer::Start(options, {learner});
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// A tracked WatchParameters reactor, built as the clients build theirs.
class WatchCall final : public grpc::ClientReadReactor<v1::ParametersChunk> {
 public:
  WatchCall(CallTracker::Handle handle, absl::Notification* done)
      : context_(std::move(handle)), done_(done) {}

  void Begin(v1::LearnerService::Stub* stub) {
    stub->async()->WatchParameters(context_.get(), &request_, this);
    StartRead(&chunk_);
    StartCall();
  }
  void Cancel() { context_->TryCancel(); }

  void OnDone(const grpc::Status& /*status*/) override {
    done_->Notify();
    delete this;
  }

 private:
  TrackedContext context_;
  absl::Notification* const done_;
  v1::WatchParametersRequest request_;
  v1::ParametersChunk chunk_;
};

TEST(CallTrackerTest, HandlesCountUntilDestroyed) {
  CallTracker tracker;
  CallTracker::Handle a = tracker.Start();
  CallTracker::Handle b = tracker.Start();
  EXPECT_EQ(tracker.live(), 2);
  CallTracker::Handle moved = std::move(a);
  EXPECT_EQ(tracker.live(), 2);
  b = std::move(moved);  // b's own count is released
  EXPECT_EQ(tracker.live(), 1);
  b.Reset();
  EXPECT_EQ(tracker.live(), 0);
  tracker.WaitUntilNone();  // returns at once
}

// Reactors end on gRPC's threads; WaitUntilNone must not return before the
// last of them is deleted, and must return once all are.
TEST(CallTrackerTest, WaitUntilNoneReturnsAfterEveryReactorIsDeleted) {
  IdleLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner);
  ASSERT_NE(server, nullptr);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      server->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::LearnerService::NewStub(channel);
  CallTracker tracker;
  constexpr int kCalls = 8;
  std::vector<absl::Notification> done(kCalls);
  std::vector<WatchCall*> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(new WatchCall(tracker.Start(), &done[i]));
    calls.back()->Begin(stub.get());
  }
  EXPECT_EQ(tracker.live(), kCalls);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(tracker.live(), kCalls);  // the streams are still open
  for (WatchCall* call : calls) call->Cancel();
  tracker.WaitUntilNone();
  EXPECT_EQ(tracker.live(), 0);
  for (absl::Notification& n : done) EXPECT_TRUE(n.HasBeenNotified());
}

// grpc/grpc#32584: once WaitUntilNone returns, no context holds the channel,
// so the owner drops the last reference on its own thread.
TEST(TrackedContextTest, ReleasesTheChannelBeforeTheHandle) {
  IdleLearner learner;
  std::unique_ptr<GrpcServer> server = StartServer(&learner);
  ASSERT_NE(server, nullptr);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      server->address(), grpc::InsecureChannelCredentials());
  CallTracker tracker;
  absl::Notification done;
  {
    auto stub = v1::LearnerService::NewStub(channel);
    auto* call = new WatchCall(tracker.Start(), &done);
    call->Begin(stub.get());
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_GT(channel.use_count(), 2);  // the stub's and the context's
    call->Cancel();
  }
  tracker.WaitUntilNone();
  EXPECT_EQ(channel.use_count(), 1);
  channel.reset();  // here, not on a callback thread
}

BackoffOptions MakeBackoff() {
  return {absl::Milliseconds(100), absl::Seconds(1), /*multiplier=*/2.0,
          /*jitter=*/0.0};
}

TEST(ReconnectScheduleTest, StartsAtOnceThenBacksOffAfterFailures) {
  ReconnectSchedule schedule(MakeBackoff(), /*seed=*/1);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(schedule.Due(t0));
  EXPECT_EQ(schedule.down_since(), absl::InfiniteFuture());
  EXPECT_FALSE(schedule.Started());  // the first stream
  schedule.Ended(t0, absl::UnavailableError("refused"));
  EXPECT_EQ(schedule.next_attempt(), t0 + absl::Milliseconds(100));
  EXPECT_FALSE(schedule.Due(t0 + absl::Milliseconds(99)));
  EXPECT_TRUE(schedule.Due(t0 + absl::Milliseconds(100)));
  EXPECT_EQ(schedule.down_since(), t0);
  EXPECT_TRUE(schedule.Started());  // a reconnect
  const absl::Time t1 = t0 + absl::Seconds(1);
  schedule.Ended(t1, absl::OkStatus());  // ended cleanly, no progress
  EXPECT_EQ(schedule.next_attempt(), t1 + absl::Milliseconds(200));
  EXPECT_EQ(schedule.down_since(), t0);
  const StreamClientStats& stats = schedule.stats();
  EXPECT_EQ(stats.attempts, 2);
  EXPECT_EQ(stats.failures, 1);  // the OK end is not a failure
  EXPECT_EQ(stats.last_error, "UNAVAILABLE: refused");
}

TEST(ReconnectScheduleTest, ProgressResetsTheDelayAndDownSince) {
  ReconnectSchedule schedule(MakeBackoff(), /*seed=*/1);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  schedule.Ended(t0, absl::UnavailableError("a"));
  schedule.Ended(t0, absl::UnavailableError("b"));
  EXPECT_EQ(schedule.next_attempt(), t0 + absl::Milliseconds(200));
  schedule.Progressed();
  EXPECT_EQ(schedule.down_since(), absl::InfiniteFuture());
  schedule.Ended(t0, absl::UnavailableError("c"));
  EXPECT_EQ(schedule.next_attempt(), t0 + absl::Milliseconds(100));
  schedule.RetryNow();
  EXPECT_TRUE(schedule.Due(t0));
}

}  // namespace
}  // namespace shoal
