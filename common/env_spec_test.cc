#include "common/env_spec.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

TableConfig Table(std::vector<ColumnConfig> signature) {
  TableConfig table;
  table.name = "transitions";
  table.signature = std::move(signature);
  return table;
}

ColumnConfig Column(const std::string& name, v1::DType dtype,
                    std::vector<int64_t> shape,
                    std::vector<double> minimum = {},
                    std::vector<double> maximum = {}) {
  ColumnConfig column;
  column.name = name;
  column.dtype = dtype;
  column.shape = std::move(shape);
  column.minimum = std::move(minimum);
  column.maximum = std::move(maximum);
  return column;
}

TEST(EnvShapeFromSignatureTest, DiscreteActionsAreZeroToMaximum) {
  absl::StatusOr<EnvShape> shape = EnvShapeFromSignature(
      Table({Column("observation", v1::DTYPE_FLOAT32, {4}),
             Column("action", v1::DTYPE_INT64, {}, {0}, {1}),
             Column("reward", v1::DTYPE_FLOAT32, {})}),
      AlgorithmKind::kDqn);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->observation_size, 4);
  EXPECT_TRUE(shape->discrete);
  EXPECT_EQ(shape->num_actions, 2);
  EXPECT_EQ(shape->action_dim(), 1);
}

TEST(EnvShapeFromSignatureTest, BoxBoundsBroadcastOrGoPerDimension) {
  absl::StatusOr<EnvShape> one = EnvShapeFromSignature(
      Table({Column("observation", v1::DTYPE_FLOAT32, {64}),
             Column("action", v1::DTYPE_FLOAT32, {4}, {-0.5}, {0.5})}),
      AlgorithmKind::kSac);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_FALSE(one->discrete);
  EXPECT_EQ(one->observation_size, 64);
  EXPECT_EQ(one->low, std::vector<float>(4, -0.5f));
  EXPECT_EQ(one->high, std::vector<float>(4, 0.5f));
  absl::StatusOr<EnvShape> each = EnvShapeFromSignature(
      Table({Column("observation", v1::DTYPE_FLOAT32, {2, 3}),
             Column("action", v1::DTYPE_FLOAT32, {2}, {-1, -2}, {1, 2})}),
      AlgorithmKind::kSac);
  ASSERT_TRUE(each.ok()) << each.status();
  EXPECT_EQ(each->observation_size, 6);
  EXPECT_EQ(each->low, (std::vector<float>{-1, -2}));
  EXPECT_EQ(each->high, (std::vector<float>{1, 2}));
}

TEST(EnvShapeFromSignatureTest, UnrollsDropTheirTimeExtent) {
  absl::StatusOr<EnvShape> shape = EnvShapeFromSignature(
      Table({Column("observation", v1::DTYPE_FLOAT32, {21, 4}),
             Column("action", v1::DTYPE_INT64, {20}, {0}, {2})}),
      AlgorithmKind::kImpala);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->observation_size, 4);
  EXPECT_EQ(shape->num_actions, 3);
}

TEST(EnvShapeFromSignatureTest, ErrorsNameTheTableAndColumn) {
  const ColumnConfig observation =
      Column("observation", v1::DTYPE_FLOAT32, {4});
  auto error = [&](std::vector<ColumnConfig> signature,
                   AlgorithmKind algorithm = AlgorithmKind::kDqn) {
    absl::StatusOr<EnvShape> shape =
        EnvShapeFromSignature(Table(std::move(signature)), algorithm);
    EXPECT_EQ(shape.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(shape.status().message());
  };
  EXPECT_THAT(error({}), HasSubstr("table 'transitions' signature has no "
                                   "'observation' column"));
  EXPECT_THAT(error({observation}),
              HasSubstr("has no 'action' column: the learner sizes its "
                        "networks from the signature"));
  EXPECT_THAT(error({observation, Column("action", v1::DTYPE_INT64, {})}),
              HasSubstr("column 'action': needs minimum and maximum"));
  EXPECT_THAT(
      error({observation, Column("action", v1::DTYPE_INT64, {}, {1}, {3})}),
      HasSubstr("with minimum 0 and maximum n - 1 for n actions"));
  EXPECT_THAT(
      error({observation, Column("action", v1::DTYPE_INT32, {}, {0}, {3})}),
      HasSubstr("an action is int64 (discrete) or float32 of shape [dim]"));
  EXPECT_THAT(error({Column("observation", v1::DTYPE_FLOAT32, {-1}),
                     Column("action", v1::DTYPE_INT64, {}, {0}, {1})}),
              HasSubstr("column 'observation': shape [-1] must be fixed"));
  EXPECT_THAT(error({Column("observation", v1::DTYPE_FLOAT32, {}),
                     Column("action", v1::DTYPE_INT64, {20}, {0}, {1})},
                    AlgorithmKind::kImpala),
              HasSubstr("column 'observation': shape [] has no elements"));
}

TEST(EnvShapeOfTest, CopiesTheSpecsActionSpace) {
  EnvSpec spec;
  spec.observation_shape = {3};
  spec.action_space.kind = ActionSpace::Kind::kBox;
  spec.action_space.low = {-2};
  spec.action_space.high = {2};
  const EnvShape shape = EnvShapeOf(spec);
  EXPECT_EQ(shape.observation_size, 3);
  EXPECT_FALSE(shape.discrete);
  EXPECT_EQ(shape.low, std::vector<float>{-2});
  EXPECT_EQ(shape.high, std::vector<float>{2});
}

}  // namespace
}  // namespace shoal
