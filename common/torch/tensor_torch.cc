#include "common/torch/tensor_torch.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "common/tensor_codec.h"

namespace shoal {
namespace {

std::string Prefix(absl::string_view field) {
  return field.empty() ? std::string() : absl::StrCat(field, ": ");
}

std::vector<int64_t> ShapeOf(const v1::Tensor& tensor) {
  return std::vector<int64_t>(tensor.shape().begin(), tensor.shape().end());
}

}  // namespace

absl::StatusOr<torch::ScalarType> ToTorchDType(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT32:
      return torch::kFloat32;
    case v1::DTYPE_FLOAT64:
      return torch::kFloat64;
    case v1::DTYPE_INT32:
      return torch::kInt32;
    case v1::DTYPE_INT64:
      return torch::kInt64;
    case v1::DTYPE_UINT8:
      return torch::kUInt8;
    case v1::DTYPE_BOOL:
      return torch::kBool;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "dtype ", static_cast<int>(dtype), " has no torch equivalent"));
  }
}

absl::StatusOr<v1::DType> FromTorchDType(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return v1::DTYPE_FLOAT32;
    case torch::kFloat64:
      return v1::DTYPE_FLOAT64;
    case torch::kInt32:
      return v1::DTYPE_INT32;
    case torch::kInt64:
      return v1::DTYPE_INT64;
    case torch::kUInt8:
      return v1::DTYPE_UINT8;
    case torch::kBool:
      return v1::DTYPE_BOOL;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("torch dtype ", c10::toString(type),
                       " cannot be sent (use float32, float64, int32, int64, "
                       "uint8 or bool)"));
  }
}

absl::StatusOr<torch::Tensor> ToTorchView(const v1::Tensor& tensor,
                                          absl::string_view field) {
  absl::Status valid = ValidateTensor(tensor, field);
  if (!valid.ok()) return valid;
  absl::StatusOr<torch::ScalarType> type = ToTorchDType(tensor.dtype());
  if (!type.ok()) return type.status();
  // from_blob never writes through the pointer unless the caller does.
  void* data = const_cast<char*>(tensor.data().data());
  return torch::from_blob(data, ShapeOf(tensor),
                          torch::TensorOptions().dtype(*type));
}

absl::StatusOr<torch::Tensor> ToTorch(const v1::Tensor& tensor,
                                      absl::string_view field) {
  absl::Status valid = ValidateTensor(tensor, field);
  if (!valid.ok()) return valid;
  absl::StatusOr<torch::ScalarType> type = ToTorchDType(tensor.dtype());
  if (!type.ok()) return type.status();
  torch::Tensor out =
      torch::empty(ShapeOf(tensor), torch::TensorOptions().dtype(*type));
  if (!tensor.data().empty()) {
    std::memcpy(out.data_ptr(), tensor.data().data(), tensor.data().size());
  }
  return out;
}

absl::Status DecodeIntoTorch(const v1::Tensor& tensor, torch::Tensor dst,
                             absl::string_view field) {
  absl::Status valid = ValidateTensor(tensor, field);
  if (!valid.ok()) return valid;
  absl::StatusOr<torch::ScalarType> type = ToTorchDType(tensor.dtype());
  if (!type.ok()) return type.status();
  if (dst.scalar_type() != *type) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(field), "dtype ", DTypeName(tensor.dtype()),
                     " does not match the destination's ",
                     c10::toString(dst.scalar_type())));
  }
  if (!dst.device().is_cpu() || !dst.is_contiguous()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Prefix(field), "destination must be a contiguous CPU tensor"));
  }
  const size_t bytes = tensor.data().size();
  if (static_cast<size_t>(dst.nbytes()) != bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        Prefix(field), "shape ", ShapeString(tensor.shape()),
        " does not fit the destination of ", dst.numel(), " elements"));
  }
  if (bytes > 0) std::memcpy(dst.data_ptr(), tensor.data().data(), bytes);
  return absl::OkStatus();
}

absl::Status FromTorch(const torch::Tensor& src, v1::Tensor* out) {
  absl::StatusOr<v1::DType> dtype = FromTorchDType(src.scalar_type());
  if (!dtype.ok()) return dtype.status();
  torch::Tensor cpu = src;
  if (!cpu.device().is_cpu()) cpu = cpu.to(torch::kCPU);
  if (!cpu.is_contiguous()) cpu = cpu.contiguous();
  out->set_dtype(*dtype);
  out->mutable_shape()->Assign(cpu.sizes().begin(), cpu.sizes().end());
  std::string* data = out->mutable_data();
  data->resize(cpu.nbytes());
  if (!data->empty()) std::memcpy(data->data(), cpu.data_ptr(), data->size());
  return absl::OkStatus();
}

}  // namespace shoal
