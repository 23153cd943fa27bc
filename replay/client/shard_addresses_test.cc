#include "replay/client/shard_addresses.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;

TEST(ShardAddressesTest, ListsKeepTheirOrder) {
  auto shards = ResolveShardAddresses(" b:2, a:1 ,[::1]:3");
  ASSERT_TRUE(shards.ok()) << shards.status();
  EXPECT_THAT(shards->addresses, ElementsAre("b:2", "a:1", "[::1]:3"));
  EXPECT_FALSE(shards->resolved);
}

TEST(ShardAddressesTest, ANameResolvingToOneAddressIsOneShard) {
  auto shards = ResolveShardAddresses("localhost:7000");
  ASSERT_TRUE(shards.ok()) << shards.status();
  EXPECT_THAT(shards->addresses, ElementsAre("localhost:7000"));
  auto literal = ResolveShardAddresses("dns:///127.0.0.1:7000");
  ASSERT_TRUE(literal.ok()) << literal.status();
  EXPECT_THAT(literal->addresses, ElementsAre("127.0.0.1:7000"));
}

TEST(ShardAddressesTest, BadListsAreRefused) {
  EXPECT_TRUE(absl::IsInvalidArgument(ResolveShardAddresses("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ResolveShardAddresses("a:1,").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ResolveShardAddresses("a").status()));
  EXPECT_TRUE(absl::IsNotFound(
      ResolveShardAddresses("no-such-host.invalid:1").status()));
}

TEST(ShardAddressesTest, KeysAndWritersMapStably) {
  EXPECT_EQ(ShardOfKey((uint64_t{3} << 48) | 12345), 3);
  EXPECT_EQ(StableHash(0), 0xe220a8397b1dcdafULL);  // splitmix64(0)
  std::set<uint64_t> shards;
  for (uint64_t writer = 0; writer < 16; ++writer) {
    shards.insert(StableHash(writer) % 4);
  }
  EXPECT_EQ(shards.size(), 4u);
}

}  // namespace
}  // namespace shoal
