// A real shoal-replay process against the hostile clients that store or
// hold something (the rest are rows of bad_input_test), with the shard's
// resident memory measured around each:
// - numbers going back on an insert stream: refused, never acknowledged as
//   resends, while real resends are dropped and counted;
// - items carrying large unknown fields: stored without them, so max_bytes
//   bounds the shard's memory;
// - sample streams asking for 65,536 items of 16 KiB that never read: each
//   pins at most its stream budget while a normal sampler is served.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/testing/test_util.h"
#include "replay/replay_service.h"
#include "tests/fault/fault_cluster.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMiB = 1 << 20;
// "frames": items of 16 KiB in a table capped at 1 MiB (the issue's case).
constexpr int kFrameBytes = 16 << 10;

std::string ConfigYaml() {
  return absl::StrCat(R"(experiment: hostile-replay
tables:
  - name: frames
    sampler: {kind: uniform}
    max_size: 100000
    max_bytes: 1048576
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: frame, dtype: uint8, shape: [)",
                      kFrameBytes, R"(]}
  - name: small
    sampler: {kind: uniform}
    max_size: 100000
    max_bytes: 1048576
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: x, dtype: uint8, shape: [-1]}
replay: {shards: 1}
actor: {table: frames}
learner: {table: frames}
stop: {env_steps: 1}
)");
}

struct Shard {
  fault::ReplayProcess replay;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ReplayService::Stub> stub;

  int64_t rss() const { return ResidentBytes(replay.process->pid()); }
};

std::unique_ptr<Shard> StartShard(const std::string& tag) {
  const std::string dir =
      MakeTempDir(absl::StrCat("hostile-", tag, "-")).value();
  const std::string config = dir + "/config.yaml";
  EXPECT_TRUE(WriteTestFile(config, ConfigYaml()).ok());
  absl::StatusOr<fault::ReplayProcess> replay =
      fault::StartReplayProcess(config, dir + "/replay.log", {});
  EXPECT_TRUE(replay.ok()) << replay.status();
  if (!replay.ok()) return nullptr;
  auto shard = std::make_unique<Shard>();
  shard->replay = std::move(*replay);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * kMiB);
  shard->channel = grpc::CreateCustomChannel(
      shard->replay.address(), grpc::InsecureChannelCredentials(), args);
  shard->stub = v1::ReplayService::NewStub(shard->channel);
  return shard;
}

v1::TableInfo Info(Shard& shard, const std::string& table) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::InfoRequest request;
  request.set_table(table);
  v1::InfoResponse response;
  EXPECT_TRUE(shard.stub->Info(&context, request, &response).ok());
  return response.tables_size() > 0 ? response.tables(0) : v1::TableInfo();
}

v1::Item Frame(char fill) {
  v1::Item item;
  item.set_table("frames");
  v1::Tensor* column = item.add_columns();
  column->set_dtype(v1::DTYPE_UINT8);
  column->add_shape(kFrameBytes);
  column->set_data(std::string(kFrameBytes, fill));
  return item;
}

// `n` items of 4 bytes for "small", numbered from `first` by `writer`.
v1::InsertRequest SmallBatch(uint64_t writer, uint64_t first, int n) {
  v1::InsertRequest request;
  request.set_writer_id(writer);
  request.set_first_sequence(first);
  for (int i = 0; i < n; ++i) {
    v1::Item* item = request.add_items();
    item->set_table("small");
    v1::Tensor* column = item->add_columns();
    column->set_dtype(v1::DTYPE_UINT8);
    column->add_shape(4);
    column->set_data("abcd");
  }
  return request;
}

using InsertStream =
    grpc::ClientReaderWriter<v1::InsertRequest, v1::InsertResponse>;

v1::InsertResponse Send(InsertStream& stream, const v1::InsertRequest& r) {
  v1::InsertResponse ack;
  EXPECT_TRUE(stream.Write(r));
  EXPECT_TRUE(stream.Read(&ack));
  return ack;
}

// The issue's case, on one stream: 100..102 stored, then 50..52 (never
// sent) is refused whole, not acknowledged as resends; a batch straddling
// the run's start too. A real resend (101..104 after a reconnect) drops the
// stored two, stores the new two and counts the drops.
TEST(HostileReplayTest, NumbersGoingBackAreRefusedAndResendsCounted) {
  auto shard = StartShard("sequence");
  ASSERT_NE(shard, nullptr);
  {
    grpc::ClientContext context;
    auto stream = shard->stub->InsertStream(&context);
    EXPECT_FALSE(Send(*stream, SmallBatch(7, 100, 3)).has_error());
    for (const auto& [first, n] :
         std::vector<std::pair<uint64_t, int>>{{50, 3}, {98, 4}, {1, 99}}) {
      const v1::InsertResponse ack = Send(*stream, SmallBatch(7, first, n));
      ASSERT_TRUE(ack.has_error()) << first;
      EXPECT_EQ(ack.error().code(), 3);  // INVALID_ARGUMENT
      EXPECT_THAT(ack.error().message(),
                  HasSubstr(absl::StrCat("first_sequence: ", first,
                                         " goes back below 100")));
      EXPECT_EQ(ack.error().first_sequence(), first);
      EXPECT_EQ(ack.acked_sequence(), first + n - 1);
    }
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  EXPECT_EQ(Info(*shard, "small").size(), 3);
  EXPECT_EQ(Info(*shard, "small").dropped_replays(), 0);
  grpc::ClientContext context;
  auto stream = shard->stub->InsertStream(&context);
  EXPECT_FALSE(Send(*stream, SmallBatch(7, 101, 4)).has_error());
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  const v1::TableInfo info = Info(*shard, "small");
  EXPECT_EQ(info.size(), 5);
  EXPECT_EQ(info.dropped_replays(), 2);
  EXPECT_EQ(info.writers(), 1);
}

// Items of a 4-byte tensor each carrying 256 KiB of unknown fields (on the
// item and on its tensor): before, each was stored whole and not counted,
// and the shard grew ~14 MiB past a 1 MiB table. Now they are stored
// without them: Info's bytes stay within max_bytes, the resident set grows
// by less than 2 * max_bytes, and samples come back without them.
TEST(HostileReplayTest, UnknownFieldsNeitherGrowTheShardNorComeBack) {
  auto shard = StartShard("unknown");
  ASSERT_NE(shard, nullptr);
  const int64_t before = shard->rss();
  const std::string junk(256 << 10, 'j');
  grpc::ClientContext context;
  auto stream = shard->stub->InsertStream(&context);
  constexpr int kBatches = 300;  // 600 items, 150 MiB of unknown fields
  for (int b = 0; b < kBatches; ++b) {
    v1::InsertRequest request = SmallBatch(9, 1 + 2 * b, 2);
    for (v1::Item& item : *request.mutable_items()) {
      item.GetReflection()->MutableUnknownFields(&item)->AddLengthDelimited(
          15, junk);
      v1::Tensor* column = item.mutable_columns(0);
      column->GetReflection()->MutableUnknownFields(column)->AddLengthDelimited(
          15, junk);
    }
    ASSERT_FALSE(Send(*stream, request).has_error());
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  const v1::TableInfo info = Info(*shard, "small");
  const int64_t after = shard->rss();
  std::printf(
      "[ hostile  ] %d items with 512 KiB of unknown fields each: table "
      "holds %lld items in %lld bytes; shard RSS %.1f -> %.1f MiB\n",
      2 * kBatches, static_cast<long long>(info.size()),
      static_cast<long long>(info.bytes()), before / 1048576.0,
      after / 1048576.0);
  EXPECT_EQ(info.size(), 2 * kBatches);
  EXPECT_LE(info.bytes(), info.max_bytes());
  EXPECT_LT(after - before, 2 * kMiB + 8 * kMiB);  // + allocator slack
  grpc::ClientContext sample_context;
  auto sampler = shard->stub->SampleStream(&sample_context);
  v1::SampleRequest request;
  request.set_table("small");
  request.set_num_samples(16);
  ASSERT_TRUE(sampler->Write(request));
  v1::SampleResponse response;
  ASSERT_TRUE(sampler->Read(&response));
  ASSERT_GT(response.items_size(), 0);
  EXPECT_LT(response.ByteSizeLong(), 16 * 128u);
  sampler->WritesDone();
  EXPECT_TRUE(sampler->Finish().ok());
}

// Sample streams that each ask for 65,536 items of 16 KiB (1 GiB) from a
// table capped at 1 MiB and never read. Before, the shard encoded each
// whole answer up front (~1 GiB per stream) and stalled other clients
// while it did. Now each holds at most its stream budget (8 MiB) plus what
// gRPC buffers, and a normal sampler on its own connection is served.
TEST(HostileReplayTest, StalledSamplersOfLargeItemsPinBoundedMemory) {
  auto shard = StartShard("stalled");
  ASSERT_NE(shard, nullptr);
  {
    grpc::ClientContext context;
    auto stream = shard->stub->InsertStream(&context);
    v1::InsertRequest request;
    request.set_writer_id(1);
    request.set_first_sequence(1);
    for (int i = 0; i < 64; ++i) *request.add_items() = Frame('a' + i % 26);
    ASSERT_FALSE(Send(*stream, request).has_error());
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }
  const int64_t before = shard->rss();
  constexpr int kStalled = 4;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs;
  std::vector<std::unique_ptr<
      grpc::ClientReaderWriter<v1::SampleRequest, v1::SampleResponse>>>
      stalled;
  for (int i = 0; i < kStalled; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("hostile.connection", i);  // a connection of its own
    args.SetMaxReceiveMessageSize(1 << 30);
    stubs.push_back(v1::ReplayService::NewStub(grpc::CreateCustomChannel(
        shard->replay.address(), grpc::InsecureChannelCredentials(), args)));
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    stalled.push_back(stubs.back()->SampleStream(contexts.back().get()));
    v1::SampleRequest request;
    request.set_table("frames");
    request.set_num_samples(65536);
    // Asking for 1 GiB responses: cut to the stream budget.
    if (i % 2 == 1) request.set_max_response_bytes(int64_t{1} << 30);
    ASSERT_TRUE(stalled.back()->Write(request));
  }
  // Let them fill what they can, then measure while a normal sampler works.
  absl::SleepFor(absl::Seconds(2));
  int served = 0;
  absl::Duration slowest;
  for (int round = 0; round < 20; ++round) {
    const absl::Time start = absl::Now();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(start + absl::Seconds(10)));
    auto sampler = shard->stub->SampleStream(&context);
    v1::SampleRequest request;
    request.set_table("frames");
    request.set_num_samples(8);
    ASSERT_TRUE(sampler->Write(request));
    v1::SampleResponse response;
    while (sampler->Read(&response)) {
      served += response.items_size();
      if (response.end_of_request()) break;
    }
    sampler->WritesDone();
    EXPECT_TRUE(sampler->Finish().ok());
    slowest = std::max(slowest, absl::Now() - start);
  }
  const int64_t during = shard->rss();
  std::printf(
      "[ hostile  ] %d samplers of 65,536 x 16 KiB never reading: shard RSS "
      "%.1f -> %.1f MiB; a normal sampler got %d items, slowest request "
      "%s\n",
      kStalled, before / 1048576.0, during / 1048576.0, served,
      absl::FormatDuration(slowest).c_str());
  EXPECT_EQ(served, 20 * 8);
  EXPECT_LT(slowest, absl::Seconds(2));
  const int64_t per_stream = ReplayServiceOptions().max_stream_sample_bytes;
  EXPECT_LT(during - before, kStalled * (per_stream + 8 * kMiB));
  for (auto& context : contexts) context->TryCancel();
  for (auto& stream : stalled) stream->Finish().IgnoreError();
  EXPECT_TRUE(shard->replay.process->running());
}

}  // namespace
}  // namespace shoal
