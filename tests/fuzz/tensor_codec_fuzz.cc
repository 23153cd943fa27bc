// libFuzzer target: arbitrary bytes parsed as a wire Tensor and checked
// against a fixed spec must give a Status, never a crash or a read past the
// data.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/tensor_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shoal::v1::Tensor tensor;
  if (!tensor.ParseFromArray(data, static_cast<int>(size))) return 0;
  shoal::v1::TensorSpec spec;
  spec.set_dtype(shoal::v1::DTYPE_FLOAT32);
  spec.add_shape(-1);
  spec.add_shape(4);
  (void)shoal::CheckTensorMatchesSpec(tensor, spec, "fuzz");
  if (shoal::ValidateTensor(tensor, "fuzz").ok() &&
      tensor.dtype() == shoal::v1::DTYPE_FLOAT64) {
    (void)shoal::DecodeTensor<double>(tensor, "fuzz");
  }
  return 0;
}
