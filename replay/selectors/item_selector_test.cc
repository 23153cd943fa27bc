#include "replay/selectors/item_selector.h"

#include <limits>
#include <memory>
#include <string>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

TEST(ItemSelectorTest, EveryKindRoundTripsThroughItsName) {
  for (SelectorKind kind :
       {SelectorKind::kUniform, SelectorKind::kPrioritized, SelectorKind::kFifo,
        SelectorKind::kLifo, SelectorKind::kMinHeap, SelectorKind::kMaxHeap}) {
    absl::StatusOr<SelectorKind> parsed =
        SelectorKindFromName(SelectorKindName(kind));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, kind);
    absl::StatusOr<std::unique_ptr<ItemSelector>> selector =
        MakeSelector(kind, /*capacity=*/4, /*priority_exponent=*/0.6);
    ASSERT_TRUE(selector.ok()) << selector.status();
    EXPECT_EQ((*selector)->name(), SelectorKindName(kind));
    (*selector)->Insert(/*slot=*/2, /*priority=*/1.0);
    absl::BitGen rng;
    EXPECT_EQ((*selector)->Select(rng).slot, 2u);
  }
}

TEST(ItemSelectorTest, UnknownNameListsTheValidNames) {
  absl::StatusOr<SelectorKind> kind = SelectorKindFromName("random");
  ASSERT_EQ(kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(kind.status().message()),
              HasSubstr("\"random\"; valid selectors are uniform, "
                        "prioritized, fifo, lifo, min_heap, max_heap"));
}

TEST(ItemSelectorTest, MakeSelectorRejectsZeroCapacity) {
  absl::StatusOr<std::unique_ptr<ItemSelector>> selector =
      MakeSelector(SelectorKind::kFifo, /*capacity=*/0);
  ASSERT_EQ(selector.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(selector.status().message()),
              HasSubstr("capacity must be in [1, "));
}

TEST(ItemSelectorTest, MakeSelectorRejectsANegativeOrNonFiniteExponent) {
  for (double exponent : {-0.5, std::numeric_limits<double>::infinity(),
                          std::numeric_limits<double>::quiet_NaN()}) {
    absl::StatusOr<std::unique_ptr<ItemSelector>> selector =
        MakeSelector(SelectorKind::kPrioritized, /*capacity=*/4, exponent);
    ASSERT_EQ(selector.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(selector.status().message()),
                HasSubstr("priority_exponent must be finite and >= 0"));
  }
}

}  // namespace
}  // namespace shoal
