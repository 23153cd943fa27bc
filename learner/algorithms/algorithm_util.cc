#include "learner/algorithms/algorithm_util.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ATen/Context.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "torch/torch.h"

#include "common/status_macros.h"

namespace shoal {
namespace {

std::string ShapeString(torch::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

std::string ShapeString(const std::vector<int64_t>& sizes) {
  std::vector<std::string> parts;
  for (int64_t s : sizes) parts.push_back(s < 0 ? "*" : absl::StrCat(s));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

}  // namespace

absl::StatusOr<torch::Tensor> GetColumn(const Batch& batch,
                                        absl::string_view name,
                                        torch::ScalarType dtype,
                                        const std::vector<int64_t>& shape,
                                        torch::Device device) {
  auto it = batch.columns.find(name);
  if (it == batch.columns.end() || !it->second.defined()) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch has no column '", name, "'"));
  }
  const torch::Tensor& t = it->second;
  if (t.scalar_type() != dtype) {
    return absl::InvalidArgumentError(
        absl::StrCat("column '", name, "' must be ", c10::toString(dtype),
                     ", got ", c10::toString(t.scalar_type())));
  }
  bool match = t.dim() == static_cast<int64_t>(shape.size());
  for (size_t i = 0; match && i < shape.size(); ++i) {
    match = shape[i] < 0 || shape[i] == t.size(static_cast<int64_t>(i));
  }
  if (!match) {
    return absl::InvalidArgumentError(
        absl::StrCat("column '", name, "' must have shape ", ShapeString(shape),
                     ", got ", ShapeString(t.sizes())));
  }
  if (t.device() != device) {
    return absl::InvalidArgumentError(
        absl::StrCat("column '", name, "' is on ", t.device().str(),
                     ", the algorithm on ", device.str()));
  }
  return t;
}

absl::Status CheckActionRange(const torch::Tensor& action,
                              int64_t num_actions) {
  if (action.numel() == 0) return absl::OkStatus();
  torch::Tensor range = torch::stack({action.min(), action.max()}).cpu();
  const int64_t lo = range[0].item<int64_t>();
  const int64_t hi = range[1].item<int64_t>();
  if (lo < 0 || hi >= num_actions) {
    return absl::InvalidArgumentError(
        absl::StrCat("column 'action' must be in [0, ", num_actions,
                     "), got values in [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> GetImportanceWeights(const Batch& batch,
                                                   int64_t batch_size,
                                                   torch::Device device) {
  if (!batch.importance_weights.defined()) {
    return torch::ones({batch_size},
                       torch::dtype(torch::kFloat32).device(device));
  }
  Batch view;
  view.columns.emplace("importance_weights", batch.importance_weights);
  return GetColumn(view, "importance_weights", torch::kFloat32, {batch_size},
                   device);
}

absl::StatusOr<Transitions> GetTransitions(const Batch& batch,
                                           const EnvShape& shape,
                                           torch::Device device) {
  const int64_t obs = shape.observation_size;
  Transitions t;
  SHOAL_ASSIGN_OR_RETURN(
      t.observation,
      GetColumn(batch, "observation", torch::kFloat32, {-1, obs}, device));
  const int64_t b = t.observation.size(0);
  if (shape.discrete) {
    SHOAL_ASSIGN_OR_RETURN(
        t.action, GetColumn(batch, "action", torch::kInt64, {b}, device));
  } else {
    SHOAL_ASSIGN_OR_RETURN(t.action,
                           GetColumn(batch, "action", torch::kFloat32,
                                     {b, shape.action_dim()}, device));
  }
  SHOAL_ASSIGN_OR_RETURN(
      t.reward, GetColumn(batch, "reward", torch::kFloat32, {b}, device));
  SHOAL_ASSIGN_OR_RETURN(
      t.discount, GetColumn(batch, "discount", torch::kFloat32, {b}, device));
  SHOAL_ASSIGN_OR_RETURN(
      t.next_observation,
      GetColumn(batch, "next_observation", torch::kFloat32, {b, obs}, device));
  SHOAL_ASSIGN_OR_RETURN(t.weights, GetImportanceWeights(batch, b, device));
  return t;
}

absl::StatusOr<UpdateResult> GatherScalars(
    absl::string_view algorithm, int64_t step,
    const std::vector<std::pair<std::string, torch::Tensor>>& scalars) {
  std::vector<torch::Tensor> parts;
  parts.reserve(scalars.size());
  for (const auto& [name, value] : scalars) {
    parts.push_back(value.detach().to(torch::kFloat64).reshape({1}));
  }
  torch::Tensor host = torch::cat(parts).cpu();
  const double* values = host.data_ptr<double>();
  UpdateResult result;
  for (size_t i = 0; i < scalars.size(); ++i) {
    const std::string& name = scalars[i].first;
    const bool is_loss =
        name.size() >= 4 && name.compare(name.size() - 4, 4, "loss") == 0;
    if (is_loss && !std::isfinite(values[i])) {
      return absl::InternalError(absl::StrCat(
          algorithm, ": ", name, " is not finite: loss is ",
          std::isnan(values[i]) ? "NaN" : "inf", " at step ", step));
    }
    result.scalars[name] = values[i];
  }
  return result;
}

std::unique_ptr<torch::optim::Adam> MakeAdam(std::vector<torch::Tensor> params,
                                             double learning_rate,
                                             const OptimizerConfig& config) {
  return std::make_unique<torch::optim::Adam>(
      std::move(params),
      torch::optim::AdamOptions(learning_rate).eps(config.adam_eps));
}

void ClipGradients(const std::vector<torch::Tensor>& params,
                   double max_grad_norm) {
  if (max_grad_norm > 0.0) {
    torch::nn::utils::clip_grad_norm_(params, max_grad_norm);
  }
}

absl::Status WriteArchive(
    const std::string& path,
    const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  const std::string tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive;
    fill(archive);
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("writing checkpoint ", path, ": ",
                                            e.what_without_backtrace()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("renaming ", tmp, " to ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status ReadArchive(
    const std::string& path, torch::Device device,
    const std::function<void(torch::serialize::InputArchive&)>& read) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", path));
  }
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    read(archive);
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("reading checkpoint ", path, ": ",
                                            e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

void WriteModule(torch::serialize::OutputArchive& archive,
                 const std::string& key, const torch::nn::Module& module) {
  torch::serialize::OutputArchive sub;
  module.save(sub);
  archive.write(key, sub);
}

void ReadModule(torch::serialize::InputArchive& archive, const std::string& key,
                torch::nn::Module& module) {
  torch::serialize::InputArchive sub;
  archive.read(key, sub);
  module.load(sub);
}

void WriteOptimizer(torch::serialize::OutputArchive& archive,
                    const std::string& key,
                    const torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive sub;
  optimizer.save(sub);
  archive.write(key, sub);
}

void ReadOptimizer(torch::serialize::InputArchive& archive,
                   const std::string& key, torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive sub;
  archive.read(key, sub);
  optimizer.load(sub);
}

void ReadInto(torch::serialize::InputArchive& archive, const std::string& key,
              torch::Tensor& dst) {
  torch::Tensor src;
  archive.read(key, src);
  torch::NoGradGuard no_grad;
  dst.copy_(src);
}

void WriteCommon(torch::serialize::OutputArchive& archive, int64_t step,
                 torch::Device device) {
  archive.write("step", torch::tensor(step, torch::kInt64));
  at::Generator cpu = at::globalContext().defaultGenerator(torch::kCPU);
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    archive.write("rng_cpu", cpu.get_state());
  }
  if (device.is_cuda()) {
    at::Generator cuda = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(cuda.mutex());
    archive.write("rng_cuda", cuda.get_state());
  }
}

int64_t ReadCommon(torch::serialize::InputArchive& archive,
                   torch::Device device) {
  torch::Tensor step;
  archive.read("step", step);
  torch::Tensor state;
  archive.read("rng_cpu", state);
  at::Generator cpu = at::globalContext().defaultGenerator(torch::kCPU);
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(state.cpu());
  }
  if (device.is_cuda()) {
    archive.read("rng_cuda", state);
    at::Generator cuda = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(cuda.mutex());
    cuda.set_state(state.cpu());
  }
  return step.cpu().item<int64_t>();
}

}  // namespace shoal
