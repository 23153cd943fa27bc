#include "replay/table.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

v1::TensorSpec MakeSpec(const std::string& name, v1::DType dtype,
                        std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(name);
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// A table of items {observation: float32[4], action: int64[]}.
TableOptions MakeOptions(int64_t max_size = 100) {
  TableOptions options;
  options.name = "transitions";
  options.signature = {MakeSpec("observation", v1::DTYPE_FLOAT32, {4}),
                       MakeSpec("action", v1::DTYPE_INT64, {})};
  options.max_size = max_size;
  options.rate_limiter = {/*samples_per_insert=*/1.0,
                          /*min_size_to_sample=*/1,
                          /*min_diff=*/std::numeric_limits<double>::lowest(),
                          /*max_diff=*/std::numeric_limits<double>::max()};
  options.shard_index = 3;
  return options;
}

v1::Item MakeItem(float value, double priority = 1.0) {
  v1::Item item;
  item.set_table("transitions");
  item.set_priority(priority);
  item.set_policy_version(7);
  item.set_actor_index(2);
  item.set_env_id(5);
  const std::vector<float> obs(4, value);
  EncodeTensor<float>(obs, {4}, item.add_columns()).IgnoreError();
  // NaN has no int64 value (casting it is undefined): use 0.
  const std::vector<int64_t> action = {
      static_cast<int64_t>(std::isnan(value) ? 0.0f : value)};
  EncodeTensor<int64_t>(action, {}, item.add_columns()).IgnoreError();
  return item;
}

std::unique_ptr<Table> MakeTable(TableOptions options = MakeOptions()) {
  absl::StatusOr<std::unique_ptr<Table>> table = Table::Create(options);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(*table);
}

absl::Time Soon() { return absl::Now() + absl::Milliseconds(200); }

float FirstObservation(const v1::SampledItem& sampled) {
  return DecodeTensor<float>(sampled.item().columns(0), "obs").value()[0];
}

TEST(TableTest, InsertedItemsComeBackWhole) {
  auto table = MakeTable();
  ASSERT_TRUE(table->Validate(MakeItem(1.5f), "item").ok());
  ASSERT_TRUE(
      *table->Insert(MakeItem(1.5f), /*writer_id=*/1, /*sequence=*/1, Soon()));
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(1, Soon(), &out).ok());
  ASSERT_EQ(out.size(), 1);
  const v1::SampledItem& s = out[0];
  EXPECT_EQ(s.key() >> 48, 3u);  // the shard index
  EXPECT_EQ(s.table_size(), 1);
  EXPECT_EQ(s.times_sampled(), 1);
  EXPECT_DOUBLE_EQ(s.probability(), 1.0);
  EXPECT_EQ(s.item().table(), "transitions");
  EXPECT_EQ(s.item().policy_version(), 7);
  EXPECT_EQ(s.item().actor_index(), 2);
  EXPECT_EQ(s.item().env_id(), 5);
  ASSERT_EQ(s.item().columns_size(), 2);
  EXPECT_EQ(DecodeTensor<float>(s.item().columns(0), "o").value(),
            std::vector<float>(4, 1.5f));
  EXPECT_EQ(DecodeTensor<int64_t>(s.item().columns(1), "a").value(),
            std::vector<int64_t>{1});
  EXPECT_EQ(s.item().columns(1).shape_size(), 0);
}

TEST(TableTest, ReplayedSequenceNumbersAreDropped) {
  auto table = MakeTable();
  EXPECT_TRUE(*table->Insert(MakeItem(1), 9, 1, Soon()));
  EXPECT_TRUE(*table->Insert(MakeItem(2), 9, 2, Soon()));
  EXPECT_FALSE(*table->Insert(MakeItem(1), 9, 1, Soon()));
  EXPECT_FALSE(*table->Insert(MakeItem(2), 9, 2, Soon()));
  EXPECT_TRUE(*table->Insert(MakeItem(2), /*writer_id=*/10, 2, Soon()));
  EXPECT_EQ(table->Info().size(), 3);
  EXPECT_EQ(table->Info().inserts(), 3);
}

TEST(TableTest, FifoRemoverEvictsTheOldestAtMaxSize) {
  auto table = MakeTable(MakeOptions(/*max_size=*/3));
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(table->Insert(MakeItem(i), 1, i, Soon()).ok());
  }
  v1::TableInfo info = table->Info();
  EXPECT_EQ(info.size(), 3);
  EXPECT_EQ(info.evictions(), 2);
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(300, Soon(), &out).ok());
  for (const v1::SampledItem& s : out) {
    EXPECT_GE(FirstObservation(s), 3.0f);  // items 1 and 2 are gone
  }
}

TEST(TableTest, MaxBytesEvictsToStayUnderTheBound) {
  TableOptions options = MakeOptions();
  options.max_bytes = 3 * 24;  // 24 payload bytes per item
  auto table = MakeTable(options);
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(table->Insert(MakeItem(i), 1, i, Soon()).ok());
    EXPECT_LE(table->Info().bytes(), 72);
  }
  EXPECT_EQ(table->Info().size(), 3);
  EXPECT_EQ(table->Info().evictions(), 7);
}

TEST(TableTest, ItemsLargerThanMaxBytesAreRejected) {
  TableOptions options = MakeOptions();
  options.max_bytes = 10;
  auto table = MakeTable(options);
  EXPECT_EQ(table->Validate(MakeItem(1), "items[0]").message(),
            "items[0]: item of 24 bytes exceeds max_bytes 10 of table "
            "transitions");
}

TEST(TableTest, MaxTimesSampledRemovesItems) {
  TableOptions options = MakeOptions();
  options.max_times_sampled = 2;
  auto table = MakeTable(options);
  ASSERT_TRUE(table->Insert(MakeItem(1), 1, 1, Soon()).ok());
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(2, Soon(), &out).ok());
  EXPECT_EQ(out.size(), 2);
  EXPECT_EQ(table->Info().size(), 0);
  EXPECT_EQ(table->Info().evictions(), 1);
}

TEST(TableTest, ValidateNamesEveryKindOfBadItem) {
  auto table = MakeTable();
  v1::Item item = MakeItem(1);
  item.mutable_columns()->RemoveLast();
  EXPECT_EQ(table->Validate(item, "items[0]").message(),
            "items[0]: missing column action: item has 1 columns, signature "
            "has 2");
  item = MakeItem(1);
  *item.add_columns() = item.columns(0);
  EXPECT_EQ(table->Validate(item, "items[0]").message(),
            "items[0]: extra column: item has 3 columns, signature has 2");
  item = MakeItem(1);
  item.mutable_columns(0)->set_dtype(v1::DTYPE_INT32);
  EXPECT_EQ(table->Validate(item, "items[0]").message(),
            "items[0].columns[0] (observation): dtype int32 != signature "
            "dtype float32");
  item = MakeItem(1);
  EncodeTensor<float>(std::vector<float>(3), {3}, item.mutable_columns(0))
      .IgnoreError();
  EXPECT_EQ(table->Validate(item, "items[0]").message(),
            "items[0].columns[0] (observation): shape [3] != signature shape "
            "[4]");
  item = MakeItem(std::nanf(""));
  EXPECT_THAT(table->Validate(item, "items[0]").message(),
              HasSubstr("items[0].columns[0] (observation): element 0 is not "
                        "finite"));
  item = MakeItem(1, /*priority=*/-1);
  EXPECT_EQ(table->Validate(item, "items[0]").message(),
            "items[0].priority must be finite and >= 0, got -1");
  item = MakeItem(1, /*priority=*/std::nan(""));
  EXPECT_THAT(table->Validate(item, "items[0]").message(),
              HasSubstr("items[0].priority must be finite"));
  item = MakeItem(1);
  item.set_table("other");
  EXPECT_EQ(table->Validate(item, "items[0]").message(),
            "items[0]: table 'other' is not 'transitions'");
}

// replay.proto: SampledItem.times_sampled counts "this time included", so
// an item drawn k times by one call (uniform sampling with replacement)
// reports 1, 2, ..., k in the order its copies come out, on both the
// message path and the wire-bytes path.
TEST(TableTest, RepeatsWithinOneSampleCountEachTime) {
  auto table = MakeTable();
  ASSERT_TRUE(table->Insert(MakeItem(1), 1, 1, Soon()).ok());
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(5, Soon(), &out).ok());
  ASSERT_EQ(out.size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i].times_sampled(), i + 1) << "copy " << i;
  }

  EncodedSamples encoded;
  ASSERT_TRUE(table->SampleEncoded(3, Soon(), &encoded).ok());
  v1::SampleResponse response;
  ASSERT_TRUE(response.ParseFromString(SampleEncoder::ResponseHead(1) +
                                       encoded.bytes +
                                       SampleEncoder::ResponseTail(true)));
  ASSERT_EQ(response.items_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(response.items(i).times_sampled(), 5 + i + 1) << "copy " << i;
  }
}

TEST(TableTest, SampleWaitsForMinSizeThenTimesOut) {
  TableOptions options = MakeOptions();
  options.rate_limiter.min_size_to_sample = 2;
  auto table = MakeTable(options);
  ASSERT_TRUE(table->Insert(MakeItem(1), 1, 1, Soon()).ok());
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  const absl::Time start = absl::Now();
  absl::Status status =
      table->Sample(1, absl::Now() + absl::Milliseconds(100), &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  EXPECT_TRUE(out.empty());
}

TEST(TableTest, CancelWakesBlockedSamplers) {
  auto table = MakeTable();
  absl::Status status;
  std::thread sampler([&] {
    google::protobuf::RepeatedPtrField<v1::SampledItem> out;
    status = table->Sample(1, absl::InfiniteFuture(), &out);
  });
  absl::SleepFor(absl::Milliseconds(50));
  table->Cancel();
  sampler.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
}

TEST(TableTest, PriorityUpdatesFindLiveKeysAndReportEvictedOnes) {
  TableOptions options = MakeOptions(/*max_size=*/2);
  options.sampler = SelectorKind::kPrioritized;
  auto table = MakeTable(options);
  ASSERT_TRUE(table->Insert(MakeItem(1), 1, 1, Soon()).ok());
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(1, Soon(), &out).ok());
  const uint64_t old_key = out[0].key();
  // Two more inserts evict item 1; its slot is reused by item 3.
  ASSERT_TRUE(table->Insert(MakeItem(2), 1, 2, Soon()).ok());
  ASSERT_TRUE(table->Insert(MakeItem(3), 1, 3, Soon()).ok());
  absl::StatusOr<PriorityUpdateResult> result =
      table->UpdatePriorities({old_key}, {5.0});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->updated, 0);
  EXPECT_THAT(result->missing_keys, ::testing::ElementsAre(old_key));

  out.Clear();
  ASSERT_TRUE(table->Sample(1, Soon(), &out).ok());
  result = table->UpdatePriorities({out[0].key()}, {5.0});
  EXPECT_EQ(result->updated, 1);
  EXPECT_GT(table->Info().total_priority(), 5.0);
}

TEST(TableTest, PriorityUpdatesRejectBadInputAndChangeNothing) {
  auto table = MakeTable();
  ASSERT_TRUE(table->Insert(MakeItem(1), 1, 1, Soon()).ok());
  EXPECT_EQ(table->UpdatePriorities({1, 2}, {1.0}).status().message(),
            "keys has 2 entries but priorities has 1");
  const uint64_t mine = uint64_t{3} << 48;
  EXPECT_EQ(table->UpdatePriorities({mine}, {-2.0}).status().message(),
            "priorities[0] must be finite and >= 0, got -2");
  EXPECT_EQ(
      table->UpdatePriorities({uint64_t{4} << 48}, {1.0}).status().message(),
      "keys[0] belongs to shard 4, this is shard 3");
}

TEST(TableTest, ResetEmptiesButKeepsWriterSequences) {
  auto table = MakeTable();
  ASSERT_TRUE(table->Insert(MakeItem(1), 1, 1, Soon()).ok());
  table->Reset();
  EXPECT_EQ(table->Info().size(), 0);
  EXPECT_EQ(table->Info().bytes(), 0);
  EXPECT_FALSE(*table->Insert(MakeItem(1), 1, 1, Soon()));
}

TEST(TableTest, WildcardSignaturesStoreEachItemsShape) {
  TableOptions options = MakeOptions();
  options.signature = {MakeSpec("frames", v1::DTYPE_UINT8, {-1, 2})};
  auto table = MakeTable(options);
  for (int rows = 1; rows <= 3; ++rows) {
    v1::Item item;
    item.set_table("transitions");
    std::vector<uint8_t> data(rows * 2, static_cast<uint8_t>(rows));
    ASSERT_TRUE(
        EncodeTensor<uint8_t>(data, {rows, 2}, item.add_columns()).ok());
    ASSERT_TRUE(table->Validate(item, "item").ok());
    ASSERT_TRUE(table->Insert(item, 1, rows, Soon()).ok());
  }
  // Every stored byte counts: each item's block is an 8-byte header, its
  // column's framing (10 bytes: tags, lengths, dtype, shape) and its data.
  EXPECT_EQ(table->Info().bytes(), 3 * (8 + 10) + (2 + 4 + 6));
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(50, Soon(), &out).ok());
  for (const v1::SampledItem& s : out) {
    const v1::Tensor& frames = s.item().columns(0);
    const int rows = static_cast<int>(frames.shape(0));
    EXPECT_EQ(frames.data(), std::string(rows * 2, static_cast<char>(rows)));
  }
}

TEST(TableTest, CreateRejectsBadOptions) {
  TableOptions options = MakeOptions();
  options.max_size = 0;
  EXPECT_THAT(Table::Create(options).status().message(),
              HasSubstr("table transitions: max_size must be in [1, "));
  options = MakeOptions();
  options.rate_limiter.min_diff = 5;
  options.rate_limiter.max_diff = 1;
  EXPECT_THAT(Table::Create(options).status().message(),
              HasSubstr("table transitions: "));
}

}  // namespace
}  // namespace shoal
