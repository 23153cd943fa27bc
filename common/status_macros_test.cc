#include "common/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace shoal {
namespace {

absl::Status FailIf(bool fail) {
  return fail ? absl::InvalidArgumentError("asked to fail") : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool fail) {
  if (fail) return absl::NotFoundError("no int");
  return std::make_unique<int>(7);
}

absl::Status Chain(bool fail_first, bool fail_second, int* out) {
  SHOAL_RETURN_IF_ERROR(FailIf(fail_first));
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<int> value, MakeInt(fail_second));
  *out = *value;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorPropagatesTheFirstError) {
  int out = 0;
  absl::Status status = Chain(/*fail_first=*/true, /*fail_second=*/false, &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "asked to fail");
  EXPECT_EQ(out, 0);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesTheError) {
  int out = 0;
  absl::Status status = Chain(/*fail_first=*/false, /*fail_second=*/true, &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(out, 0);
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValueOut) {
  int out = 0;
  ASSERT_TRUE(Chain(/*fail_first=*/false, /*fail_second=*/false, &out).ok());
  EXPECT_EQ(out, 7);
}

TEST(StatusMacrosTest, AssignOrReturnWorksTwiceInOneScope) {
  auto twice = []() -> absl::StatusOr<int> {
    SHOAL_ASSIGN_OR_RETURN(auto a, MakeInt(false));
    SHOAL_ASSIGN_OR_RETURN(auto b, MakeInt(false));
    return *a + *b;
  };
  absl::StatusOr<int> sum = twice();
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, 14);
}

}  // namespace
}  // namespace shoal
