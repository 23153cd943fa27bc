// libFuzzer target: arbitrary bytes parsed as a wire Tensor and checked
// against a fixed spec must give a Status, never a crash or a read past the
// data.
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
  return 0;
}
