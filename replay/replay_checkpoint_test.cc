// ReplayServer checkpoints: a round trip restores everything a table holds
// (items, counters, priorities, rate-limiter cursor, writer sequences, keys),
// only complete checkpoints are loaded and the newest of them wins, old ones
// are pruned, and a changed signature is refused at Create.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"
#include "common/testing/test_util.h"
#include "replay/record_file.h"
#include "replay/replay_server.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int kShard = 3;

v1::TensorSpec MakeSpec(const std::string& name, std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(name);
  spec.set_dtype(v1::DTYPE_FLOAT32);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// "fixed": float32[4] + float32[] prioritized; "variable": float32[-1].
ReplayServerOptions MakeOptions(const std::string& dir, int keep = 2) {
  TableOptions fixed;
  fixed.name = "fixed";
  fixed.signature = {MakeSpec("observation", {4}), MakeSpec("reward", {})};
  fixed.sampler = SelectorKind::kPrioritized;
  fixed.sampler_priority_exponent = 0.8;
  fixed.max_size = 1000;
  fixed.rate_limiter = RateLimiterOptions::MinSize(1);
  TableOptions variable;
  variable.name = "variable";
  variable.signature = {MakeSpec("trajectory", {-1})};
  variable.max_size = 1000;
  variable.rate_limiter = RateLimiterOptions::MinSize(1);
  ReplayServerOptions options;
  options.shard_index = kShard;
  options.tables = {fixed, variable};
  options.checkpoint_dir = dir;
  options.keep_checkpoints = keep;
  return options;
}

v1::Item MakeFixedItem(int i) {
  v1::Item item;
  item.set_table("fixed");
  item.set_priority(0.5 + i);
  item.set_policy_version(i);
  const std::vector<float> obs(4, static_cast<float>(i));
  EXPECT_TRUE(EncodeTensor<float>(obs, {4}, item.add_columns()).ok());
  const std::vector<float> reward = {static_cast<float>(-i)};
  EXPECT_TRUE(EncodeTensor<float>(reward, {}, item.add_columns()).ok());
  return item;
}

v1::Item MakeVariableItem(int i) {
  v1::Item item;
  item.set_table("variable");
  const std::vector<float> steps(1 + i % 7, static_cast<float>(i));
  EXPECT_TRUE(EncodeTensor<float>(steps, {static_cast<int64_t>(steps.size())},
                                  item.add_columns())
                  .ok());
  return item;
}

std::unique_ptr<ReplayServer> MakeServer(const ReplayServerOptions& options) {
  absl::StatusOr<std::unique_ptr<ReplayServer>> server =
      ReplayServer::Create(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// Inserts items [first, first + n) into both tables as writer 1 and 2.
void Fill(ReplayServer& server, int first, int n) {
  for (int i = first; i < first + n; ++i) {
    ASSERT_TRUE(*server.FindTable("fixed")->Insert(
        MakeFixedItem(i), /*writer_id=*/1, i, absl::InfiniteFuture()));
    ASSERT_TRUE(*server.FindTable("variable")
                     ->Insert(MakeVariableItem(i), /*writer_id=*/2, i,
                              absl::InfiniteFuture()));
  }
}

int64_t SizeOf(ReplayServer& server, const std::string& table) {
  return server.FindTable(table)->Info().size();
}

TEST(ReplayCheckpointTest, RoundTripRestoresItemsCountersAndKeys) {
  const std::string dir = MakeTempDir("replay_checkpoint").value();
  std::unique_ptr<ReplayServer> server = MakeServer(MakeOptions(dir));
  ASSERT_NE(server, nullptr);
  Fill(*server, /*first=*/1, /*n=*/50);
  google::protobuf::RepeatedPtrField<v1::SampledItem> sampled;
  ASSERT_TRUE(server->FindTable("fixed")
                  ->Sample(/*n=*/20, absl::InfiniteFuture(), &sampled)
                  .ok());
  std::vector<uint64_t> keys;
  std::vector<double> priorities;
  for (const v1::SampledItem& s : sampled) {
    keys.push_back(s.key());
    priorities.push_back(7.0);
  }
  ASSERT_TRUE(server->FindTable("variable")
                  ->Sample(/*n=*/5, absl::InfiniteFuture(), &sampled)
                  .ok());
  const v1::InfoResponse before = server->Info("").value();
  absl::StatusOr<v1::CheckpointResponse> done = server->Checkpoint();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->items(), 100);
  server.reset();

  std::unique_ptr<ReplayServer> restored = MakeServer(MakeOptions(dir));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->restored_from(), done->path());
  const v1::InfoResponse after = restored->Info("").value();
  ASSERT_EQ(after.tables_size(), 2);
  for (int t = 0; t < 2; ++t) {
    const v1::TableInfo& b = before.tables(t);
    const v1::TableInfo& a = after.tables(t);
    SCOPED_TRACE(b.name());
    EXPECT_EQ(a.size(), b.size());
    EXPECT_EQ(a.bytes(), b.bytes());
    EXPECT_EQ(a.inserts(), b.inserts());
    EXPECT_EQ(a.samples(), b.samples());
    EXPECT_EQ(a.evictions(), b.evictions());
    EXPECT_NEAR(a.total_priority(), b.total_priority(),
                1e-9 * b.total_priority());
    EXPECT_EQ(a.rate_limiter().inserts(), b.rate_limiter().inserts());
    EXPECT_EQ(a.rate_limiter().samples(), b.rate_limiter().samples());
  }
  EXPECT_GT(after.tables(0).total_priority(), 0.0);
  // Writer sequences: a replay of sequence 50 is dropped, 51 is stored.
  Table* fixed = restored->FindTable("fixed");
  EXPECT_FALSE(*fixed->Insert(MakeFixedItem(50), /*writer_id=*/1, 50,
                              absl::InfiniteFuture()));
  EXPECT_FALSE(*restored->FindTable("variable")
                    ->Insert(MakeVariableItem(3), /*writer_id=*/2, 3,
                             absl::InfiniteFuture()));
  // Keys sampled before the checkpoint still address their items.
  absl::StatusOr<PriorityUpdateResult> updated =
      fixed->UpdatePriorities(keys, priorities);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->updated, static_cast<int64_t>(keys.size()));
  EXPECT_TRUE(updated->missing_keys.empty());
  EXPECT_TRUE(*fixed->Insert(MakeFixedItem(51), /*writer_id=*/1, 51,
                             absl::InfiniteFuture()));
  EXPECT_EQ(SizeOf(*restored, "fixed"), 51);
  // The restored payloads read back intact.
  google::protobuf::RepeatedPtrField<v1::SampledItem> again;
  ASSERT_TRUE(restored->FindTable("variable")
                  ->Sample(/*n=*/30, absl::InfiniteFuture(), &again)
                  .ok());
  for (const v1::SampledItem& s : again) {
    const v1::Tensor& column = s.item().columns(0);
    ASSERT_EQ(column.shape_size(), 1);
    EXPECT_EQ(static_cast<int64_t>(column.data().size()), column.shape(0) * 4);
  }
  fs::remove_all(dir);
}

TEST(ReplayCheckpointTest,
     NewestCompleteCheckpointWinsAndIncompleteAreIgnored) {
  const std::string dir = MakeTempDir("replay_checkpoint").value();
  const ReplayServerOptions options = MakeOptions(dir, /*keep=*/5);
  std::unique_ptr<ReplayServer> server = MakeServer(options);
  ASSERT_NE(server, nullptr);
  Fill(*server, /*first=*/1, /*n=*/5);
  const std::string first = server->Checkpoint().value().path();
  Fill(*server, /*first=*/6, /*n=*/3);
  const std::string second = server->Checkpoint().value().path();
  server.reset();

  // Newest complete wins.
  server = MakeServer(options);
  EXPECT_EQ(server->restored_from(), second);
  EXPECT_EQ(SizeOf(*server, "fixed"), 8);
  server.reset();

  // A newest dir without DONE (as if killed before DONE was written, its
  // records cut short) and a newer .tmp with garbage are both ignored.
  fs::remove(fs::path(second) / "DONE");
  fs::resize_file(fs::path(second) / "shard.records", 20);
  const fs::path temp = fs::path(dir) / "ckpt-99999999999999999999.tmp";
  fs::create_directories(temp);
  ASSERT_TRUE(
      WriteTestFile((temp / "shard.records").string(), "not records").ok());
  ASSERT_TRUE(WriteTestFile((temp / "DONE").string(), "").ok());
  server = MakeServer(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->restored_from(), first);
  EXPECT_EQ(SizeOf(*server, "fixed"), 5);
  EXPECT_EQ(SizeOf(*server, "variable"), 5);

  // The next checkpoint clears the leftovers.
  const std::string third = server->Checkpoint().value().path();
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(second));
  EXPECT_THAT(ListCompleteCheckpoints(dir),
              ::testing::ElementsAre(first, third));
  fs::remove_all(dir);
}

TEST(ReplayCheckpointTest, CheckpointsBeyondKeepCheckpointsArePruned) {
  const std::string dir = MakeTempDir("replay_checkpoint").value();
  std::unique_ptr<ReplayServer> server =
      MakeServer(MakeOptions(dir, /*keep=*/2));
  ASSERT_NE(server, nullptr);
  std::vector<std::string> paths;
  for (int i = 0; i < 4; ++i) {
    Fill(*server, /*first=*/i + 1, /*n=*/1);
    paths.push_back(server->Checkpoint().value().path());
  }
  EXPECT_THAT(ListCompleteCheckpoints(dir),
              ::testing::ElementsAre(paths[2], paths[3]));
  EXPECT_FALSE(fs::exists(paths[0]));
  EXPECT_FALSE(fs::exists(paths[1]));
  fs::remove_all(dir);
}

TEST(ReplayCheckpointTest, ChangedSignatureIsAFailedPreconditionAtCreate) {
  const std::string dir = MakeTempDir("replay_checkpoint").value();
  std::unique_ptr<ReplayServer> server = MakeServer(MakeOptions(dir));
  ASSERT_NE(server, nullptr);
  Fill(*server, /*first=*/1, /*n=*/3);
  ASSERT_TRUE(server->Checkpoint().ok());
  server.reset();

  ReplayServerOptions changed = MakeOptions(dir);
  changed.tables[0].signature[0] = MakeSpec("observation", {5});
  absl::StatusOr<std::unique_ptr<ReplayServer>> refused =
      ReplayServer::Create(changed);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("checkpoint of table fixed: its signature differs"));
  fs::remove_all(dir);
}

// An item the insert counter never counted (inserted_at 0 or above the
// header's counter) cannot come from a table: the file is refused whole.
TEST(ReplayCheckpointTest, AnItemInsertedAfterTheCounterIsDataLoss) {
  const std::string dir = MakeTempDir("replay_checkpoint").value();
  std::unique_ptr<ReplayServer> server = MakeServer(MakeOptions(dir));
  ASSERT_NE(server, nullptr);
  Fill(*server, /*first=*/1, /*n=*/3);
  Table* table = server->FindTable("fixed");
  const std::string path = dir + "/fixed.records";
  {
    RecordWriter writer = RecordWriter::Open(path).value();
    ASSERT_EQ(table->WriteCheckpoint(&writer).value(), 3);
    ASSERT_TRUE(writer.Close().ok());
  }
  for (const uint64_t bad : {uint64_t{0}, uint64_t{4}}) {
    RecordReader reader = RecordReader::Open(path).value();
    v1::TableCheckpointHeader header;
    ASSERT_TRUE(reader.Read(&header).ok());
    ASSERT_EQ(header.insert_counter(), 3u);
    std::vector<v1::CheckpointItem> items(3);
    for (v1::CheckpointItem& item : items) ASSERT_TRUE(reader.Read(&item).ok());
    items[1].set_inserted_at(bad);
    const std::string edited = dir + "/edited.records";
    {
      RecordWriter writer = RecordWriter::Open(edited).value();
      ASSERT_TRUE(writer.Write(header).ok());
      for (const auto& item : items) ASSERT_TRUE(writer.Write(item).ok());
      ASSERT_TRUE(writer.Close().ok());
    }
    RecordReader edited_reader = RecordReader::Open(edited).value();
    ASSERT_TRUE(edited_reader.Read(&header).ok());
    const absl::Status restored =
        table->RestoreCheckpoint(header, &edited_reader);
    EXPECT_EQ(restored.code(), absl::StatusCode::kDataLoss) << restored;
    EXPECT_THAT(restored.message(),
                HasSubstr(absl::StrCat("slot ", items[1].slot())));
    EXPECT_EQ(table->Info().size(), 3);  // nothing changed
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shoal
