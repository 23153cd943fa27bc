// Table::InsertBatch: the same outcome as Insert called per item (sequence
// numbers, replays, the rate limiter), with one lock for the batch.
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "replay/table.h"

namespace shoal {
namespace {

std::unique_ptr<Table> MakeTable(RateLimiterOptions limiter) {
  TableOptions options;
  options.name = "transitions";
  v1::TensorSpec spec;
  spec.set_name("payload");
  spec.set_dtype(v1::DTYPE_UINT8);
  spec.add_shape(4);
  options.signature = {spec};
  // Each sample takes the oldest item out: samples come in insert order.
  options.sampler = SelectorKind::kFifo;
  options.max_times_sampled = 1;
  options.max_size = 100;
  options.rate_limiter = limiter;
  absl::StatusOr<std::unique_ptr<Table>> table = Table::Create(options);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

std::vector<v1::Item> MakeItems(int n) {
  std::vector<v1::Item> items(n);
  for (int i = 0; i < n; ++i) {
    items[i].set_table("transitions");
    items[i].set_priority(1.0);
    items[i].set_policy_version(i);
    v1::Tensor* column = items[i].add_columns();
    column->set_dtype(v1::DTYPE_UINT8);
    column->add_shape(4);
    column->set_data(std::string(4, static_cast<char>('a' + i)));
  }
  return items;
}

std::vector<const v1::Item*> Pointers(const std::vector<v1::Item>& items,
                                      int begin = 0) {
  std::vector<const v1::Item*> out;
  for (size_t i = begin; i < items.size(); ++i) out.push_back(&items[i]);
  return out;
}

TEST(TableInsertBatchTest, StoresEveryItemInOrder) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::MinSize(1));
  const std::vector<v1::Item> items = MakeItems(5);
  InsertBatchResult result;
  ASSERT_TRUE(table
                  ->InsertBatch(Pointers(items), /*writer_id=*/9,
                                /*first_sequence=*/1, absl::InfiniteFuture(),
                                &result)
                  .ok());
  EXPECT_EQ(result.processed, 5);
  EXPECT_EQ(result.stored, 5);
  EXPECT_EQ(table->Info().size(), 5);
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(5, absl::InfiniteFuture(), &out).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out.Get(i).item().policy_version(), i);
    EXPECT_EQ(out.Get(i).item().columns(0).data(), items[i].columns(0).data());
  }
}

TEST(TableInsertBatchTest, ReplayedSequenceNumbersAreDropped) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::MinSize(1));
  const std::vector<v1::Item> items = MakeItems(6);
  // Sequences 1..3 stored one by one, then a batch of 1..6 resent.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(*table->Insert(items[i], /*writer_id=*/9, i + 1,
                               absl::InfiniteFuture()));
  }
  InsertBatchResult result;
  ASSERT_TRUE(table
                  ->InsertBatch(Pointers(items), /*writer_id=*/9,
                                /*first_sequence=*/1, absl::InfiniteFuture(),
                                &result)
                  .ok());
  EXPECT_EQ(result.processed, 6);
  EXPECT_EQ(result.stored, 3);
  EXPECT_EQ(table->Info().size(), 6);
  // The whole batch again: nothing new; another writer's items are stored.
  ASSERT_TRUE(table
                  ->InsertBatch(Pointers(items), /*writer_id=*/9,
                                /*first_sequence=*/1, absl::InfiniteFuture(),
                                &result)
                  .ok());
  EXPECT_EQ(result.stored, 0);
  ASSERT_TRUE(table
                  ->InsertBatch(Pointers(items), /*writer_id=*/10,
                                /*first_sequence=*/1, absl::InfiniteFuture(),
                                &result)
                  .ok());
  EXPECT_EQ(result.stored, 6);
  EXPECT_EQ(table->Info().size(), 12);
  // A single Insert sees the batch's last sequence.
  EXPECT_FALSE(
      *table->Insert(items[0], /*writer_id=*/10, 6, absl::InfiniteFuture()));
}

TEST(TableInsertBatchTest, PastDeadlineStopsWhereTheLimiterBlocks) {
  // A queue of 3: the fourth insert waits for a sample.
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(3));
  const std::vector<v1::Item> items = MakeItems(5);
  InsertBatchResult result;
  absl::Status status =
      table->InsertBatch(Pointers(items), /*writer_id=*/9,
                         /*first_sequence=*/1, absl::InfinitePast(), &result);
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_EQ(result.processed, 3);
  EXPECT_EQ(result.stored, 3);
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(2, absl::InfiniteFuture(), &out).ok());
  // Going on from where it stopped stores the rest.
  ASSERT_TRUE(table
                  ->InsertBatch(Pointers(items, /*begin=*/3), /*writer_id=*/9,
                                /*first_sequence=*/4, absl::InfinitePast(),
                                &result)
                  .ok());
  EXPECT_EQ(result.processed, 2);
  EXPECT_EQ(table->Info().inserts(), 5);
}

// A batch blocked on the limiter waits (lock released) until a sampler
// makes room, then finishes; Cancel() ends a wait with CANCELLED.
TEST(TableInsertBatchTest, WaitsForSamplesAndWakesOnCancel) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(2));
  const std::vector<v1::Item> items = MakeItems(4);
  std::thread sampler([&] {
    absl::SleepFor(absl::Milliseconds(20));
    google::protobuf::RepeatedPtrField<v1::SampledItem> out;
    EXPECT_TRUE(table->Sample(2, absl::InfiniteFuture(), &out).ok());
  });
  InsertBatchResult result;
  EXPECT_TRUE(table
                  ->InsertBatch(Pointers(items), /*writer_id=*/9,
                                /*first_sequence=*/1,
                                absl::Now() + absl::Seconds(10), &result)
                  .ok());
  sampler.join();
  EXPECT_EQ(result.stored, 4);

  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(20));
    table->Cancel();
  });
  absl::Status status =
      table->InsertBatch(Pointers(items), /*writer_id=*/10,
                         /*first_sequence=*/1, absl::InfiniteFuture(), &result);
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  EXPECT_EQ(result.processed, 0);
}

}  // namespace
}  // namespace shoal
