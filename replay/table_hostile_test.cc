// What a table keeps whatever a client sends: acknowledged means stored
// (sequence runs), max_bytes bounds what items hold (unknown fields and
// shapes count or are dropped), priorities cannot make the sum tree's total
// infinite, the writer map stays bounded, and a sample can be encoded in
// byte-bounded chunks.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"
#include "common/testing/test_util.h"
#include "replay/table.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

v1::TensorSpec MakeSpec(v1::DType dtype, std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name("payload");
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// "t": one uint8 column of `shape` (a -1 extent: the variable layout).
TableOptions MakeOptions(std::vector<int64_t> shape = {4}) {
  TableOptions options;
  options.name = "t";
  options.signature = {MakeSpec(v1::DTYPE_UINT8, shape)};
  options.sampler = SelectorKind::kPrioritized;
  options.max_size = 1000;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  return options;
}

std::unique_ptr<Table> MakeTable(const TableOptions& options = MakeOptions()) {
  absl::StatusOr<std::unique_ptr<Table>> table = Table::Create(options);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

v1::Item MakeItem(int64_t bytes = 4, double priority = 1.0) {
  v1::Item item;
  item.set_table("t");
  item.set_priority(priority);
  v1::Tensor* column = item.add_columns();
  column->set_dtype(v1::DTYPE_UINT8);
  column->add_shape(bytes);
  column->set_data(std::string(bytes, 'x'));
  return item;
}

absl::Time Soon() { return absl::Now() + absl::Seconds(5); }

// Stores `n` items of `writer` numbered from `first`; returns how many the
// table stored (the rest were dropped as resends).
int InsertRun(Table& table, uint64_t writer, uint64_t first, int n) {
  const v1::Item item = MakeItem();
  std::vector<const v1::Item*> items(n, &item);
  InsertBatchResult result;
  EXPECT_TRUE(table.InsertBatch(items, writer, first, Soon(), &result).ok());
  return result.stored;
}

TEST(TableHostileTest, ResendsInsideTheStoredRunAreDroppedAndCounted) {
  auto table = MakeTable();
  EXPECT_EQ(InsertRun(*table, /*writer=*/1, /*first=*/100, /*n=*/3), 3);
  EXPECT_TRUE(table->CheckSequences(1, 100, 5).ok());
  EXPECT_EQ(InsertRun(*table, 1, 101, 4), 2);  // 101, 102 resent; 103, 104
  EXPECT_EQ(table->Info().size(), 5);
  EXPECT_EQ(table->Info().dropped_replays(), 2);
}

// The case: 100..102 stored, then 50..52 (never sent before) must
// not be acknowledged as resends; the shard cannot tell them from numbers
// of an earlier run, so it refuses them.
TEST(TableHostileTest, NumbersBelowTheStoredRunAreRefusedNotDropped) {
  auto table = MakeTable();
  ASSERT_EQ(InsertRun(*table, 1, 100, 3), 3);
  for (const auto& [first, n] : std::vector<std::pair<uint64_t, int>>{
           {50, 3}, {99, 2}, {1, 200}, {99, 1}}) {
    const absl::Status status = table->CheckSequences(1, first, n);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << first;
    EXPECT_THAT(status.message(),
                HasSubstr(absl::StrCat("first_sequence: ", first,
                                       " goes back below 100")));
  }
  // Above the run, or another writer: fine.
  EXPECT_TRUE(table->CheckSequences(1, 103, 10).ok());
  EXPECT_TRUE(table->CheckSequences(2, 50, 3).ok());
  EXPECT_EQ(table->Info().dropped_replays(), 0);
}

TEST(TableHostileTest, AGapStartsANewRun) {
  auto table = MakeTable();
  ASSERT_EQ(InsertRun(*table, 1, 100, 3), 3);
  ASSERT_EQ(InsertRun(*table, 1, 200, 3), 3);  // 103..199 went elsewhere
  EXPECT_TRUE(table->CheckSequences(1, 200, 3).ok());
  EXPECT_FALSE(table->CheckSequences(1, 150, 3).ok());
  EXPECT_FALSE(table->CheckSequences(1, 101, 1).ok());
  EXPECT_EQ(InsertRun(*table, 1, 201, 3), 1);
}

// A table called directly (no CheckSequences first) stores numbers below
// the run rather than dropping them: acknowledged means stored.
TEST(TableHostileTest, InsertBatchStoresNumbersOutsideTheRun) {
  auto table = MakeTable();
  ASSERT_EQ(InsertRun(*table, 1, 100, 3), 3);
  EXPECT_EQ(InsertRun(*table, 1, 50, 3), 3);
  EXPECT_EQ(table->Info().size(), 6);
  EXPECT_EQ(InsertRun(*table, 1, 100, 3), 0);  // the run is still 100..102
}

// The runs travel with a checkpoint: after a restore, a resend inside the
// run is still dropped and a number below it still refused. A checkpoint
// whose run is inverted is refused whole.
TEST(TableHostileTest, WriterRunsSurviveACheckpoint) {
  auto table = MakeTable();
  ASSERT_EQ(InsertRun(*table, 1, 100, 3), 3);
  const std::string dir = MakeTempDir("table_hostile").value();
  const std::string path = dir + "/t.records";
  {
    RecordWriter writer = RecordWriter::Open(path).value();
    ASSERT_EQ(table->WriteCheckpoint(&writer).value(), 3);
    ASSERT_TRUE(writer.Close().ok());
  }
  auto restored = MakeTable();
  {
    RecordReader reader = RecordReader::Open(path).value();
    v1::TableCheckpointHeader header;
    ASSERT_TRUE(reader.Read(&header).ok());
    ASSERT_EQ(header.writers_size(), 1);
    EXPECT_EQ(header.writers(0).run_first(), 100u);
    ASSERT_TRUE(restored->RestoreCheckpoint(header, &reader).ok());
  }
  EXPECT_FALSE(restored->CheckSequences(1, 50, 3).ok());
  EXPECT_EQ(InsertRun(*restored, 1, 101, 3), 1);
  RecordReader reader = RecordReader::Open(path).value();
  v1::TableCheckpointHeader header;
  ASSERT_TRUE(reader.Read(&header).ok());
  header.mutable_writers(0)->set_run_first(200);  // past its last, 102
  EXPECT_EQ(MakeTable()->RestoreCheckpoint(header, &reader).code(),
            absl::StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST(TableHostileTest, TheWriterMapForgetsTheIdlestPastItsBound) {
  TableOptions options = MakeOptions();
  options.max_size = 10;
  auto table = MakeTable(options);
  const int64_t writers = kMaxWriters + kMaxWriters / 2;
  for (int64_t w = 1; w <= writers; ++w) {
    ASSERT_EQ(InsertRun(*table, w, 1, 1), 1);
  }
  const v1::TableInfo info = table->Info();
  EXPECT_LE(info.writers(), kMaxWriters);
  EXPECT_EQ(info.writers() + info.forgotten_writers(), writers);
  // The newest writer is remembered; the first, long idle, was forgotten,
  // so its resend is stored again (never lost).
  EXPECT_EQ(InsertRun(*table, writers, 1, 1), 0);
  EXPECT_EQ(InsertRun(*table, 1, 1, 1), 1);
}

TEST(TableHostileTest, PrioritiesThatWouldMakeTheTotalInfiniteAreRefused) {
  TableOptions options = MakeOptions();
  options.sampler_priority_exponent = 2.0;
  auto table = MakeTable(options);
  for (double priority : {DBL_MAX, 1e160, 1e155}) {
    const absl::Status status =
        table->Validate(MakeItem(4, priority), "items[0]");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << priority;
    EXPECT_THAT(status.message(), HasSubstr("items[0].priority"));
    EXPECT_THAT(status.message(), HasSubstr("priority_exponent 2"));
  }
  ASSERT_TRUE(table->Validate(MakeItem(4, 1e140), "items[0]").ok());
  ASSERT_TRUE(table->Insert(MakeItem(4, 1e140), 1, 1, Soon()).ok());
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(1, Soon(), &out).ok());
  const uint64_t key = out[0].key();
  const absl::StatusOr<PriorityUpdateResult> update =
      table->UpdatePriorities({key, key}, {1.0, DBL_MAX});
  EXPECT_EQ(update.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(update.status().message(), HasSubstr("priorities[1]"));
  EXPECT_TRUE(std::isfinite(table->Info().total_priority()));
  EXPECT_DOUBLE_EQ(table->Info().total_priority(), 1e280);
}

// Many of the largest weights the table admits still sum to a finite total
// at the largest capacity.
TEST(TableHostileTest, TheLargestAdmittedWeightsSumToAFiniteTotal) {
  const double most = Table::MaxPriorityWeight();
  EXPECT_TRUE(std::isfinite(most * static_cast<double>(int64_t{1} << 28)));
  TableOptions options = MakeOptions();
  options.sampler_priority_exponent = 1.0;
  auto table = MakeTable(options);
  for (int i = 1; i <= 1000; ++i) {
    ASSERT_TRUE(table->Validate(MakeItem(4, most), "item").ok());
    ASSERT_TRUE(table->Insert(MakeItem(4, most), 1, i, Soon()).ok());
  }
  EXPECT_TRUE(std::isfinite(table->Info().total_priority()));
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(64, Soon(), &out).ok());
  for (const v1::SampledItem& s : out) {
    EXPECT_NEAR(s.probability(), 1.0 / 1000, 1e-9);
  }
}

// Unknown fields on the item and on its tensors are never stored, in
// either layout, and max_bytes counts what is stored.
TEST(TableHostileTest, UnknownFieldsAreNotStoredOrServed) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{4}, std::vector<int64_t>{-1}}) {
    TableOptions options = MakeOptions(shape);
    options.max_bytes = 1 << 20;
    auto table = MakeTable(options);
    v1::Item item = MakeItem();
    const std::string junk(256 << 10, 'j');
    item.GetReflection()->MutableUnknownFields(&item)->AddLengthDelimited(99,
                                                                          junk);
    v1::Tensor* column = item.mutable_columns(0);
    column->GetReflection()->MutableUnknownFields(column)->AddLengthDelimited(
        99, junk);
    ASSERT_TRUE(table->Validate(item, "item").ok());
    for (int i = 1; i <= 10; ++i) {
      ASSERT_TRUE(table->Insert(item, 1, i, Soon()).ok());
    }
    EXPECT_EQ(table->Info().size(), 10);
    EXPECT_LT(table->Info().bytes(), 10 * 64) << shape[0];
    google::protobuf::RepeatedPtrField<v1::SampledItem> out;
    ASSERT_TRUE(table->Sample(3, Soon(), &out).ok());
    EncodedSamples encoded;
    ASSERT_TRUE(table->SampleEncoded(3, Soon(), &encoded).ok());
    EXPECT_LT(encoded.bytes.size(), 3 * 256u);
    for (const v1::SampledItem& s : out) {
      EXPECT_LT(s.ByteSizeLong(), 256u);
      EXPECT_EQ(s.item().columns(0).data(), "xxxx");
    }
  }
}

// In the variable layout every stored byte counts against max_bytes, so
// items of no data but long shapes cannot hold more than the bound.
TEST(TableHostileTest, ShapesOfEmptyItemsCountAgainstMaxBytes) {
  TableOptions options = MakeOptions({-1});
  options.signature.clear();  // any columns
  options.max_bytes = 4096;
  auto table = MakeTable(options);
  v1::Item item;
  item.set_table("t");
  for (int c = 0; c < 8; ++c) {
    v1::Tensor* column = item.add_columns();
    column->set_dtype(v1::DTYPE_FLOAT32);
    for (int d = 0; d < kMaxTensorRank; ++d) column->add_shape(d == 0 ? 0 : 1);
  }
  ASSERT_TRUE(table->Validate(item, "item").ok());
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(table->Insert(item, 1, i, Soon()).ok());
  }
  EXPECT_LE(table->Info().bytes(), 4096);
  EXPECT_GT(table->Info().evictions(), 0);
}

TEST(TableHostileTest, SignaturesWhoseSizeOverflowsAreRefused) {
  TableOptions options = MakeOptions({int64_t{1} << 31, int64_t{1} << 31});
  options.signature[0].set_dtype(v1::DTYPE_FLOAT32);
  EXPECT_THAT(Table::Create(options).status().message(),
              HasSubstr("signature[0] (payload) is over"));
  options = MakeOptions({int64_t{1} << 30});
  options.signature.push_back(options.signature[0]);
  options.signature.push_back(options.signature[0]);
  EXPECT_THAT(Table::Create(options).status().message(),
              HasSubstr("over 2147483647 bytes together"));
}

// SampleEncoded with a byte bound: every chunk stays within it (an item
// larger than the bound goes alone), `full` says why it stopped, and the
// chunks together hold what was asked for.
TEST(TableHostileTest, SampleEncodedStopsAtItsByteBound) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{1000}, std::vector<int64_t>{-1}}) {
    auto table = MakeTable(MakeOptions(shape));
    for (int i = 1; i <= 50; ++i) {
      ASSERT_TRUE(table->Insert(MakeItem(1000), 1, i, Soon()).ok());
    }
    int total = 0;
    int chunks = 0;
    while (total < 200) {
      EncodedSamples chunk;
      bool full = false;
      ASSERT_TRUE(table
                      ->SampleEncoded(200 - total, Soon(), &chunk,
                                      /*max_bytes=*/8000, &full)
                      .ok());
      EXPECT_LE(chunk.bytes.size(), 8000u);
      EXPECT_GE(chunk.size(), std::min(6, 200 - total)) << shape[0];
      EXPECT_EQ(full, total + chunk.size() < 200);
      total += chunk.size();
      ++chunks;
    }
    EXPECT_EQ(total, 200);
    EXPECT_GE(chunks, 25);
    EXPECT_EQ(table->Info().samples(), 200);
    EncodedSamples alone;
    bool full = false;
    ASSERT_TRUE(
        table->SampleEncoded(5, Soon(), &alone, /*max_bytes=*/10, &full).ok());
    EXPECT_EQ(alone.size(), 1);
    EXPECT_TRUE(full);
  }
}

}  // namespace
}  // namespace shoal
