#include "common/tensor_codec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "absl/base/config.h"
#include "absl/strings/str_join.h"

namespace shoal {

#ifndef ABSL_IS_LITTLE_ENDIAN
#error "shoal's wire format is little-endian; big-endian hosts need byte swaps"
#endif

namespace {

std::string Prefix(absl::string_view field) {
  return field.empty() ? std::string() : absl::StrCat(field, ": ");
}

// Index of the first non-finite value, or -1.
template <typename T>
int64_t FirstNonFinite(const std::string& data) {
  const int64_t n = static_cast<int64_t>(data.size() / sizeof(T));
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
    if (!std::isfinite(v)) return i;
  }
  return -1;
}

// "DTYPE_FLOAT32 or DTYPE_FLOAT64", for a message.
std::string DTypeList(absl::Span<const v1::DType> dtypes) {
  std::string out;
  for (size_t i = 0; i < dtypes.size(); ++i) {
    if (i > 0) absl::StrAppend(&out, i + 1 == dtypes.size() ? " or " : ", ");
    absl::StrAppend(&out, DTypeProtoLabel(dtypes[i]));
  }
  return out;
}

// Writes the `From` elements of `data` (already checked to hold out.size()
// of them) into `out`, then checks that they are finite unless allowed.
template <typename From, typename To>
absl::Status ConvertElements(const v1::Tensor& tensor,
                             const ExpectedTensor& expected, absl::Span<To> out,
                             absl::string_view field) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".dtype is ", DTypeProtoLabel(tensor.dtype()),
                     ", which does not convert to an integer"));
  } else {
    const std::string& data = tensor.data();
    if constexpr (std::is_same_v<From, To>) {
      if (!out.empty()) std::memcpy(out.data(), data.data(), data.size());
    } else {
      for (size_t i = 0; i < out.size(); ++i) {
        From value;
        std::memcpy(&value, data.data() + i * sizeof(From), sizeof(From));
        out[i] = static_cast<To>(value);
      }
    }
    if constexpr (std::is_floating_point_v<From>) {
      if (!expected.allow_nonfinite) {
        for (size_t i = 0; i < out.size(); ++i) {
          if (!std::isfinite(out[i])) {
            return absl::InvalidArgumentError(
                absl::StrCat(field, "[", i, "] is ", out[i], ", want finite"));
          }
        }
      }
    }
    return absl::OkStatus();
  }
}

template <typename To>
absl::Status ConvertTensorIntoImpl(const v1::Tensor& tensor,
                                   const ExpectedTensor& expected,
                                   absl::Span<To> out,
                                   absl::string_view field) {
  const v1::DType dtype = tensor.dtype();
  if (std::find(expected.dtypes.begin(), expected.dtypes.end(), dtype) ==
      expected.dtypes.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".dtype is ", DTypeProtoLabel(dtype), ", want ",
                     DTypeList(expected.dtypes)));
  }
  if (!std::equal(tensor.shape().begin(), tensor.shape().end(),
                  expected.shape.begin(), expected.shape.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".shape is ", ShapeString(tensor.shape()),
                     ", want ", ShapeString(expected.shape)));
  }
  absl::StatusOr<int64_t> n = NumElements(expected.shape, field);
  if (!n.ok()) return n.status();
  if (*n != static_cast<int64_t>(out.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        Prefix(field), "shape ", ShapeString(expected.shape), " holds ", *n,
        " elements but the output holds ", out.size()));
  }
  const size_t size = DTypeSize(dtype);
  if (size == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".dtype is ", DTypeProtoLabel(dtype),
                     ", which is not a valid dtype"));
  }
  const std::string& data = tensor.data();
  if (data.size() != out.size() * size) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".data has ", data.size(), " bytes, want ", out.size() * size,
        " (", out.size(), " x ", DTypeProtoLabel(dtype), ")"));
  }
  switch (dtype) {
    case v1::DTYPE_FLOAT32:
      return ConvertElements<float>(tensor, expected, out, field);
    case v1::DTYPE_FLOAT64:
      return ConvertElements<double>(tensor, expected, out, field);
    case v1::DTYPE_INT32:
      return ConvertElements<int32_t>(tensor, expected, out, field);
    case v1::DTYPE_INT64:
      return ConvertElements<int64_t>(tensor, expected, out, field);
    case v1::DTYPE_BOOL:
      for (size_t i = 0; i < data.size(); ++i) {
        const auto byte = static_cast<uint8_t>(data[i]);
        if (byte > 1) {
          return absl::InvalidArgumentError(
              absl::StrCat(field, ".data[", i, "] is ", static_cast<int>(byte),
                           ", not a bool (0 or 1)"));
        }
      }
      return ConvertElements<uint8_t>(tensor, expected, out, field);
    case v1::DTYPE_UINT8:
    default:  // DTypeSize() > 0 leaves no other dtype
      return ConvertElements<uint8_t>(tensor, expected, out, field);
  }
}

}  // namespace

int DTypeSize(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT32:
    case v1::DTYPE_INT32:
      return 4;
    case v1::DTYPE_FLOAT64:
    case v1::DTYPE_INT64:
      return 8;
    case v1::DTYPE_UINT8:
    case v1::DTYPE_BOOL:
      return 1;
    default:
      return 0;
  }
}

absl::string_view DTypeName(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT32:
      return "float32";
    case v1::DTYPE_FLOAT64:
      return "float64";
    case v1::DTYPE_INT32:
      return "int32";
    case v1::DTYPE_INT64:
      return "int64";
    case v1::DTYPE_UINT8:
      return "uint8";
    case v1::DTYPE_BOOL:
      return "bool";
    default:
      return "unspecified";
  }
}

std::string DTypeLabel(v1::DType dtype) {
  if (DTypeSize(dtype) > 0) return std::string(DTypeName(dtype));
  return absl::StrCat(static_cast<int>(dtype));
}

std::string DTypeProtoLabel(v1::DType dtype) {
  if (v1::DType_IsValid(dtype)) return v1::DType_Name(dtype);
  return absl::StrCat(static_cast<int>(dtype));
}

absl::StatusOr<v1::DType> DTypeFromName(absl::string_view name) {
  for (v1::DType d : {v1::DTYPE_FLOAT32, v1::DTYPE_FLOAT64, v1::DTYPE_INT32,
                      v1::DTYPE_INT64, v1::DTYPE_UINT8, v1::DTYPE_BOOL}) {
    if (DTypeName(d) == name) return d;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dtype '", name,
      "' (expected float32, float64, int32, int64, uint8 or bool)"));
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  constexpr size_t kMaxShown = 16;  // a shape from outside may be long
  if (shape.size() <= kMaxShown) {
    return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
  }
  return absl::StrCat("[", absl::StrJoin(shape.subspan(0, kMaxShown), ", "),
                      ", ... (", shape.size(), " extents)]");
}

absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape,
                                    absl::string_view field) {
  if (shape.size() > static_cast<size_t>(kMaxTensorRank)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(field), "shape has ", shape.size(),
                     " dimensions, at most ", kMaxTensorRank));
  }
  int64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t d = shape[i];
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(field), "shape[", i, "] is negative (", d, ")"));
    }
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxTensorBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(field), "shape ", ShapeString(shape),
                       " has more than 2^62 elements"));
    }
  }
  return n;
}

absl::StatusOr<int64_t> NumBytes(v1::DType dtype,
                                 absl::Span<const int64_t> shape,
                                 absl::string_view field) {
  const int size = DTypeSize(dtype);
  if (size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(Prefix(field), "dtype ",
                                                   static_cast<int>(dtype),
                                                   " is not a valid dtype"));
  }
  absl::StatusOr<int64_t> n = NumElements(shape, field);
  if (!n.ok()) return n.status();
  int64_t bytes;
  if (__builtin_mul_overflow(*n, int64_t{size}, &bytes) ||
      bytes > kMaxTensorBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(field), DTypeName(dtype), " ", ShapeString(shape),
                     " is more than 2^62 bytes"));
  }
  return bytes;
}

absl::Status ValidateTensor(const v1::Tensor& tensor, absl::string_view field) {
  absl::StatusOr<int64_t> bytes =
      NumBytes(tensor.dtype(), tensor.shape(), field);
  if (!bytes.ok()) return bytes.status();
  const int64_t want = *bytes;
  if (static_cast<int64_t>(tensor.data().size()) != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(field), "data has ", tensor.data().size(),
                     " bytes but ", DTypeName(tensor.dtype()), " ",
                     ShapeString(tensor.shape()), " needs ", want));
  }
  if (tensor.dtype() == v1::DTYPE_BOOL) {
    const std::string& data = tensor.data();
    for (size_t i = 0; i < data.size(); ++i) {
      if (static_cast<uint8_t>(data[i]) > 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            Prefix(field), "bool element ", i, " is ",
            static_cast<int>(static_cast<uint8_t>(data[i])), ", not 0 or 1"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTensorMatchesSpec(const v1::Tensor& tensor,
                                    const v1::TensorSpec& spec,
                                    absl::string_view field) {
  const std::string where = spec.name().empty()
                                ? std::string(field)
                                : absl::StrCat(field, " (", spec.name(), ")");
  if (tensor.dtype() != spec.dtype()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(where), "dtype ", DTypeLabel(tensor.dtype()),
                     " != signature dtype ", DTypeName(spec.dtype())));
  }
  bool shape_ok = tensor.shape_size() == spec.shape_size();
  for (int i = 0; shape_ok && i < spec.shape_size(); ++i) {
    shape_ok = spec.shape(i) == -1 || spec.shape(i) == tensor.shape(i);
  }
  if (!shape_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(where), "shape ", ShapeString(tensor.shape()),
                     " != signature shape ", ShapeString(spec.shape())));
  }
  absl::Status valid = ValidateTensor(tensor, where);
  if (!valid.ok()) return valid;
  if (!spec.allow_nonfinite()) {
    int64_t bad = -1;
    if (tensor.dtype() == v1::DTYPE_FLOAT32) {
      bad = FirstNonFinite<float>(tensor.data());
    } else if (tensor.dtype() == v1::DTYPE_FLOAT64) {
      bad = FirstNonFinite<double>(tensor.data());
    }
    if (bad >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Prefix(where), "element ", bad,
          " is not finite (NaN or Inf; the column does not allow it)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ConvertTensorInto(const v1::Tensor& tensor,
                               const ExpectedTensor& expected,
                               absl::Span<float> out, absl::string_view field) {
  return ConvertTensorIntoImpl(tensor, expected, out, field);
}

absl::Status ConvertTensorInto(const v1::Tensor& tensor,
                               const ExpectedTensor& expected,
                               absl::Span<int64_t> out,
                               absl::string_view field) {
  return ConvertTensorIntoImpl(tensor, expected, out, field);
}

namespace internal {

absl::Status CheckDecodable(const v1::Tensor& tensor, v1::DType want,
                            size_t out_elements, absl::string_view field) {
  if (tensor.dtype() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(field), "dtype ", DTypeLabel(tensor.dtype()),
                     " where ", DTypeName(want), " was expected"));
  }
  absl::Status valid = ValidateTensor(tensor, field);
  if (!valid.ok()) return valid;
  const size_t have = tensor.data().size() / DTypeSize(want);
  if (have != out_elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        Prefix(field), "shape ", ShapeString(tensor.shape()), " holds ", have,
        " elements but ", out_elements, " were expected"));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace shoal
