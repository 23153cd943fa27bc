#include "replay/testing/shard_process.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

#include "common/testing/test_util.h"
#include "replay/testing/testing.h"

namespace shoal {
namespace {

ShardProcessOptions MakeOptions() {
  const std::string dir = MakeTempDir("shard-process-test-").value();
  EXPECT_TRUE(WriteTestFile(dir + "/shoal.yaml", FifoIdTableYaml(1)).ok());
  ShardProcessOptions options;
  options.config_file = dir + "/shoal.yaml";
  options.checkpoint_dir = dir + "/ckpt";
  return options;
}

TEST(ShardProcessTest, RestartsOnTheSamePortAfterKillAndTerminate) {
  auto shard = ShardProcess::Start(MakeOptions());
  ASSERT_TRUE(shard.ok()) << shard.status();
  const int port = (*shard)->port();
  EXPECT_GT(port, 0);
  EXPECT_TRUE((*shard)->running());
  ASSERT_TRUE((*shard)->Kill().ok());
  EXPECT_FALSE((*shard)->running());
  ASSERT_TRUE((*shard)->Restart().ok());
  EXPECT_EQ((*shard)->port(), port);
  EXPECT_TRUE(absl::IsFailedPrecondition((*shard)->Restart()));
  absl::StatusOr<int> code = (*shard)->Terminate();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);  // SIGTERM: drain, checkpoint, exit 0
}

TEST(ShardProcessTest, ABadConfigFailsWithTheShardsMessage) {
  ShardProcessOptions options = MakeOptions();
  options.shard_index = 5;
  auto shard = ShardProcess::Start(options);
  EXPECT_TRUE(absl::IsInternal(shard.status()));
  EXPECT_NE(shard.status().message().find("--shard_index"), std::string::npos)
      << shard.status();
}

}  // namespace
}  // namespace shoal
