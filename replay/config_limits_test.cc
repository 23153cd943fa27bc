// The replay's own checks agree with the limits that the config decoder
// enforces first (common/config_limits.h): the last value the decoder
// accepts is accepted here too and the next one is refused, so a config
// file never gets as far as these checks.
#include "common/config_limits.h"

#include <limits>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"
#include "replay/replay_service.h"
#include "replay/table.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

// A small table without a signature.
TableOptions MakeOptions() {
  TableOptions options;
  options.name = "transitions";
  options.max_size = 10;
  options.rate_limiter = {/*samples_per_insert=*/1.0,
                          /*min_size_to_sample=*/1,
                          /*min_diff=*/std::numeric_limits<double>::lowest(),
                          /*max_diff=*/std::numeric_limits<double>::max()};
  return options;
}

v1::Item MakeItem(int64_t actor_index, int64_t env_id) {
  v1::Item item;
  item.set_table("transitions");
  item.set_priority(1.0);
  item.set_actor_index(actor_index);
  item.set_env_id(env_id);
  EncodeTensor<float>(std::vector<float>{1.0f}, {1}, item.add_columns())
      .IgnoreError();
  return item;
}

TEST(ConfigLimitsTest, TableCreateRefusesTheFirstSizePastTheConfigLimit) {
  TableOptions options = MakeOptions();
  options.max_size = kMaxTableSize + 1;
  EXPECT_THAT(Table::Create(options).status().message(),
              HasSubstr(absl::StrCat("max_size must be in [1, ", kMaxTableSize,
                                     "], got ", kMaxTableSize + 1)));
}

TEST(ConfigLimitsTest, BatchSizeLimitIsTheServicesSampleRequestLimit) {
  EXPECT_EQ(ReplayServiceOptions().max_samples_per_request,
            kMaxSamplesPerRequest);
}

TEST(ConfigLimitsTest, TableStoresTheLastActorAndEnvIndexAndNoFurther) {
  absl::StatusOr<std::unique_ptr<Table>> table = Table::Create(MakeOptions());
  ASSERT_TRUE(table.ok()) << table.status();
  const Table& t = **table;
  EXPECT_TRUE(
      t.Validate(MakeItem(kMaxActors - 1, kMaxEnvsPerActor - 1), "item").ok());
  EXPECT_THAT(t.Validate(MakeItem(kMaxActors, 0), "item").message(),
              HasSubstr("actor_index must be in [0, 65535]"));
  EXPECT_THAT(t.Validate(MakeItem(0, kMaxEnvsPerActor), "item").message(),
              HasSubstr("env_id must be in [0, 65535]"));
}

}  // namespace
}  // namespace shoal
