// Replay tables and checkpoints under concurrent load.
//
// TableConcurrencyTest.*: 16 threads share one prioritized and one uniform
// table for about 3 seconds: writers insert (each one also resends part of
// what it already stored, as a reconnecting writer does), samplers sample,
// updaters set priorities of sampled keys, and one thread resets the tables
// and reads Info. At the end the tables must be intact: size <= max_size,
// bytes == size * item bytes, the table's insert counter equals the items
// the writers saw acknowledged as stored (acknowledged minus dropped
// duplicates, and the duplicates are exactly the resent items), and every
// sampled key carries this shard's index.
//
// CheckpointConcurrencyTest.*: writers and samplers run while three threads
// call ReplayServer::Checkpoint() over and over; a new ReplayServer on the
// same directory must restore exactly the item count that the newest
// checkpoint reported.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"
#include "common/testing/test_util.h"
#include "replay/record_file.h"
#include "replay/replay_server.h"
#include "replay/table.h"

namespace shoal {
namespace {

constexpr int kShard = 5;
constexpr int kFloats = 8;
constexpr int64_t kItemBytes = kFloats * 4;
constexpr int64_t kMaxSize = 2000;

TableOptions MakeOptions(const std::string& name, SelectorKind sampler) {
  TableOptions options;
  options.name = name;
  v1::TensorSpec spec;
  spec.set_name("observation");
  spec.set_dtype(v1::DTYPE_FLOAT32);
  spec.add_shape(kFloats);
  options.signature = {spec};
  options.sampler = sampler;
  options.sampler_priority_exponent = 0.6;
  options.max_size = kMaxSize;
  options.shard_index = kShard;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  return options;
}

v1::Item MakeItem(const std::string& table, float value) {
  v1::Item item;
  item.set_table(table);
  item.set_priority(1.0 + value);
  const std::vector<float> values(kFloats, value);
  EXPECT_TRUE(EncodeTensor<float>(values, {kFloats}, item.add_columns()).ok());
  return item;
}

// What the writer threads saw.
struct WriteCounts {
  std::atomic<int64_t> stored{0};
  std::atomic<int64_t> duplicates{0};
  std::atomic<int64_t> resent{0};
};

// Keys the samplers saw, for the updaters.
class KeyBox {
 public:
  void Put(uint64_t key) {
    absl::MutexLock lock(&mu_);
    if (keys_.size() < 4096) keys_.push_back(key);
  }
  std::vector<uint64_t> Take() {
    absl::MutexLock lock(&mu_);
    std::vector<uint64_t> taken;
    taken.swap(keys_);
    return taken;
  }

 private:
  absl::Mutex mu_;
  std::vector<uint64_t> keys_ ABSL_GUARDED_BY(mu_);
};

// Inserts batches of 8 and, every fourth batch, resends the last 3 items.
void WriteUntil(Table* table, uint64_t writer_id, const std::atomic<bool>* stop,
                WriteCounts* counts) {
  uint64_t next = 1;
  int batch = 0;
  while (!stop->load()) {
    uint64_t first = next;
    if (++batch % 4 == 0 && next > 3) {
      first = next - 3;
      counts->resent += 3;
    }
    for (uint64_t seq = first; seq < next + 8; ++seq) {
      const v1::Item item =
          MakeItem(table->name(), static_cast<float>(seq % 100));
      absl::StatusOr<bool> stored = table->Insert(
          item, writer_id, seq, absl::Now() + absl::Milliseconds(100));
      ASSERT_TRUE(stored.ok()) << stored.status();
      ++(*stored ? counts->stored : counts->duplicates);
    }
    next += 8;
  }
}

void SampleUntil(Table* table, const std::atomic<bool>* stop, KeyBox* keys,
                 std::atomic<int64_t>* wrong_shard) {
  while (!stop->load()) {
    google::protobuf::RepeatedPtrField<v1::SampledItem> out;
    absl::Status status =
        table->Sample(/*n=*/16, absl::Now() + absl::Milliseconds(20), &out);
    // An empty table (just reset) makes a sample wait until its deadline.
    ASSERT_TRUE(status.ok() || absl::IsDeadlineExceeded(status)) << status;
    for (const v1::SampledItem& sampled : out) {
      if ((sampled.key() >> 48) != kShard) ++*wrong_shard;
      if (sampled.item().columns(0).data().size() != kItemBytes) ++*wrong_shard;
      keys->Put(sampled.key());
    }
  }
}

void UpdateUntil(Table* table, const std::atomic<bool>* stop, KeyBox* keys) {
  absl::BitGen rng;
  while (!stop->load()) {
    const std::vector<uint64_t> taken = keys->Take();
    std::vector<double> priorities(taken.size());
    for (double& p : priorities) p = absl::Uniform(rng, 0.0, 10.0);
    absl::StatusOr<PriorityUpdateResult> result =
        table->UpdatePriorities(taken, priorities);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(
        result->updated + static_cast<int64_t>(result->missing_keys.size()),
        static_cast<int64_t>(taken.size()));
    absl::SleepFor(absl::Microseconds(200));
  }
}

void ResetAndInspectUntil(const std::vector<Table*>& tables,
                          const std::atomic<bool>* stop) {
  while (!stop->load()) {
    absl::SleepFor(absl::Milliseconds(150));
    for (Table* table : tables) {
      table->Reset();
      const v1::TableInfo info = table->Info();
      ASSERT_LE(info.size(), kMaxSize);
      ASSERT_EQ(info.bytes(), info.size() * kItemBytes);
    }
  }
}

TEST(TableConcurrencyTest, SixteenThreadsLeaveBothTablesConsistent) {
  std::unique_ptr<Table> prioritized =
      Table::Create(MakeOptions("prioritized", SelectorKind::kPrioritized))
          .value();
  std::unique_ptr<Table> uniform =
      Table::Create(MakeOptions("uniform", SelectorKind::kUniform)).value();
  std::vector<Table*> tables = {prioritized.get(), uniform.get()};

  std::atomic<bool> stop{false};
  WriteCounts counts[2];
  KeyBox keys[2];
  std::atomic<int64_t> wrong_shard{0};
  std::vector<std::thread> threads;
  // 8 writers, 4 samplers, 2 updaters, 1 resetter = 15, plus this thread.
  for (int t = 0; t < 2; ++t) {
    for (uint64_t w = 0; w < 4; ++w) {
      threads.emplace_back(WriteUntil, tables[t], /*writer_id=*/100 + w, &stop,
                           &counts[t]);
    }
    for (int s = 0; s < 2; ++s) {
      threads.emplace_back(SampleUntil, tables[t], &stop, &keys[t],
                           &wrong_shard);
    }
    threads.emplace_back(UpdateUntil, tables[t], &stop, &keys[t]);
  }
  threads.emplace_back(ResetAndInspectUntil, tables, &stop);
  absl::SleepFor(absl::Seconds(3));
  stop = true;
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(wrong_shard.load(), 0);
  for (int t = 0; t < 2; ++t) {
    const v1::TableInfo info = tables[t]->Info();
    SCOPED_TRACE(info.name());
    EXPECT_LE(info.size(), kMaxSize);
    EXPECT_EQ(info.bytes(), info.size() * kItemBytes);
    EXPECT_GT(counts[t].stored.load(), 0);
    EXPECT_EQ(info.inserts(), counts[t].stored.load());
    EXPECT_EQ(counts[t].duplicates.load(), counts[t].resent.load());
    EXPECT_GT(info.samples(), 0);
    if (t == 0) {
      EXPECT_GE(info.total_priority(), 0.0);
      if (info.size() == 0) {
        EXPECT_NEAR(info.total_priority(), 0.0, 1e-6);
      }
    }
    // Still usable: one more insert and sample.
    ASSERT_TRUE(*tables[t]->Insert(MakeItem(info.name(), 1.0f),
                                   /*writer_id=*/999, /*sequence=*/1,
                                   absl::InfiniteFuture()));
    google::protobuf::RepeatedPtrField<v1::SampledItem> out;
    ASSERT_TRUE(tables[t]->Sample(/*n=*/4, absl::InfiniteFuture(), &out).ok());
    EXPECT_EQ(out.size(), 4);
  }
}

TEST(CheckpointConcurrencyTest, CheckpointsWhileInsertingRestoreTheirCount) {
  const std::string dir = MakeTempDir("checkpoint_concurrency").value();
  ReplayServerOptions options;
  options.shard_index = kShard;
  options.tables = {MakeOptions("prioritized", SelectorKind::kPrioritized),
                    MakeOptions("uniform", SelectorKind::kUniform)};
  options.checkpoint_dir = dir;
  options.keep_checkpoints = 2;
  std::unique_ptr<ReplayServer> server = ReplayServer::Create(options).value();

  std::atomic<bool> stop{false};
  WriteCounts counts;
  KeyBox keys;
  std::atomic<int64_t> wrong_shard{0};
  absl::Mutex newest_mu;
  v1::CheckpointResponse newest;  // the one with the greatest path
  int checkpoints = 0;
  std::vector<std::thread> threads;
  for (const auto& table : server->tables()) {
    for (uint64_t w = 0; w < 2; ++w) {
      threads.emplace_back(WriteUntil, table.get(), /*writer_id=*/w, &stop,
                           &counts);
    }
    threads.emplace_back(SampleUntil, table.get(), &stop, &keys, &wrong_shard);
  }
  for (int c = 0; c < 3; ++c) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        absl::StatusOr<v1::CheckpointResponse> done = server->Checkpoint();
        ASSERT_TRUE(done.ok()) << done.status();
        absl::MutexLock lock(&newest_mu);
        ++checkpoints;
        if (done->path() > newest.path()) newest = *done;
      }
    });
  }
  absl::SleepFor(absl::Seconds(2));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong_shard.load(), 0);
  ASSERT_GE(checkpoints, 3);
  std::vector<std::string> complete = ListCompleteCheckpoints(dir);
  ASSERT_EQ(complete.size(), 2u);
  EXPECT_EQ(complete.back(), newest.path());

  server.reset();
  std::unique_ptr<ReplayServer> restored =
      ReplayServer::Create(options).value();
  EXPECT_EQ(restored->restored_from(), newest.path());
  int64_t items = 0;
  for (const auto& table : restored->tables()) {
    const v1::TableInfo info = table->Info();
    EXPECT_EQ(info.bytes(), info.size() * kItemBytes);
    items += info.size();
  }
  EXPECT_EQ(items, newest.items());
  std::filesystem::remove_all(dir);
}

// While one thread inserts into a full table as fast as it can (each insert
// evicts an item), every checkpoint must hold exactly the items of the
// moment it began, each once, each with its own payload. A fifo table holds
// exactly the last max_size items inserted: inserted_at in
// (insert_counter - max_size, insert_counter]; the walk goes oldest first
// and evictions trail it. A uniform remover evicts ahead of the walk too, so
// items deleted before the walk reached them must be written as well.
void CheckpointsWhileEvicting(SelectorKind remover) {
  constexpr int64_t kSize = 20000;  // several walk chunks
  TableOptions options = MakeOptions("full", SelectorKind::kUniform);
  options.max_size = kSize;
  options.remover = remover;
  std::unique_ptr<Table> table = Table::Create(options).value();
  uint64_t seq = 0;
  auto insert = [&] {
    ++seq;
    ASSERT_TRUE(table
                    ->Insert(MakeItem("full", static_cast<float>(seq)),
                             /*writer_id=*/1, seq, absl::InfiniteFuture())
                    .ok());
  };
  while (seq < kSize) insert();
  std::atomic<bool> stop{false};
  std::thread inserter([&] {
    while (!stop.load()) insert();
  });
  const std::string dir = MakeTempDir("checkpoint_walk").value();
  int64_t most_inserted_during_a_write = 0;
  for (int round = 0; round < 20; ++round) {
    const std::string path = dir + "/table.records";
    {
      RecordWriter writer = RecordWriter::Open(path).value();
      absl::StatusOr<int64_t> written = table->WriteCheckpoint(&writer);
      ASSERT_TRUE(written.ok()) << written.status();
      EXPECT_EQ(*written, kSize);
      ASSERT_TRUE(writer.Close().ok());
    }
    RecordReader reader = RecordReader::Open(path).value();
    v1::TableCheckpointHeader header;
    ASSERT_TRUE(reader.Read(&header).ok());
    ASSERT_EQ(header.num_items(), kSize);
    most_inserted_during_a_write =
        std::max(most_inserted_during_a_write,
                 table->Info().inserts() - header.inserts());
    const uint64_t last = header.insert_counter();
    absl::flat_hash_set<uint64_t> seen;
    for (int64_t i = 0; i < header.num_items(); ++i) {
      v1::CheckpointItem item;
      ASSERT_TRUE(reader.Read(&item).ok());
      ASSERT_LE(item.inserted_at(), last);
      if (remover == SelectorKind::kFifo) {
        ASSERT_GT(item.inserted_at(), last - kSize);
      }
      ASSERT_TRUE(seen.insert(item.inserted_at()).second)
          << "item " << item.inserted_at() << " twice";
      float value;
      std::memcpy(&value, item.payload().data(), sizeof(value));
      // One writer without resends: the table's insert counter is seq.
      ASSERT_EQ(value, static_cast<float>(item.inserted_at()));
    }
    v1::CheckpointItem extra;
    EXPECT_EQ(reader.Read(&extra).code(), absl::StatusCode::kOutOfRange);
  }
  stop = true;
  inserter.join();
  // The walks ran while items were evicted under them.
  EXPECT_GT(most_inserted_during_a_write, 1000);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointConcurrencyTest,
     AFullFifoTableWritesExactlyWhatItHeldAtTheStart) {
  CheckpointsWhileEvicting(SelectorKind::kFifo);
}

TEST(CheckpointConcurrencyTest,
     AUniformRemoverEvictingAheadOfTheWalkLosesNothing) {
  CheckpointsWhileEvicting(SelectorKind::kUniform);
}

}  // namespace
}  // namespace shoal
