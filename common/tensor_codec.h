// Conversions between the wire `shoal::v1::Tensor` (dtype, shape, little-
// endian bytes) and typed C++ buffers, plus the checks every inbound tensor
// goes through. Stateless and thread-safe. Errors name the offending field
// with the caller's `field` prefix, e.g. "items[3].columns[0]: ...".
#ifndef SHOAL_COMMON_TENSOR_CODEC_H_
#define SHOAL_COMMON_TENSOR_CODEC_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "shoal/v1/tensor.pb.h"

namespace shoal {

// Bytes per element of `dtype`; 0 for DTYPE_UNSPECIFIED and unknown values.
int DTypeSize(v1::DType dtype);

// "float32", "int64", ...; "unspecified" for anything else.
absl::string_view DTypeName(v1::DType dtype);

// Parses a DTypeName() string.
absl::StatusOr<v1::DType> DTypeFromName(absl::string_view name);

// The wire dtype of a C++ element type (float, double, int32_t, int64_t,
// uint8_t, bool).
template <typename T>
constexpr v1::DType DTypeOf();
template <>
constexpr v1::DType DTypeOf<float>() {
  return v1::DTYPE_FLOAT32;
}
template <>
constexpr v1::DType DTypeOf<double>() {
  return v1::DTYPE_FLOAT64;
}
template <>
constexpr v1::DType DTypeOf<int32_t>() {
  return v1::DTYPE_INT32;
}
template <>
constexpr v1::DType DTypeOf<int64_t>() {
  return v1::DTYPE_INT64;
}
template <>
constexpr v1::DType DTypeOf<uint8_t>() {
  return v1::DTYPE_UINT8;
}
template <>
constexpr v1::DType DTypeOf<bool>() {
  return v1::DTYPE_BOOL;
}

// Number of elements of `shape` (1 for a scalar); an error when an extent is
// negative or the product overflows 2^62.
absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape,
                                    absl::string_view field);

// Checks that `tensor` is well formed: a known dtype, non-negative extents,
// exactly NumElements * DTypeSize bytes, and bool bytes that are 0 or 1.
absl::Status ValidateTensor(const v1::Tensor& tensor, absl::string_view field);

// ValidateTensor, then checks dtype and shape against `spec` (an extent of
// -1 in the spec matches any size) and, for float columns that do not
// allow it, that every value is finite. O(size).
absl::Status CheckTensorMatchesSpec(const v1::Tensor& tensor,
                                    const v1::TensorSpec& spec,
                                    absl::string_view field);

// "[2, 3]" for messages.
std::string ShapeString(absl::Span<const int64_t> shape);

// Fills `out` with `values` laid out as `shape`. The size of `values` must be
// NumElements(shape). Reuses `out`'s byte buffer (no allocation when it is
// already large enough).
template <typename T>
absl::Status EncodeTensor(absl::Span<const T> values,
                          absl::Span<const int64_t> shape, v1::Tensor* out);

// Copies the elements of `tensor` into `out`, which must hold exactly its
// number of elements; the dtype must be DTypeOf<T>(). Validates first.
template <typename T>
absl::Status DecodeTensorInto(const v1::Tensor& tensor, absl::Span<T> out,
                              absl::string_view field);

// Like DecodeTensorInto, into a new vector.
template <typename T>
absl::StatusOr<std::vector<T>> DecodeTensor(const v1::Tensor& tensor,
                                            absl::string_view field);

// ----------------------------------------------------------------------------
// Implementation details.

namespace internal {
absl::Status CheckDecodable(const v1::Tensor& tensor, v1::DType want,
                            size_t out_elements, absl::string_view field);
}  // namespace internal

template <typename T>
absl::Status EncodeTensor(absl::Span<const T> values,
                          absl::Span<const int64_t> shape, v1::Tensor* out) {
  absl::StatusOr<int64_t> n = NumElements(shape, "shape");
  if (!n.ok()) return n.status();
  if (*n != static_cast<int64_t>(values.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape ", ShapeString(shape), " needs ", *n,
                     " elements, got ", values.size()));
  }
  out->set_dtype(DTypeOf<T>());
  out->mutable_shape()->Assign(shape.begin(), shape.end());
  std::string* data = out->mutable_data();
  data->resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(data->data(), values.data(), data->size());
  return absl::OkStatus();
}

template <typename T>
absl::Status DecodeTensorInto(const v1::Tensor& tensor, absl::Span<T> out,
                              absl::string_view field) {
  absl::Status status =
      internal::CheckDecodable(tensor, DTypeOf<T>(), out.size(), field);
  if (!status.ok()) return status;
  if (!out.empty())
    std::memcpy(out.data(), tensor.data().data(), out.size() * sizeof(T));
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<std::vector<T>> DecodeTensor(const v1::Tensor& tensor,
                                            absl::string_view field) {
  static_assert(!std::is_same<T, bool>::value,
                "std::vector<bool> is packed: decode bool into uint8_t or a "
                "bool array with DecodeTensorInto");
  absl::StatusOr<int64_t> n = NumElements(tensor.shape(), field);
  if (!n.ok()) return n.status();
  std::vector<T> out(static_cast<size_t>(*n));
  absl::Status status = DecodeTensorInto<T>(tensor, absl::MakeSpan(out), field);
  if (!status.ok()) return status;
  return out;
}

}  // namespace shoal

#endif  // SHOAL_COMMON_TENSOR_CODEC_H_
