#include "common/quote.h"

#include <string>

#include "gtest/gtest.h"

namespace shoal {
namespace {

TEST(QuoteTest, ShortPrintableTextIsQuotedAsIs) {
  EXPECT_EQ(Quote("cartpole"), "'cartpole'");
  EXPECT_EQ(Quote(""), "''");
}

TEST(QuoteTest, NonPrintableBytesAreEscaped) {
  EXPECT_EQ(Quote(std::string("a\nb\0\xff", 5)), "'a\\nb\\000\\377'");
}

TEST(QuoteTest, LongInputIsCutAndItsSizeSaid) {
  const std::string quoted = Quote(std::string(1 << 20, 'x'));
  EXPECT_EQ(quoted,
            "'" + std::string(kMaxQuotedBytes, 'x') + "'... (1048576 bytes)");
}

TEST(QuoteTest, EscapingBoundsTheLengthToFourBytesPerInputByte) {
  const std::string quoted = Quote(std::string(1 << 16, '\x01'));
  EXPECT_LE(quoted.size(), 4 * kMaxQuotedBytes + 32);
}

}  // namespace
}  // namespace shoal
