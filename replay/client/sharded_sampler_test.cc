// ShardedSampler over two in-process shards with known contents: batches
// drawn from the union follow one big table's distribution (uniform and
// prioritized), reported probabilities are the union's, priority updates
// reach the owning shard only, and misrouted keys, misordered address
// lists and down shards are handled as documented.
#include "replay/client/sharded_sampler.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "replay/local_shard.h"
#include "replay/testing/testing.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

absl::Time In(absl::Duration d) { return absl::Now() + d; }

TableOptions MakeTable(int shard_index, bool prioritized) {
  TableOptions options;
  options.name = "ids";
  options.signature = IdSignature();
  options.sampler =
      prioritized ? SelectorKind::kPrioritized : SelectorKind::kUniform;
  options.sampler_priority_exponent = 1.0;
  options.max_size = 10000;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  options.shard_index = shard_index;
  return options;
}

// Shard i holds counts[i] items with ids i*10000 + k and priority
// priorities[i].
std::vector<std::unique_ptr<LocalShard>> StartShards(
    const std::vector<int>& counts, const std::vector<double>& priorities,
    bool prioritized) {
  std::vector<std::unique_ptr<LocalShard>> shards;
  for (int i = 0; i < static_cast<int>(counts.size()); ++i) {
    ReplayServerOptions options;
    options.shard_index = i;
    options.tables = {MakeTable(i, prioritized)};
    shards.push_back(std::move(LocalShard::Start(options).value()));
    for (int k = 0; k < counts[i]; ++k) {
      EXPECT_TRUE(shards[i]
                      ->table("ids")
                      ->Insert(MakeIdItem("ids", i * 10000 + k, priorities[i]),
                               /*writer_id=*/1, /*sequence=*/k + 1,
                               In(absl::Seconds(1)))
                      .ok());
    }
  }
  return shards;
}

std::string AddressList(const std::vector<std::unique_ptr<LocalShard>>& s) {
  std::string list;
  for (const auto& shard : s) {
    absl::StrAppend(&list, list.empty() ? "" : ",", shard->address());
  }
  return list;
}

ShardedSamplerOptions MakeOptions(const std::string& addresses) {
  ShardedSamplerOptions options;
  options.addresses = addresses;
  options.table = "ids";
  options.seed = 42;
  options.backoff.initial_delay = absl::Milliseconds(20);
  options.backoff.max_delay = absl::Milliseconds(100);
  return options;
}

// 100 items on shard 0, 300 on shard 1, uniform: 1e5 draws in batches of
// 500. Shard 0's share must be 0.25 within 4 sigma (sigma =
// sqrt(.25 * .75 / 1e5) = 0.00137), the per-item counts must pass a
// chi-square test against 1/400 each (399 degrees of freedom: mean 399,
// sd 28; we allow 399 + 6 sd), and every reported probability is 1/400.
TEST(ShardedSamplerTest, UniformBatchesAreDistributedAsOneBigTable) {
  auto shards = StartShards({100, 300}, {1.0, 1.0}, /*prioritized=*/false);
  auto sampler = ShardedSampler::Create(MakeOptions(AddressList(shards)));
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  constexpr int kBatches = 200;
  constexpr int kBatch = 500;
  constexpr double kN = kBatches * kBatch;
  absl::flat_hash_map<int64_t, int> counts;
  int from_shard0 = 0;
  for (int b = 0; b < kBatches; ++b) {
    auto batch = (*sampler)->Sample(kBatch, In(absl::Seconds(10)));
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->size(), kBatch);
    for (const v1::SampledItem& item : *batch) {
      ASSERT_NEAR(item.probability(), 1.0 / 400, 1e-15);
      const int64_t id = ItemId(item.item()).value();
      ++counts[id];
      if (id < 10000) ++from_shard0;
    }
  }
  const double sigma = std::sqrt(0.25 * 0.75 / kN);
  EXPECT_NEAR(from_shard0 / kN, 0.25, 4 * sigma);
  ASSERT_EQ(counts.size(), 400u);
  const double expected = kN / 400;
  double chi2 = 0;
  for (const auto& [id, n] : counts) {
    chi2 += (n - expected) * (n - expected) / expected;
  }
  EXPECT_LT(chi2, 399 + 6 * std::sqrt(2.0 * 399));
  const ShardedSamplerStats stats = (*sampler)->stats();
  EXPECT_EQ(stats.batches, kBatches);
  EXPECT_EQ(stats.items_per_shard[0], from_shard0);
}

// 100 items of priority 1 on shard 0 (mass 100) and 100 of priority 3 on
// shard 1 (mass 300), exponent 1: shard 1 gets 0.75 of the draws, and an
// item's union probability is its priority / 400.
TEST(ShardedSamplerTest, PrioritizedBatchesFollowEachShardsPriorityMass) {
  auto shards = StartShards({100, 100}, {1.0, 3.0}, /*prioritized=*/true);
  auto sampler = ShardedSampler::Create(MakeOptions(AddressList(shards)));
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  constexpr double kN = 40000;
  int from_shard1 = 0;
  for (int b = 0; b < 80; ++b) {
    auto batch = (*sampler)->Sample(500, In(absl::Seconds(10)));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const v1::SampledItem& item : *batch) {
      const bool shard1 = ItemId(item.item()).value() >= 10000;
      from_shard1 += shard1;
      ASSERT_NEAR(item.probability(), (shard1 ? 3.0 : 1.0) / 400, 1e-12);
    }
  }
  EXPECT_NEAR(from_shard1 / kN, 0.75, 4 * std::sqrt(0.75 * 0.25 / kN));
}

TEST(ShardedSamplerTest, PriorityUpdatesReachOnlyTheOwningShard) {
  auto shards = StartShards({50, 50}, {1.0, 1.0}, /*prioritized=*/true);
  auto sampler = ShardedSampler::Create(MakeOptions(AddressList(shards)));
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  auto batch = (*sampler)->Sample(200, In(absl::Seconds(10)));
  ASSERT_TRUE(batch.ok()) << batch.status();
  std::vector<uint64_t> keys;
  std::vector<double> priorities;
  for (const v1::SampledItem& item : *batch) {
    if (item.key() >> 48 == 1 && keys.size() < 5 &&
        std::find(keys.begin(), keys.end(), item.key()) == keys.end()) {
      keys.push_back(item.key());
      priorities.push_back(11.0);
    }
  }
  ASSERT_EQ(keys.size(), 5u);
  ASSERT_TRUE((*sampler)
                  ->UpdatePriorities(keys, priorities, In(absl::Seconds(5)))
                  .ok());
  EXPECT_DOUBLE_EQ(shards[0]->table("ids")->Info().total_priority(), 50.0);
  EXPECT_DOUBLE_EQ(shards[1]->table("ids")->Info().total_priority(),
                   45.0 + 5 * 11.0);
}

TEST(ShardedSamplerTest, KeysOfAShardBeyondTheListAreInvalid) {
  auto shards = StartShards({5, 5}, {1.0, 1.0}, /*prioritized=*/true);
  auto sampler = ShardedSampler::Create(MakeOptions(AddressList(shards)));
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  const std::vector<uint64_t> keys = {(uint64_t{2} << 48) | 7};
  const absl::Status status =
      (*sampler)->UpdatePriorities(keys, {1.0}, In(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("belongs to shard 2"));
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*sampler)->UpdatePriorities(keys, {}, In(absl::Seconds(5)))));
}

TEST(ShardedSamplerTest, AnAddressListOutOfShardOrderIsRefused) {
  auto shards = StartShards({5, 5}, {1.0, 1.0}, /*prioritized=*/false);
  const auto sampler = ShardedSampler::Create(MakeOptions(
      absl::StrCat(shards[1]->address(), ",", shards[0]->address())));
  EXPECT_TRUE(absl::IsInvalidArgument(sampler.status())) << sampler.status();
  EXPECT_THAT(sampler.status().message(),
              HasSubstr("position 0 (" + shards[1]->address() +
                        ") is served by shard_index 1"));
  ShardedSamplerOptions options = MakeOptions(AddressList(shards));
  options.table = "nope";
  EXPECT_TRUE(absl::IsNotFound(ShardedSampler::Create(options).status()));
}

// A stopped shard weighs 0: batches come from the other one. When both are
// down, Sample returns UNAVAILABLE at its deadline; a restarted shard is
// used again.
TEST(ShardedSamplerTest, DownShardsAreSkippedAndAllDownIsUnavailable) {
  auto shards = StartShards({20, 20}, {1.0, 1.0}, /*prioritized=*/false);
  ShardedSamplerOptions options = MakeOptions(AddressList(shards));
  options.info_max_age = absl::ZeroDuration();
  auto sampler = ShardedSampler::Create(options);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  ASSERT_TRUE((*sampler)->Sample(50, In(absl::Seconds(10))).ok());

  shards[0]->Stop();
  for (int b = 0; b < 5; ++b) {
    auto batch = (*sampler)->Sample(50, In(absl::Seconds(10)));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const v1::SampledItem& item : *batch) {
      EXPECT_GE(ItemId(item.item()).value(), 10000);
      EXPECT_NEAR(item.probability(), 1.0 / 20, 1e-12);
    }
  }
  EXPECT_FALSE((*sampler)->stats().shard_up[0]);

  shards[1]->Stop();
  const absl::Time start = absl::Now();
  auto none = (*sampler)->Sample(10, In(absl::Milliseconds(300)));
  EXPECT_TRUE(absl::IsUnavailable(none.status())) << none.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(290));

  ASSERT_TRUE(shards[1]->Restart().ok());  // empty now
  ASSERT_TRUE(shards[1]
                  ->table("ids")
                  ->Insert(MakeIdItem("ids", 10001), 1, 1, In(absl::Seconds(1)))
                  .ok());
  auto back = (*sampler)->Sample(10, In(absl::Seconds(10)));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ItemId((*back)[0].item()).value(), 10001);
}

}  // namespace
}  // namespace shoal
