#include "common/torch/tensor_torch.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "torch/torch.h"

#include "common/tensor_codec.h"

namespace shoal {
namespace {

std::vector<std::vector<int64_t>> TestShapes() {
  return {{}, {5}, {2, 3}, {2, 0, 3}, {2, 3, 4}, {1, 2, 3, 2}};
}

const std::vector<torch::ScalarType>& AllTypes() {
  static const auto* types = new std::vector<torch::ScalarType>{
      torch::kFloat32, torch::kFloat64, torch::kInt32,
      torch::kInt64,   torch::kUInt8,   torch::kBool};
  return *types;
}

torch::Tensor MakeSample(torch::ScalarType type,
                         const std::vector<int64_t>& shape) {
  torch::Tensor t =
      torch::arange(0, std::max<int64_t>(1, torch::empty(shape).numel()))
          .remainder(7)
          .sub(2);
  t = t.narrow(0, 0, torch::empty(shape).numel()).reshape(shape);
  return type == torch::kBool ? t.gt(0) : t.to(type);
}

TEST(TensorTorchTest, EveryDtypeAndRankRoundTripsThroughTheWire) {
  for (torch::ScalarType type : AllTypes()) {
    for (const std::vector<int64_t>& shape : TestShapes()) {
      torch::Tensor src = MakeSample(type, shape);
      v1::Tensor wire;
      ASSERT_TRUE(FromTorch(src, &wire).ok());
      ASSERT_TRUE(ValidateTensor(wire, "w").ok());
      absl::StatusOr<torch::Tensor> copy = ToTorch(wire, "w");
      ASSERT_TRUE(copy.ok()) << copy.status();
      EXPECT_EQ(copy->scalar_type(), type);
      EXPECT_EQ(copy->sizes(), src.sizes());
      EXPECT_TRUE(torch::equal(*copy, src)) << c10::toString(type);
      absl::StatusOr<torch::Tensor> view = ToTorchView(wire, "w");
      ASSERT_TRUE(view.ok());
      EXPECT_TRUE(torch::equal(*view, src));
    }
  }
}

TEST(TensorTorchTest, ViewAliasesTheWireBytes) {
  v1::Tensor wire;
  ASSERT_TRUE(FromTorch(torch::ones({4}), &wire).ok());
  torch::Tensor view = *ToTorchView(wire, "w");
  EXPECT_EQ(view.data_ptr(), static_cast<const void*>(wire.data().data()));
}

TEST(TensorTorchTest, StridedTensorsAreMadeContiguous) {
  torch::Tensor src = torch::arange(12, torch::kFloat32).reshape({3, 4}).t();
  ASSERT_FALSE(src.is_contiguous());
  v1::Tensor wire;
  ASSERT_TRUE(FromTorch(src, &wire).ok());
  EXPECT_TRUE(torch::equal(*ToTorch(wire, "w"), src));
}

TEST(TensorTorchTest, DecodeIntoTorchFillsOneRowOfABatch) {
  torch::Tensor batch = torch::zeros({3, 4}, torch::kFloat32);
  v1::Tensor wire;
  ASSERT_TRUE(FromTorch(torch::full({4}, 2.5f), &wire).ok());
  ASSERT_TRUE(DecodeIntoTorch(wire, batch[1], "items[1]").ok());
  EXPECT_TRUE(torch::equal(batch[1], torch::full({4}, 2.5f)));
  EXPECT_EQ(batch.sum().item<float>(), 10.0f);
}

TEST(TensorTorchTest, DecodeIntoTorchNamesMismatches) {
  v1::Tensor wire;
  ASSERT_TRUE(FromTorch(torch::ones({4}), &wire).ok());
  EXPECT_EQ(DecodeIntoTorch(wire, torch::zeros({5}), "obs").message(),
            "obs: shape [4] does not fit the destination of 5 elements");
  EXPECT_EQ(DecodeIntoTorch(wire, torch::zeros({4}, torch::kFloat64), "obs")
                .message(),
            "obs: dtype float32 does not match the destination's Double");
  wire.mutable_data()->resize(3);
  EXPECT_EQ(ToTorch(wire, "obs").status().message(),
            "obs: data has 3 bytes but float32 [4] needs 16");
}

TEST(TensorTorchTest, UnsupportedTorchDtypesAreRefused) {
  v1::Tensor wire;
  absl::Status status = FromTorch(torch::ones({2}, torch::kHalf), &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "torch dtype Half cannot be sent (use float32, float64, int32, "
            "int64, uint8 or bool)");
}

}  // namespace
}  // namespace shoal
