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

// DTypeName for a known dtype, else its number ("999"): what a message
// shows of a dtype that came from outside.
std::string DTypeLabel(v1::DType dtype);

// The proto enum name ("DTYPE_FLOAT32") for a value the enum defines, else
// its number: how the env protocol's messages show a dtype.
std::string DTypeProtoLabel(v1::DType dtype);

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

// Dimensions a tensor may have (as many as PyTorch allows, 64): bounds the
// work and memory a shape sent from outside can cost.
inline constexpr int kMaxTensorRank = 64;

// Bytes a tensor may describe: 2^62. Every element and byte count of a
// shape is checked against it, so none can wrap.
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 62;

// Number of elements of `shape` (1 for a scalar); an error when an extent is
// negative, the rank is over kMaxTensorRank or the product passes
// kMaxTensorBytes.
absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape,
                                    absl::string_view field);

// Bytes of a `dtype` tensor of `shape`: NumElements * DTypeSize, an error
// when the dtype is unknown or the product passes kMaxTensorBytes.
absl::StatusOr<int64_t> NumBytes(v1::DType dtype,
                                 absl::Span<const int64_t> shape,
                                 absl::string_view field);

// Checks that `tensor` is well formed: a known dtype, non-negative extents,
// exactly NumBytes bytes, and bool bytes that are 0 or 1.
absl::Status ValidateTensor(const v1::Tensor& tensor, absl::string_view field);

// ValidateTensor, then checks dtype and shape against `spec` (an extent of
// -1 in the spec matches any size) and, for float columns that do not
// allow it, that every value is finite. O(size).
absl::Status CheckTensorMatchesSpec(const v1::Tensor& tensor,
                                    const v1::TensorSpec& spec,
                                    absl::string_view field);

// "[2, 3]" for messages; past 16 extents "[1, 1, ..., ... (N extents)]".
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

// What ConvertTensorInto accepts. The spans are not owned.
struct ExpectedTensor {
  absl::Span<const v1::DType> dtypes;  // each converts to the output type
  absl::Span<const int64_t> shape;     // exact (no -1 wildcards)
  // Float sources: accept NaN and +-Inf (checked after conversion).
  bool allow_nonfinite = false;
};

// Checks `tensor` against `expected` and writes its elements into `out`,
// converted (float32 from any dtype; int64 from int32, int64, uint8, bool).
// `out` must hold NumElements(expected.shape) elements. INVALID_ARGUMENT
// names the sub-field of `field` with proto enum dtype names, e.g.
// "StepRequest.action.dtype is DTYPE_FLOAT32, want DTYPE_INT64",
// ".shape is [2], want []", ".data has 4 bytes, want 8 ...", ".data[3] is 7,
// not a bool (0 or 1)", "StepRequest.action[0] is nan, want finite". On an
// error `out` may be partly written. O(size); allocates only for messages.
absl::Status ConvertTensorInto(const v1::Tensor& tensor,
                               const ExpectedTensor& expected,
                               absl::Span<float> out, absl::string_view field);
absl::Status ConvertTensorInto(const v1::Tensor& tensor,
                               const ExpectedTensor& expected,
                               absl::Span<int64_t> out,
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
  // Validated before allocating: the size then comes from bytes received,
  // not from a shape that may claim 2^62 elements.
  absl::Status valid = ValidateTensor(tensor, field);
  if (!valid.ok()) return valid;
  std::vector<T> out(tensor.data().size() / sizeof(T));
  absl::Status status = DecodeTensorInto<T>(tensor, absl::MakeSpan(out), field);
  if (!status.ok()) return status;
  return out;
}

}  // namespace shoal

#endif  // SHOAL_COMMON_TENSOR_CODEC_H_
