// Memory footprint of a replay table: what a stored item costs beyond its
// payload (slot, selectors, pool block rounding), measured as the growth of
// the process's resident set while a table fills, and max_bytes eviction.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"
#include "replay/table.h"
#include <unistd.h>

namespace shoal {
namespace {

constexpr int kFloats = 16;  // one float32[16] column: 64 payload bytes
constexpr int64_t kPayloadBytes = kFloats * 4;

v1::TensorSpec MakeSpec() {
  v1::TensorSpec spec;
  spec.set_name("observation");
  spec.set_dtype(v1::DTYPE_FLOAT32);
  spec.add_shape(kFloats);
  return spec;
}

TableOptions MakeOptions(int64_t max_size, int64_t max_bytes) {
  TableOptions options;
  options.name = "memory";
  options.signature = {MakeSpec()};
  options.sampler = SelectorKind::kUniform;
  options.remover = SelectorKind::kFifo;
  options.max_size = max_size;
  options.max_bytes = max_bytes;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  return options;
}

v1::Item MakeItem() {
  v1::Item item;
  item.set_table("memory");
  item.set_priority(1.0);
  const std::vector<float> values(kFloats, 0.5f);
  EXPECT_TRUE(EncodeTensor<float>(values, {kFloats}, item.add_columns()).ok());
  return item;
}

// Resident set size of this process in bytes, from /proc/self/statm.
int64_t ResidentBytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return -1;
  long total_pages = 0;
  long resident_pages = 0;
  const int read = std::fscanf(file, "%ld %ld", &total_pages, &resident_pages);
  std::fclose(file);
  if (read != 2) return -1;
  return static_cast<int64_t>(resident_pages) * sysconf(_SC_PAGESIZE);
}

TEST(TableMemoryTest, PerItemOverheadBeyondThePayloadIsAtMost64Bytes) {
  constexpr int64_t kItems = 1000000;
  constexpr int64_t kMaxOverheadBytes = 64;
  const v1::Item item = MakeItem();
  const int64_t before = ResidentBytes();
  ASSERT_GT(before, 0);
  std::unique_ptr<Table> table =
      Table::Create(MakeOptions(/*max_size=*/kItems, /*max_bytes=*/0)).value();
  for (int64_t i = 1; i <= kItems; ++i) {
    ASSERT_TRUE(*table->Insert(item, /*writer_id=*/1, /*sequence=*/i,
                               absl::InfiniteFuture()));
  }
  const int64_t after = ResidentBytes();
  const v1::TableInfo info = table->Info();
  ASSERT_EQ(info.size(), kItems);
  ASSERT_EQ(info.bytes(), kItems * kPayloadBytes);
  const double overhead =
      static_cast<double>(after - before - kItems * kPayloadBytes) / kItems;
  std::printf(
      "resident growth %lld bytes for %lld items of %lld bytes: "
      "%.1f bytes/item overhead\n",
      static_cast<long long>(after - before), static_cast<long long>(kItems),
      static_cast<long long>(kPayloadBytes), overhead);
  EXPECT_LE(overhead, kMaxOverheadBytes);
}

TEST(TableMemoryTest, MaxBytesEvictionKeepsTheTableUnderItsBound) {
  constexpr int64_t kMaxBytes = 1000 * kPayloadBytes + 10;
  std::unique_ptr<Table> table =
      Table::Create(MakeOptions(/*max_size=*/100000, kMaxBytes)).value();
  const v1::Item item = MakeItem();
  for (int64_t i = 1; i <= 5000; ++i) {
    ASSERT_TRUE(*table->Insert(item, /*writer_id=*/1, /*sequence=*/i,
                               absl::InfiniteFuture()));
    const v1::TableInfo info = table->Info();
    ASSERT_LE(info.bytes(), kMaxBytes) << "after insert " << i;
    ASSERT_EQ(info.bytes(), info.size() * kPayloadBytes);
  }
  const v1::TableInfo info = table->Info();
  EXPECT_EQ(info.size(), 1000);  // as many as fit
  EXPECT_EQ(info.evictions(), 4000);
  EXPECT_EQ(info.inserts(), 5000);
}

}  // namespace
}  // namespace shoal
