// libFuzzer target: arbitrary bytes parsed as a wire Tensor and checked
// against a fixed spec, decoded, and converted (ConvertTensorInto) must give
// a Status, never a crash or a read past the data.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/tensor_codec.h"
#include "tests/fuzz/fuzz_seeds.h"

namespace {

// Tensors the spec below accepts, and one it refuses.
shoal::fuzz::Seeds MakeSeeds() {
  shoal::fuzz::Seeds seeds;
  shoal::v1::Tensor tensor;
  const std::vector<float> f32(8, 1.5f);
  (void)shoal::EncodeTensor<float>(f32, {2, 4}, &tensor);
  seeds.emplace_back("float32_2x4", tensor.SerializeAsString());
  const std::vector<double> f64(4, -2.0);
  (void)shoal::EncodeTensor<double>(f64, {1, 4}, &tensor);
  seeds.emplace_back("float64_1x4", tensor.SerializeAsString());
  const std::vector<int32_t> i32(3, 7);
  (void)shoal::EncodeTensor<int32_t>(i32, {3}, &tensor);
  seeds.emplace_back("int32_3", tensor.SerializeAsString());
  return seeds;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  shoal::fuzz::WriteSeedsIfAsked(MakeSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shoal::v1::Tensor tensor;
  if (!tensor.ParseFromArray(data, static_cast<int>(size))) return 0;
  shoal::v1::TensorSpec spec;
  spec.set_dtype(shoal::v1::DTYPE_FLOAT32);
  spec.add_shape(-1);
  spec.add_shape(4);
  (void)shoal::CheckTensorMatchesSpec(tensor, spec, "fuzz");
  // A valid tensor's data is exactly what its shape says: no size wraps.
  if (shoal::ValidateTensor(tensor, "fuzz").ok()) {
    const absl::StatusOr<int64_t> bytes =
        shoal::NumBytes(tensor.dtype(), tensor.shape(), "fuzz");
    if (!bytes.ok() || *bytes != static_cast<int64_t>(tensor.data().size())) {
      __builtin_trap();
    }
  }
  if (shoal::ValidateTensor(tensor, "fuzz").ok() &&
      tensor.dtype() == shoal::v1::DTYPE_FLOAT64) {
    (void)shoal::DecodeTensor<double>(tensor, "fuzz");
  }
  // ConvertTensorInto (what both env sides decode with) against a fixed
  // expectation, as an env server checks an action or a client an
  // observation; and against the tensor's own shape, where it must accept
  // exactly the valid tensors.
  static constexpr shoal::v1::DType kAll[] = {
      shoal::v1::DTYPE_FLOAT32, shoal::v1::DTYPE_FLOAT64,
      shoal::v1::DTYPE_INT32,   shoal::v1::DTYPE_INT64,
      shoal::v1::DTYPE_UINT8,   shoal::v1::DTYPE_BOOL};
  static constexpr int64_t kShape[] = {2, 4};
  float floats[8];
  int64_t ints[8];
  (void)shoal::ConvertTensorInto(tensor, {kAll, kShape}, floats, "fuzz");
  (void)shoal::ConvertTensorInto(tensor, {kAll, kShape}, ints, "fuzz");
  const bool valid = shoal::ValidateTensor(tensor, "fuzz").ok();
  const absl::StatusOr<int64_t> n = shoal::NumElements(tensor.shape(), "fuzz");
  if (n.ok() && *n <= 4096) {
    std::vector<float> out(*n);
    shoal::ExpectedTensor own{kAll, tensor.shape()};
    own.allow_nonfinite = true;
    if (shoal::ConvertTensorInto(tensor, own, absl::MakeSpan(out), "fuzz")
            .ok() != valid) {
      __builtin_trap();
    }
  }
  return 0;
}
