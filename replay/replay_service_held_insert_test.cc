// ReplayServiceImpl over real loopback gRPC with inserts the rate limiter
// holds back: the stream's reactor parks in the table without a thread and
// is acknowledged, in order, once samples make room; a held stream that is
// cancelled, or a shard that shuts down, ends it; and held streams, however
// many, leave the insert pool free for everyone else.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

#include "common/grpc_server.h"
#include "replay/replay_service.h"

namespace shoal {
namespace {

constexpr int kFrameBytes = 16 << 10;

TableOptions MakeTable(const std::string& name, int64_t bytes,
                       RateLimiterOptions limiter) {
  TableOptions options;
  options.name = name;
  v1::TensorSpec spec;
  spec.set_name("payload");
  spec.set_dtype(v1::DTYPE_UINT8);
  spec.add_shape(bytes);
  options.signature = {spec};
  // Each sample takes the oldest item out, as a queue limiter expects.
  options.sampler = SelectorKind::kFifo;
  options.max_times_sampled = 1;
  options.max_size = 1000;
  options.rate_limiter = limiter;
  return options;
}

// "held", a queue of 2 items of 4 bytes, and "free", items of 16 KiB that
// its limiter never holds back, served on a free loopback port.
class TestShard {
 public:
  explicit TestShard(int insert_threads = 8) {
    ReplayServerOptions options;
    options.tables = {
        MakeTable("held", 4, RateLimiterOptions::Queue(2)),
        MakeTable("free", kFrameBytes, RateLimiterOptions::MinSize(1))};
    server_ = std::move(ReplayServer::Create(std::move(options)).value());
    ReplayServiceOptions service;
    service.insert_threads = insert_threads;
    service_ =
        std::make_unique<ReplayServiceImpl>(server_.get(), service, nullptr);
    ServerOptions grpc_options;
    grpc_options.max_receive_message_bytes = 4 << 20;
    grpc_ =
        std::move(GrpcServer::Start(grpc_options, {service_.get()}).value());
    stub_ = v1::ReplayService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_->port()),
                            grpc::InsecureChannelCredentials()));
  }
  ~TestShard() {
    server_->Cancel();
    grpc_->Shutdown(absl::Now() + absl::Seconds(1));
  }

  v1::ReplayService::Stub& stub() { return *stub_; }
  ReplayServer& server() { return *server_; }
  v1::TableInfo held() { return server_->FindTable("held")->Info(); }

  // Waits until `n` inserts of "held" are parked; false after 5 s.
  bool WaitForHeld(int64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (held().rate_limiter().blocked_inserts() != n) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  // Samples `n` items of "held".
  void Sample(int n) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto stream = stub_->SampleStream(&context);
    v1::SampleRequest request;
    request.set_table("held");
    request.set_num_samples(n);
    ASSERT_TRUE(stream->Write(request));
    v1::SampleResponse response;
    int got = 0;
    while (stream->Read(&response)) {
      got += response.items_size();
      if (response.end_of_request()) break;
    }
    EXPECT_EQ(got, n);
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }

 private:
  std::unique_ptr<ReplayServer> server_;
  std::unique_ptr<ReplayServiceImpl> service_;
  std::unique_ptr<GrpcServer> grpc_;
  std::unique_ptr<v1::ReplayService::Stub> stub_;
};

v1::InsertRequest MakeBatch(const std::string& table, int64_t bytes,
                            uint64_t writer, uint64_t first, int n) {
  v1::InsertRequest request;
  request.set_writer_id(writer);
  request.set_first_sequence(first);
  for (int i = 0; i < n; ++i) {
    v1::Item* item = request.add_items();
    item->set_table(table);
    v1::Tensor* column = item->add_columns();
    column->set_dtype(v1::DTYPE_UINT8);
    column->add_shape(bytes);
    column->set_data(std::string(bytes, static_cast<char>(i)));
  }
  return request;
}

v1::InsertRequest HeldBatch(uint64_t writer, uint64_t first, int n) {
  return MakeBatch("held", 4, writer, first, n);
}

// An insert stream with its own context.
struct Stream {
  explicit Stream(TestShard& shard)
      : stream(shard.stub().InsertStream(&context)) {}
  grpc::ClientContext context;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::InsertRequest, v1::InsertResponse>>
      stream;
};

TEST(ReplayServiceHeldInsertTest,
     HeldBackInsertsAreAcknowledgedInOrderOnceSamplesMakeRoom) {
  TestShard shard;
  Stream a(shard), b(shard);
  // The queue takes two of a's three items; a waits for the third.
  ASSERT_TRUE(a.stream->Write(HeldBatch(/*writer=*/1, /*first=*/1, 3)));
  ASSERT_TRUE(shard.WaitForHeld(1));
  ASSERT_TRUE(b.stream->Write(HeldBatch(/*writer=*/2, /*first=*/1, 1)));
  ASSERT_TRUE(shard.WaitForHeld(2));
  EXPECT_EQ(shard.held().inserts(), 2);

  shard.Sample(1);  // room for a's third item, first come
  v1::InsertResponse ack;
  ASSERT_TRUE(a.stream->Read(&ack));
  EXPECT_EQ(ack.acked_sequence(), 3u);
  EXPECT_FALSE(ack.has_error());
  EXPECT_EQ(shard.held().inserts(), 3);
  EXPECT_EQ(shard.held().rate_limiter().blocked_inserts(), 1);
  shard.Sample(1);
  ASSERT_TRUE(b.stream->Read(&ack));
  EXPECT_EQ(ack.acked_sequence(), 1u);
  // a goes on: its next batch is held again, then acknowledged again.
  ASSERT_TRUE(a.stream->Write(HeldBatch(1, 4, 2)));
  shard.Sample(2);
  ASSERT_TRUE(a.stream->Read(&ack));
  EXPECT_EQ(ack.acked_sequence(), 5u);
  EXPECT_EQ(shard.held().inserts(), 6);
  EXPECT_EQ(shard.held().dropped_replays(), 0);
  for (Stream* s : {&a, &b}) {
    s->stream->WritesDone();
    EXPECT_TRUE(s->stream->Finish().ok());
  }
}

TEST(ReplayServiceHeldInsertTest, AHeldBackStreamThatIsCancelledEnds) {
  TestShard shard;
  Stream fill(shard);
  ASSERT_TRUE(fill.stream->Write(HeldBatch(/*writer=*/1, /*first=*/1, 2)));
  v1::InsertResponse ack;
  ASSERT_TRUE(fill.stream->Read(&ack));
  {
    Stream held(shard);
    ASSERT_TRUE(held.stream->Write(HeldBatch(/*writer=*/2, /*first=*/1, 1)));
    ASSERT_TRUE(shard.WaitForHeld(1));
    held.context.TryCancel();
    EXPECT_FALSE(held.stream->Read(&ack));
    EXPECT_EQ(held.stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  ASSERT_TRUE(shard.WaitForHeld(0));
  // The next one held back is woken by the next sample, as if the
  // cancelled one had never been there.
  Stream next(shard);
  ASSERT_TRUE(next.stream->Write(HeldBatch(/*writer=*/3, /*first=*/1, 1)));
  ASSERT_TRUE(shard.WaitForHeld(1));
  shard.Sample(1);
  ASSERT_TRUE(next.stream->Read(&ack));
  EXPECT_EQ(ack.acked_sequence(), 1u);
  EXPECT_EQ(shard.held().inserts(), 3);
  for (Stream* s : {&fill, &next}) {
    s->stream->WritesDone();
    EXPECT_TRUE(s->stream->Finish().ok());
  }
}

TEST(ReplayServiceHeldInsertTest, ShutdownEndsHeldBackStreamsWithUnavailable) {
  TestShard shard;
  Stream held(shard);
  ASSERT_TRUE(held.stream->Write(HeldBatch(/*writer=*/1, /*first=*/1, 3)));
  ASSERT_TRUE(shard.WaitForHeld(1));
  shard.server().Cancel();
  v1::InsertResponse ack;
  EXPECT_FALSE(held.stream->Read(&ack));
  const grpc::Status status = held.stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "replay shard is shutting down");
  // Later inserts the limiter holds back end the same way, at once.
  Stream late(shard);
  ASSERT_TRUE(late.stream->Write(HeldBatch(/*writer=*/2, /*first=*/1, 1)));
  EXPECT_FALSE(late.stream->Read(&ack));
  EXPECT_EQ(late.stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// With one insert thread, 32 held streams: a 144 KiB batch to the other
// table (stored on the insert pool, being large) is still acknowledged at
// once. A shard that parked a pool thread per held stream served it only
// after samples freed them.
TEST(ReplayServiceHeldInsertTest, HeldBackStreamsLeaveTheInsertPoolFree) {
  constexpr int kHeld = 32;
  TestShard shard(/*insert_threads=*/1);
  Stream fill(shard);
  ASSERT_TRUE(fill.stream->Write(HeldBatch(/*writer=*/999, /*first=*/1, 2)));
  v1::InsertResponse filled;
  ASSERT_TRUE(fill.stream->Read(&filled));
  std::vector<std::unique_ptr<Stream>> held;
  for (int i = 0; i < kHeld; ++i) {
    held.push_back(std::make_unique<Stream>(shard));
    ASSERT_TRUE(held.back()->stream->Write(HeldBatch(1 + i, 1, 1)));
  }
  ASSERT_TRUE(shard.WaitForHeld(kHeld));
  {
    Stream large(shard);
    large.context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    const absl::Time start = absl::Now();
    ASSERT_TRUE(large.stream->Write(
        MakeBatch("free", kFrameBytes, /*writer=*/100, /*first=*/1, 9)));
    v1::InsertResponse ack;
    ASSERT_TRUE(large.stream->Read(&ack));
    EXPECT_EQ(ack.acked_sequence(), 9u);
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));
    large.stream->WritesDone();
    EXPECT_TRUE(large.stream->Finish().ok());
  }
  // Every held stream is acknowledged once samples make room: one request
  // for all, which waits for the inserts it lets in.
  shard.Sample(kHeld);
  for (const auto& s : held) {
    v1::InsertResponse ack;
    ASSERT_TRUE(s->stream->Read(&ack));
    EXPECT_EQ(ack.acked_sequence(), 1u);
    s->stream->WritesDone();
    EXPECT_TRUE(s->stream->Finish().ok());
  }
  EXPECT_EQ(shard.held().inserts(), 2 + kHeld);
  fill.stream->WritesDone();
  EXPECT_TRUE(fill.stream->Finish().ok());
}

}  // namespace
}  // namespace shoal
