// Conversions between the wire `shoal::v1::Tensor` and `torch::Tensor`.
// Stateless and thread-safe. Errors are absl::Status; no c10::Error escapes.
//
// Copies: ToTorchView aliases the proto's bytes (zero copy; the caller keeps
// the proto alive and unmodified while the view is used); ToTorch and
// DecodeIntoTorch copy once, straight from the wire bytes; FromTorch copies
// once, straight from a contiguous CPU tensor into the proto's byte buffer.
#ifndef SHOAL_COMMON_TORCH_TENSOR_TORCH_H_
#define SHOAL_COMMON_TORCH_TENSOR_TORCH_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shoal/v1/tensor.pb.h"
#include "torch/types.h"

namespace shoal {

// The torch scalar type of a wire dtype, or INVALID_ARGUMENT.
absl::StatusOr<torch::ScalarType> ToTorchDType(v1::DType dtype);

// The wire dtype of a torch scalar type, or INVALID_ARGUMENT for types the
// wire does not carry (half, complex, ...).
absl::StatusOr<v1::DType> FromTorchDType(torch::ScalarType type);

// A CPU tensor that aliases `tensor.data()` without copying. Validates first.
// REQUIRES: `tensor` outlives the result and is not modified meanwhile.
absl::StatusOr<torch::Tensor> ToTorchView(const v1::Tensor& tensor,
                                          absl::string_view field);

// A CPU tensor that owns a copy of the elements.
absl::StatusOr<torch::Tensor> ToTorch(const v1::Tensor& tensor,
                                      absl::string_view field);

// Copies the elements of `tensor` into `dst`, which must be a contiguous CPU
// tensor (e.g. one row of a pinned batch) of the same dtype and number of
// elements. One memcpy; no allocation.
absl::Status DecodeIntoTorch(const v1::Tensor& tensor, torch::Tensor dst,
                             absl::string_view field);

// Writes `src` into `out` (dtype, shape, bytes). A contiguous CPU tensor is
// copied once; any other (strided, or on a GPU) is made contiguous on the
// CPU first. Reuses `out`'s byte buffer.
absl::Status FromTorch(const torch::Tensor& src, v1::Tensor* out);

}  // namespace shoal

#endif  // SHOAL_COMMON_TORCH_TENSOR_TORCH_H_
