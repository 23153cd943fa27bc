// Helpers the algorithms share: batch column checks, the finite-loss gate,
// Adam construction and gradient clipping, and checkpoint archives (atomic
// write, generator state). Stateless; thread-safe except where a function
// touches torch's default generators (SaveGenerators / LoadGenerators).
#ifndef SHOAL_LEARNER_ALGORITHMS_ALGORITHM_UTIL_H_
#define SHOAL_LEARNER_ALGORITHMS_ALGORITHM_UTIL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "torch/optim/adam.h"
#include "torch/serialize/input-archive.h"
#include "torch/serialize/output-archive.h"
#include "torch/types.h"

#include "learner/algorithms/algorithm.h"

namespace shoal {

// Column `name` of `batch`, checked for dtype, device and shape (`shape`
// entries of -1 match any size). INVALID_ARGUMENT naming the column.
absl::StatusOr<torch::Tensor> GetColumn(const Batch& batch,
                                        absl::string_view name,
                                        torch::ScalarType dtype,
                                        const std::vector<int64_t>& shape,
                                        torch::Device device);

// INVALID_ARGUMENT unless every entry of the int64 `action` column is in
// [0, num_actions). One host sync.
absl::Status CheckActionRange(const torch::Tensor& action, int64_t num_actions);

// batch.importance_weights as [B] float32, or ones when undefined.
absl::StatusOr<torch::Tensor> GetImportanceWeights(const Batch& batch,
                                                   int64_t batch_size,
                                                   torch::Device device);

// The columns of a transition batch (see Batch), checked against `shape`.
struct Transitions {
  torch::Tensor observation, action, reward, discount, next_observation;
  torch::Tensor weights;  // importance weights, ones when the batch has none.
};
absl::StatusOr<Transitions> GetTransitions(const Batch& batch,
                                           const EnvShape& shape,
                                           torch::Device device);

// Copies the named scalar tensors to the host in one transfer. INTERNAL
// "<algo>: <name> is NaN at step k" for the first non-finite one whose name
// ends in "loss" (so the caller can bail out before any optimizer step).
absl::StatusOr<UpdateResult> GatherScalars(
    absl::string_view algorithm, int64_t step,
    const std::vector<std::pair<std::string, torch::Tensor>>& scalars);

// Adam over `params` with the config's epsilon and `learning_rate`.
std::unique_ptr<torch::optim::Adam> MakeAdam(std::vector<torch::Tensor> params,
                                             double learning_rate,
                                             const OptimizerConfig& config);

// Scales gradients of `params` to a global norm <= max_grad_norm (no-op for
// 0).
void ClipGradients(const std::vector<torch::Tensor>& params,
                   double max_grad_norm);

// Writes the archive that `fill` builds to `path` atomically (path.tmp,
// then rename). Catches c10::Error; INTERNAL naming the path.
absl::Status WriteArchive(
    const std::string& path,
    const std::function<void(torch::serialize::OutputArchive&)>& fill);

// Reads `path` onto `device` and hands it to `read`. NOT_FOUND when the
// file is missing; DATA_LOSS when it cannot be parsed or does not match.
absl::Status ReadArchive(
    const std::string& path, torch::Device device,
    const std::function<void(torch::serialize::InputArchive&)>& read);

// Module / optimizer / tensor / generator state into and out of archives.
// They throw c10::Error (WriteArchive / ReadArchive catch it).
void WriteModule(torch::serialize::OutputArchive& archive,
                 const std::string& key, const torch::nn::Module& module);
void ReadModule(torch::serialize::InputArchive& archive, const std::string& key,
                torch::nn::Module& module);
void WriteOptimizer(torch::serialize::OutputArchive& archive,
                    const std::string& key,
                    const torch::optim::Optimizer& optimizer);
void ReadOptimizer(torch::serialize::InputArchive& archive,
                   const std::string& key, torch::optim::Optimizer& optimizer);
// Copies the stored tensor into `dst` in place (keeps its identity).
void ReadInto(torch::serialize::InputArchive& archive, const std::string& key,
              torch::Tensor& dst);
// The step counter and torch's default CPU (and, for a CUDA `device`, CUDA)
// generator states.
void WriteCommon(torch::serialize::OutputArchive& archive, int64_t step,
                 torch::Device device);
int64_t ReadCommon(torch::serialize::InputArchive& archive,
                   torch::Device device);

}  // namespace shoal

#endif  // SHOAL_LEARNER_ALGORITHMS_ALGORITHM_UTIL_H_
