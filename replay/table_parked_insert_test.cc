// Table::InsertBatchOrPark: inserts the rate limiter holds back park in the
// table without a thread and are woken, in arrival order and as many as
// there is room for, by whatever makes room: samples, Reset, a checkpoint
// restore, or Cancel (which wakes all of them). A woken waiter that does
// not use its room hands it on.
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/testing/test_util.h"
#include "replay/record_file.h"
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
  // Each sample takes the oldest item out, as a queue limiter expects.
  options.sampler = SelectorKind::kFifo;
  options.max_times_sampled = 1;
  options.max_size = 100000;
  options.rate_limiter = limiter;
  absl::StatusOr<std::unique_ptr<Table>> table = Table::Create(options);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

v1::Item MakeItem(int i) {
  v1::Item item;
  item.set_table("transitions");
  item.set_priority(1.0);
  v1::Tensor* column = item.add_columns();
  column->set_dtype(v1::DTYPE_UINT8);
  column->add_shape(4);
  column->set_data(std::string(4, static_cast<char>(i)));
  return item;
}

// One writer's batch of `n` items (sequences from 1), inserted with
// InsertBatchOrPark; counts its wakes and goes on only when told to.
// Thread-compatible, but OnInsertReady may come from any thread.
class TestWriter final : public InsertWaiter {
 public:
  TestWriter(Table* table, uint64_t writer_id, int n)
      : table_(table), writer_id_(writer_id) {
    for (int i = 0; i < n; ++i) items_.push_back(MakeItem(i));
  }

  void OnInsertReady() override { wakes_.fetch_add(1); }

  // Inserts from where it stopped: OK and parked(), or OK and done(), or
  // CANCELLED.
  absl::Status Go() {
    std::vector<const v1::Item*> rest;
    for (size_t i = next_; i < items_.size(); ++i) rest.push_back(&items_[i]);
    InsertBatchResult result;
    absl::Status status = table_->InsertBatchOrPark(
        rest, writer_id_, /*first_sequence=*/next_ + 1, this, &result);
    next_ += result.processed;
    stored_ += result.stored;
    parked_ = result.parked;
    return status;
  }

  int wakes() const { return wakes_.load(); }
  bool parked() const { return parked_; }
  bool done() const { return next_ == items_.size(); }
  int stored() const { return stored_; }

 private:
  Table* const table_;
  const uint64_t writer_id_;
  std::vector<v1::Item> items_;
  size_t next_ = 0;
  int stored_ = 0;
  bool parked_ = false;
  std::atomic<int> wakes_{0};
};

void SampleN(Table* table, int n) {
  google::protobuf::RepeatedPtrField<v1::SampledItem> out;
  ASSERT_TRUE(table->Sample(n, absl::InfiniteFuture(), &out).ok());
  ASSERT_EQ(out.size(), n);
}

TEST(TableParkedInsertTest, SamplesWakeAsManyWaitersAsTheyMakeRoomForInOrder) {
  // A queue of 2, full: every insert is held back.
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(2));
  TestWriter filler(table.get(), /*writer_id=*/1, /*n=*/2);
  ASSERT_TRUE(filler.Go().ok());
  ASSERT_TRUE(filler.done());
  TestWriter a(table.get(), 2, 1), b(table.get(), 3, 1), c(table.get(), 4, 1);
  for (TestWriter* w : {&a, &b, &c}) {
    ASSERT_TRUE(w->Go().ok());
    EXPECT_TRUE(w->parked());
  }
  EXPECT_EQ(table->Info().rate_limiter().blocked_inserts(), 3);

  SampleN(table.get(), 1);  // room for one: the first waiter only
  EXPECT_EQ(a.wakes(), 1);
  EXPECT_EQ(b.wakes(), 0);
  EXPECT_EQ(c.wakes(), 0);
  // A second sample makes room for one more: a's room is still out.
  SampleN(table.get(), 1);
  EXPECT_EQ(b.wakes(), 1);
  EXPECT_EQ(c.wakes(), 0);
  ASSERT_TRUE(a.Go().ok());
  ASSERT_TRUE(b.Go().ok());
  EXPECT_TRUE(a.done() && b.done());
  EXPECT_EQ(c.wakes(), 0);
  SampleN(table.get(), 1);
  EXPECT_EQ(c.wakes(), 1);
  ASSERT_TRUE(c.Go().ok());
  EXPECT_TRUE(c.done());
  EXPECT_EQ(table->Info().inserts(), 5);
  EXPECT_EQ(table->Info().rate_limiter().blocked_inserts(), 0);
}

TEST(TableParkedInsertTest, AWokenWaiterThatLeavesHandsItsRoomOn) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(1));
  TestWriter filler(table.get(), /*writer_id=*/1, /*n=*/1);
  ASSERT_TRUE(filler.Go().ok());
  TestWriter a(table.get(), 2, 1), b(table.get(), 3, 1);
  ASSERT_TRUE(a.Go().ok() && a.parked());
  ASSERT_TRUE(b.Go().ok() && b.parked());
  SampleN(table.get(), 1);
  EXPECT_EQ(a.wakes(), 1);
  EXPECT_EQ(b.wakes(), 0);
  // a's stream ended: it was not parked any more, and its room goes to b.
  EXPECT_FALSE(table->LeaveInsertQueue(&a));
  EXPECT_EQ(b.wakes(), 1);
  ASSERT_TRUE(b.Go().ok());
  EXPECT_TRUE(b.done());
  // A parked waiter that leaves is never woken.
  TestWriter c(table.get(), 4, 1);
  ASSERT_TRUE(c.Go().ok() && c.parked());
  EXPECT_TRUE(table->LeaveInsertQueue(&c));
  SampleN(table.get(), 1);
  EXPECT_EQ(c.wakes(), 0);
  EXPECT_EQ(table->Info().rate_limiter().blocked_inserts(), 0);
}

TEST(TableParkedInsertTest, AWokenWaiterHeldBackAgainKeepsItsTurn) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(1));
  TestWriter filler(table.get(), /*writer_id=*/1, /*n=*/2);
  ASSERT_TRUE(filler.Go().ok() && filler.parked());
  TestWriter a(table.get(), 2, 1);
  ASSERT_TRUE(a.Go().ok() && a.parked());
  SampleN(table.get(), 1);
  EXPECT_EQ(filler.wakes(), 1);
  // A writer that never waited takes the room first (it is not queued).
  TestWriter eager(table.get(), 3, 1);
  ASSERT_TRUE(eager.Go().ok() && eager.done());
  ASSERT_TRUE(filler.Go().ok());
  EXPECT_TRUE(filler.parked());  // held back again, at the front
  SampleN(table.get(), 1);
  EXPECT_EQ(filler.wakes(), 2);
  EXPECT_EQ(a.wakes(), 0);
  ASSERT_TRUE(filler.Go().ok());
  EXPECT_TRUE(filler.done());
  EXPECT_TRUE(table->LeaveInsertQueue(&a));
}

TEST(TableParkedInsertTest, ResetAndARestoredCheckpointWakeParkedInserts) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(2));
  const std::string path = MakeTempDir("parked").value() + "/table.records";
  {
    // The checkpoint of an empty table.
    RecordWriter writer = RecordWriter::Open(path).value();
    ASSERT_TRUE(table->WriteCheckpoint(&writer).ok());
    ASSERT_TRUE(writer.Close().ok());
  }
  TestWriter filler(table.get(), /*writer_id=*/1, /*n=*/2);
  ASSERT_TRUE(filler.Go().ok());
  TestWriter a(table.get(), 2, 1), b(table.get(), 3, 1), c(table.get(), 4, 1);
  for (TestWriter* w : {&a, &b, &c}) ASSERT_TRUE(w->Go().ok() && w->parked());
  table->Reset();  // room for two
  EXPECT_EQ(a.wakes(), 1);
  EXPECT_EQ(b.wakes(), 1);
  EXPECT_EQ(c.wakes(), 0);
  ASSERT_TRUE(a.Go().ok() && a.done());
  ASSERT_TRUE(b.Go().ok() && b.done());
  TestWriter d(table.get(), 5, 1);
  ASSERT_TRUE(d.Go().ok() && d.parked());
  RecordReader reader = RecordReader::Open(path).value();
  v1::TableCheckpointHeader header;
  ASSERT_TRUE(reader.Read(&header).ok());
  ASSERT_TRUE(table->RestoreCheckpoint(header, &reader).ok());
  EXPECT_EQ(c.wakes(), 1);
  EXPECT_EQ(d.wakes(), 1);
  ASSERT_TRUE(c.Go().ok() && c.done());
  ASSERT_TRUE(d.Go().ok() && d.done());
}

// A sample that has taken what it may and waits for more wakes the parked
// inserts it made room for before it waits: it may be waiting for them.
TEST(TableParkedInsertTest, ASampleThatWaitsWakesTheInsertsItMadeRoomForFirst) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(2));
  TestWriter writer(table.get(), /*writer_id=*/1, /*n=*/3);
  ASSERT_TRUE(writer.Go().ok());
  ASSERT_TRUE(writer.parked());
  absl::Status sampled;
  std::thread sampler([&] {
    google::protobuf::RepeatedPtrField<v1::SampledItem> out;
    sampled = table->Sample(3, absl::Now() + absl::Seconds(10), &out);
    EXPECT_EQ(out.size(), 3);
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (writer.wakes() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(writer.wakes(), 1);
  ASSERT_TRUE(writer.Go().ok());
  EXPECT_TRUE(writer.done());
  sampler.join();
  EXPECT_TRUE(sampled.ok()) << sampled;
}

TEST(TableParkedInsertTest, CancelWakesEveryParkedInsertAndParksNoMore) {
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(1));
  TestWriter filler(table.get(), /*writer_id=*/1, /*n=*/1);
  ASSERT_TRUE(filler.Go().ok());
  std::vector<std::unique_ptr<TestWriter>> writers;
  for (int i = 0; i < 5; ++i) {
    writers.push_back(std::make_unique<TestWriter>(table.get(), 10 + i, 3));
    ASSERT_TRUE(writers.back()->Go().ok() && writers.back()->parked());
  }
  table->Cancel();
  for (const auto& w : writers) {
    EXPECT_EQ(w->wakes(), 1);
    absl::Status status = w->Go();
    EXPECT_TRUE(absl::IsCancelled(status)) << status;
    EXPECT_FALSE(w->parked());
  }
  EXPECT_EQ(table->Info().rate_limiter().blocked_inserts(), 0);
}

// A writer of single-item batches numbered in order that, woken, queues
// itself in `ready` for a resumer thread. Its fields belong to the thread
// inserting for it: the one that parked it hands it over with the wake.
struct QueuedWriter final : public InsertWaiter {
  QueuedWriter(Table* table, uint64_t id, bool abandons, absl::Mutex* mu,
               std::deque<QueuedWriter*>* ready)
      : table(table), id(id), abandons(abandons), mu(mu), ready(ready) {}
  void OnInsertReady() override {
    absl::MutexLock lock(mu);
    ready->push_back(this);
  }
  Table* const table;
  const uint64_t id;
  const bool abandons;  // leaves on its first wake
  absl::Mutex* const mu;
  std::deque<QueuedWriter*>* const ready;
  int batches = 0;  // stored or dropped
  int stored = 0;
};

// 200 writers of 5 single-item batches each against a queue of 2, resumed
// by 2 threads as the table wakes them, while 2 samplers take items out;
// every tenth writer abandons its batch on its first wake (a cancelled
// stream) and leaves. The samplers wait for items without a deadline, so
// room no writer is woken for stalls everything. Nothing may be stranded: every
// other writer stores all its items within the deadline, the table's insert
// count is what the writers stored, and no waiter is left parked. The room an
// abandoning writer was woken for must reach the others, or with samples
// waiting for inserts both sides would stall.
TEST(TableParkedInsertTest, ConcurrentWritersAndSamplersStrandNobody) {
  constexpr int kWriters = 200;
  constexpr int kBatches = 5;
  std::unique_ptr<Table> table = MakeTable(RateLimiterOptions::Queue(2));

  absl::Mutex mu;
  std::deque<QueuedWriter*> ready;
  std::vector<std::unique_ptr<QueuedWriter>> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.push_back(std::make_unique<QueuedWriter>(
        table.get(), 1 + i, /*abandons=*/i % 10 == 0, &mu, &ready));
  }
  // Goes on until parked or finished; true when finished.
  auto go = [](QueuedWriter* w, bool woken) {
    if (woken && w->abandons) {
      w->table->LeaveInsertQueue(w);
      return true;
    }
    while (w->batches < kBatches) {
      const v1::Item item = MakeItem(w->batches);
      const v1::Item* items[] = {&item};
      InsertBatchResult result;
      EXPECT_TRUE(
          w->table->InsertBatchOrPark(items, w->id, w->batches + 1, w, &result)
              .ok());
      if (result.parked) return false;
      w->batches += result.processed;
      w->stored += result.stored;
    }
    return true;
  };
  std::atomic<int> finished{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {  // resumers
      while (!stop.load()) {
        QueuedWriter* w = nullptr;
        {
          absl::MutexLock lock(&mu);
          if (!ready.empty()) {
            w = ready.front();
            ready.pop_front();
          }
        }
        if (w == nullptr) {
          absl::SleepFor(absl::Microseconds(50));
          continue;
        }
        if (go(w, /*woken=*/true)) finished.fetch_add(1);
      }
    });
    threads.emplace_back([&] {  // samplers, until Cancel()
      while (true) {
        google::protobuf::RepeatedPtrField<v1::SampledItem> out;
        if (absl::IsCancelled(table->Sample(3, absl::InfiniteFuture(), &out))) {
          return;
        }
      }
    });
  }
  for (const auto& w : writers) {
    if (go(w.get(), /*woken=*/false)) finished.fetch_add(1);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (finished.load() < kWriters && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  stop = true;
  table->Cancel();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(finished.load(), kWriters);
  int64_t stored = 0;
  for (const auto& w : writers) {
    if (!w->abandons) {
      EXPECT_EQ(w->stored, kBatches) << "writer " << w->id;
    }
    stored += w->stored;
  }
  const v1::TableInfo info = table->Info();
  EXPECT_EQ(info.inserts(), stored);
  EXPECT_EQ(info.dropped_replays(), 0);
  EXPECT_EQ(info.rate_limiter().blocked_inserts(), 0);
}

}  // namespace
}  // namespace shoal
