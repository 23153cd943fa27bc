// ReplayWriter against in-process shards (LocalShard) and real shoal-replay
// processes (ShardProcess): exactly-once delivery, backpressure, server
// rejections, and what survives a shard being killed, terminated or down
// long enough to fail over.
#include "replay/client/replay_writer.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

#include "common/testing/test_util.h"
#include "replay/local_shard.h"
#include "replay/testing/shard_process.h"
#include "replay/testing/testing.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> ids(to - from);
  std::iota(ids.begin(), ids.end(), from);
  return ids;
}

ReplayWriterOptions MakeWriterOptions(const std::string& addresses,
                                      uint64_t writer_id = 0) {
  ReplayWriterOptions options;
  options.addresses = addresses;
  options.writer_id = writer_id;
  options.items_per_insert = 16;
  options.backoff.initial_delay = absl::Milliseconds(20);
  options.backoff.max_delay = absl::Milliseconds(200);
  return options;
}

std::unique_ptr<LocalShard> StartLocalShard(TableOptions table) {
  ReplayServerOptions options;
  options.shard_index = table.shard_index;
  options.tables = {std::move(table)};
  return std::move(LocalShard::Start(std::move(options)).value());
}

absl::Status AppendIds(ReplayWriter* writer, int64_t from, int64_t to) {
  for (int64_t id = from; id < to; ++id) {
    absl::Status appended =
        writer->Append(MakeIdItem("ids", id), In(absl::Seconds(10)));
    if (!appended.ok()) return appended;
  }
  return absl::OkStatus();
}

// Writes a two-shard config into a new directory and returns its path.
std::string WriteConfig(int shards) {
  const std::string dir = MakeTempDir("replay-writer-test-").value();
  const std::string path = dir + "/shoal.yaml";
  EXPECT_TRUE(WriteTestFile(path, FifoIdTableYaml(shards)).ok());
  return path;
}

absl::Status CheckpointShard(const std::string& address) {
  auto stub = v1::ReplayService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(In(absl::Seconds(10))));
  v1::CheckpointResponse response;
  grpc::Status status = stub->Checkpoint(&context, {}, &response);
  return status.ok() ? absl::OkStatus()
                     : absl::InternalError(status.error_message());
}

// Four threads append 500 items each through one writer; every item must be
// stored once, whatever the interleaving and batching.
TEST(ReplayWriterTest, ItemsFromManyThreadsArriveExactlyOnce) {
  auto shard = StartLocalShard(MakeFifoIdTable(/*shard_index=*/0));
  auto writer = ReplayWriter::Create(MakeWriterOptions(shard->address()));
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      EXPECT_TRUE(AppendIds(writer->get(), t * 500, (t + 1) * 500).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());
  const ReplayWriterStats stats = (*writer)->stats();
  EXPECT_EQ(stats.items_appended, 2000);
  EXPECT_EQ(stats.items_acked, 2000);
  EXPECT_EQ(stats.unacked_items, 0);
  EXPECT_EQ(stats.unacked_bytes, 0);
  EXPECT_EQ(DrainIds(shard->address(), "ids", In(absl::Seconds(10))).value(),
            Range(0, 2000));
  EXPECT_TRUE((*writer)->Close(In(absl::Seconds(5))).ok());
}

// A writer that replaces another with the same writer_id (an actor
// restarted with its index) numbers its items above the old one's, so the
// shard stores them instead of dropping them as replays. An explicit
// first_sequence below what the shard stored is refused, never
// acknowledged as stored: the shard cannot tell those numbers from resends.
TEST(ReplayWriterTest, ReplacementWriterWithTheSameIdIsNotDroppedAsReplays) {
  auto shard = StartLocalShard(MakeFifoIdTable(/*shard_index=*/0));
  for (int incarnation = 0; incarnation < 2; ++incarnation) {
    auto writer = ReplayWriter::Create(
        MakeWriterOptions(shard->address(), /*writer_id=*/5));
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE(
        AppendIds(writer->get(), incarnation * 100, (incarnation + 1) * 100)
            .ok());
    ASSERT_TRUE((*writer)->Close(In(absl::Seconds(10))).ok());
  }
  ReplayWriterOptions options =
      MakeWriterOptions(shard->address(), /*writer_id=*/5);
  options.first_sequence = 1;
  auto reused = ReplayWriter::Create(options);
  ASSERT_TRUE(reused.ok()) << reused.status();
  ASSERT_TRUE(AppendIds(reused->get(), 200, 210).ok());
  ASSERT_TRUE((*reused)->Close(In(absl::Seconds(10))).ok());
  EXPECT_EQ((*reused)->stats().items_acked, 0);
  EXPECT_EQ((*reused)->stats().items_rejected, 10);
  EXPECT_THAT((*reused)->stats().last_rejection,
              HasSubstr("first_sequence: 1 goes back below"));
  EXPECT_EQ(DrainIds(shard->address(), "ids", In(absl::Seconds(10))).value(),
            Range(0, 200));
}

// A shard whose rate limiter admits 15 inserts without samples (min size
// 10 plus an error buffer of 5 at one sample per insert), then holds
// inserts back until samples come.
std::unique_ptr<LocalShard> StartHoldingShard() {
  TableOptions table = MakeFifoIdTable(/*shard_index=*/0);
  table.max_times_sampled = 0;
  table.rate_limiter = RateLimiterOptions::SampleToInsertRatio(
      /*samples_per_insert=*/1.0, /*min_size_to_sample=*/10,
      /*error_buffer=*/5.0);
  return StartLocalShard(table);
}

// Appends items, each with a 300 ms deadline, until one fails.
struct AppendedUntilBlocked {
  int appended = 0;
  absl::Status status;  // the failed Append's
};
AppendedUntilBlocked AppendUntilBlocked(ReplayWriter* writer) {
  AppendedUntilBlocked result;
  while (result.appended < 100) {
    result.status = writer->Append(MakeIdItem("ids", 1000 + result.appended),
                                   In(absl::Milliseconds(300)));
    if (!result.status.ok()) break;
    ++result.appended;
  }
  return result;
}

// Samples free the limiter; Flush then sees all `appended` items stored.
void ExpectEverythingStoredAfterSamples(LocalShard* shard, ReplayWriter* writer,
                                        int appended) {
  google::protobuf::RepeatedPtrField<v1::SampledItem> sampled;
  ASSERT_TRUE(
      shard->table("ids")->Sample(10, In(absl::Seconds(5)), &sampled).ok());
  EXPECT_TRUE(writer->Flush(In(absl::Seconds(10))).ok());
  EXPECT_EQ(writer->stats().items_acked, appended);
}

// Once the limiter blocks the server, the writer holds items until its
// buffer (4 items' bytes) is full, and Append times out at its deadline.
TEST(ReplayWriterTest, AppendBlocksWhileTheBufferIsFullAndTimesOut) {
  auto shard = StartHoldingShard();
  ReplayWriterOptions options = MakeWriterOptions(shard->address());
  const int64_t item_bytes =
      static_cast<int64_t>(MakeIdItem("ids", 1000).ByteSizeLong());
  options.max_unacked_bytes = 4 * item_bytes;
  options.items_per_insert = 1;
  auto writer = ReplayWriter::Create(options);
  ASSERT_TRUE(writer.ok()) << writer.status();

  const absl::Time start = absl::Now();
  const AppendedUntilBlocked filled = AppendUntilBlocked(writer->get());
  EXPECT_TRUE(absl::IsDeadlineExceeded(filled.status)) << filled.status;
  EXPECT_THAT(filled.status.message(), HasSubstr("buffer full"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  // 15 stored (the limiter's window) plus at most 4 held by the writer.
  EXPECT_GE(filled.appended, 15);
  EXPECT_LE(filled.appended, 15 + 4);
  EXPECT_EQ((*writer)->stats().unacked_bytes, 4 * item_bytes);
  EXPECT_TRUE(
      absl::IsDeadlineExceeded((*writer)->Flush(In(absl::Milliseconds(50)))));
  ExpectEverythingStoredAfterSamples(shard.get(), writer->get(),
                                     filled.appended);
}

// The item bound: a limiter that holds inserts back leaves at most
// max_unacked_items waiting in the writer, however small the items.
TEST(ReplayWriterTest, AppendBlocksAtMaxUnackedItems) {
  auto shard = StartHoldingShard();
  ReplayWriterOptions options = MakeWriterOptions(shard->address());
  options.max_unacked_items = 3;
  options.items_per_insert = 1;
  auto writer = ReplayWriter::Create(options);
  ASSERT_TRUE(writer.ok()) << writer.status();

  const AppendedUntilBlocked filled = AppendUntilBlocked(writer->get());
  EXPECT_TRUE(absl::IsDeadlineExceeded(filled.status)) << filled.status;
  EXPECT_THAT(filled.status.message(), HasSubstr("3 of 3 items"));
  // 15 stored (the limiter's window) plus the 3 the writer holds.
  EXPECT_EQ(filled.appended, 15 + 3);
  EXPECT_EQ((*writer)->stats().unacked_items, 3);
  ExpectEverythingStoredAfterSamples(shard.get(), writer->get(),
                                     filled.appended);

  options.max_unacked_items = -1;
  absl::StatusOr<std::unique_ptr<ReplayWriter>> bad =
      ReplayWriter::Create(options);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(bad.status().message(), HasSubstr("max_unacked_items"));
}

// A batch with a bad item is refused whole by the server: the writer counts
// its items as rejected, keeps the server's message, does not resend them,
// and goes on storing good items.
TEST(ReplayWriterTest, BadItemsAreCountedAsRejectedWithTheServersMessage) {
  auto shard = StartLocalShard(MakeFifoIdTable(/*shard_index=*/0));
  auto writer = ReplayWriter::Create(MakeWriterOptions(shard->address()));
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(AppendIds(writer->get(), 0, 10).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());
  v1::Item bad = MakeIdItem("ids", 99);
  bad.mutable_columns(0)->set_dtype(v1::DTYPE_INT32);
  // Flushed one by one: in one batch the first error would reject both.
  ASSERT_TRUE((*writer)->Append(bad, In(absl::Seconds(5))).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(
      (*writer)->Append(MakeIdItem("nope", 98), In(absl::Seconds(5))).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(AppendIds(writer->get(), 10, 20).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());

  const ReplayWriterStats stats = (*writer)->stats();
  EXPECT_EQ(stats.items_rejected, 2);
  EXPECT_EQ(stats.items_acked, 20);
  EXPECT_THAT(stats.last_rejection, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(stats.last_rejection, HasSubstr("no table named 'nope'"));
  EXPECT_EQ(DrainIds(shard->address(), "ids", In(absl::Seconds(10))).value(),
            Range(0, 20));
}

TEST(ReplayWriterTest, OversizedItemsAndAppendsAfterCloseAreRefused) {
  auto shard = StartLocalShard(MakeFifoIdTable(/*shard_index=*/0));
  ReplayWriterOptions options = MakeWriterOptions(shard->address());
  options.max_unacked_bytes = 8;
  auto writer = ReplayWriter::Create(options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*writer)->Append(MakeIdItem("ids", 1), In(absl::Seconds(1)))));
  EXPECT_TRUE((*writer)->Close(In(absl::Seconds(1))).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      (*writer)->Append(v1::Item(), In(absl::Seconds(1)))));
  options.items_per_insert = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(ReplayWriter::Create(options).status()));
}

// SIGKILL after a checkpoint. What is provable:
// - A (0..99): acked, then checkpointed -> present once after the restart.
// - D (100..149): acked after the checkpoint, before the kill. The writer
//   dropped them on ack and the shard lost them with its memory: absent.
//   This is the checkpoint interval's loss, not the writer's.
// - B (150..249): appended while the shard is down. Unacked, so the writer
//   keeps them and resends after reconnecting -> present once.
// - C (250..299): appended after the restart -> present once.
// The restarted shard restores the writer's last stored sequence (100) from
// the checkpoint, so D's numbers are never reused: B and C are new.
TEST(ReplayWriterTest, SigkilledShardKeepsCheckpointedAndResentItemsOnce) {
  const std::string config = WriteConfig(/*shards=*/1);
  ShardProcessOptions process_options;
  process_options.config_file = config;
  process_options.checkpoint_dir = MakeTempDir("ckpt-").value();
  auto shard = ShardProcess::Start(process_options);
  ASSERT_TRUE(shard.ok()) << shard.status();
  auto writer = ReplayWriter::Create(MakeWriterOptions((*shard)->address()));
  ASSERT_TRUE(writer.ok()) << writer.status();

  ASSERT_TRUE(AppendIds(writer->get(), 0, 100).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(CheckpointShard((*shard)->address()).ok());
  ASSERT_TRUE(AppendIds(writer->get(), 100, 150).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());
  ASSERT_TRUE((*shard)->Kill().ok());

  ASSERT_TRUE(AppendIds(writer->get(), 150, 250).ok());
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ((*writer)->stats().unacked_items, 100);
  ASSERT_TRUE((*shard)->Restart().ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(20))).ok())
      << (*writer)->stats().last_stream_error;
  ASSERT_TRUE(AppendIds(writer->get(), 250, 300).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());

  std::vector<int64_t> expected = Range(0, 100);
  const std::vector<int64_t> rest = Range(150, 300);
  expected.insert(expected.end(), rest.begin(), rest.end());
  EXPECT_EQ(DrainIds((*shard)->address(), "ids", In(absl::Seconds(10))).value(),
            expected);
  const ReplayWriterStats stats = (*writer)->stats();
  EXPECT_GE(stats.reconnects, 1);
  EXPECT_EQ(stats.items_acked, 300);
  EXPECT_EQ(stats.failovers, 0);
}

// SIGTERM while a thread streams 3000 items: the shard checkpoints on
// shutdown after its last insert, so everything it stored survives,
// including items whose acks never reached the writer. Those are resent
// after the restart and dropped as duplicates: each id exactly once.
TEST(ReplayWriterTest, TerminatedShardStoresEveryStreamedItemExactlyOnce) {
  const std::string config = WriteConfig(/*shards=*/1);
  ShardProcessOptions process_options;
  process_options.config_file = config;
  process_options.checkpoint_dir = MakeTempDir("ckpt-").value();
  auto shard = ShardProcess::Start(process_options);
  ASSERT_TRUE(shard.ok()) << shard.status();
  auto writer = ReplayWriter::Create(MakeWriterOptions((*shard)->address()));
  ASSERT_TRUE(writer.ok()) << writer.status();

  std::thread appender([&] {
    for (int64_t id = 0; id < 3000; ++id) {
      ASSERT_TRUE(
          (*writer)->Append(MakeIdItem("ids", id), In(absl::Seconds(30))).ok());
      if (id % 100 == 0) absl::SleepFor(absl::Milliseconds(5));
    }
  });
  while ((*writer)->stats().items_acked < 500) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::StatusOr<int> exit_code = (*shard)->Terminate();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  ASSERT_TRUE((*shard)->Restart().ok());
  appender.join();
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(20))).ok());
  EXPECT_EQ(DrainIds((*shard)->address(), "ids", In(absl::Seconds(10))).value(),
            Range(0, 3000));
  EXPECT_GE((*writer)->stats().reconnects, 1);
}

// Two shards; the writer's shard is killed and stays down longer than
// stay_down (300 ms): the writer moves to the other shard, resends what was
// unacked there, and writes go on.
TEST(ReplayWriterTest, FailsOverToTheNextShardWhenItsShardStaysDown) {
  const std::string config = WriteConfig(/*shards=*/2);
  std::vector<std::unique_ptr<ShardProcess>> shards;
  for (int i = 0; i < 2; ++i) {
    ShardProcessOptions process_options;
    process_options.config_file = config;
    process_options.shard_index = i;
    auto shard = ShardProcess::Start(process_options);
    ASSERT_TRUE(shard.ok()) << shard.status();
    shards.push_back(*std::move(shard));
  }
  ReplayWriterOptions options = MakeWriterOptions(
      absl::StrCat(shards[0]->address(), ",", shards[1]->address()),
      /*writer_id=*/7);
  options.stay_down = absl::Milliseconds(300);
  auto writer = ReplayWriter::Create(options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  const int first = (*writer)->stats().shard;
  const int other = 1 - first;

  ASSERT_TRUE(AppendIds(writer->get(), 0, 100).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(shards[first]->Kill().ok());
  ASSERT_TRUE(AppendIds(writer->get(), 100, 200).ok());
  ASSERT_TRUE((*writer)->Flush(In(absl::Seconds(10))).ok())
      << (*writer)->stats().last_stream_error;

  const ReplayWriterStats stats = (*writer)->stats();
  EXPECT_EQ(stats.shard, other);
  EXPECT_EQ(stats.failovers, 1);
  EXPECT_EQ(stats.items_acked, 200);
  EXPECT_EQ(
      DrainIds(shards[other]->address(), "ids", In(absl::Seconds(10))).value(),
      Range(100, 200));
}

}  // namespace
}  // namespace shoal
