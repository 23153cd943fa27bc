// The learner's compute core: one Algorithm (sac, dqn or impala) owns its
// networks, target networks and optimisers on one device, and takes one
// gradient step per Update().
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Algorithm> algo,
//                          MakeAlgorithm(config, shape, torch::kCPU));
//   SHOAL_ASSIGN_OR_RETURN(UpdateResult result, algo->Update(batch));
//
// Thread-compatible: one thread calls Update/Save/Load at a time; reading
// policy() parameters while Update runs needs external synchronization.
// No c10::Error escapes: every failure is a Status.
#ifndef SHOAL_LEARNER_ALGORITHMS_ALGORITHM_H_
#define SHOAL_LEARNER_ALGORITHMS_ALGORITHM_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "torch/nn/module.h"
#include "torch/types.h"

#include "common/config.h"
#include "common/torch/networks.h"

namespace shoal {

// A batch on the algorithm's device. Columns by name; dim 0 is the batch B.
//   Transitions (sac, dqn): observation [B, obs] float32; action [B] int64
//   (discrete) or [B, act] float32 (box, in the env's bounds); reward [B]
//   (the n-step discounted sum); discount [B] (gamma^n, 0 when the episode
//   terminated inside the window; truncation keeps it); next_observation
//   [B, obs].
//   Unrolls (impala): observation [B, T+1, obs] (the last is the bootstrap
//   state), action [B, T] int64, reward [B, T], discount [B, T] (gamma, 0 at
//   termination), behaviour_log_prob [B, T].
struct Batch {
  absl::flat_hash_map<std::string, torch::Tensor> columns;
  // [B] prioritized-replay importance weights (max 1), or undefined = 1.
  torch::Tensor importance_weights;
};

struct UpdateResult {
  // Losses, mean Q / value, alpha, entropy, ... by name.
  absl::flat_hash_map<std::string, double> scalars;
  // [B] new priorities (|TD error|) for dqn; undefined otherwise.
  torch::Tensor new_priorities;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;

  // One gradient step. A missing or mis-shaped column is INVALID_ARGUMENT
  // naming it; a non-finite loss is INTERNAL ("... loss is NaN at step k")
  // and leaves every weight, optimiser state and the step counter unchanged.
  virtual absl::StatusOr<UpdateResult> Update(const Batch& batch) = 0;

  // The module actors run (MakePolicy's type for the same config); publish
  // its named parameters and named buffers.
  virtual torch::nn::Module& policy() = 0;

  // Writes (atomically: a temp file, then rename) or reads everything an
  // exact resume needs: networks, targets, optimisers, alpha, the step
  // counter and torch's default generator state(s). Load REQUIRES an
  // algorithm made from the same config and shape.
  virtual absl::Status Save(const std::string& path) = 0;
  virtual absl::Status Load(const std::string& path) = 0;

  // Gradient steps taken (successful Updates), restored by Load.
  virtual int64_t step() const = 0;
};

// Builds the algorithm `config.algorithm.name` for `shape` on `device`,
// seeding torch's default generators with config.seed first. INVALID_ARGUMENT
// when the algorithm does not fit the action space.
absl::StatusOr<std::unique_ptr<Algorithm>> MakeAlgorithm(
    const ExperimentConfig& config, const EnvShape& shape,
    torch::Device device);

}  // namespace shoal

#endif  // SHOAL_LEARNER_ALGORITHMS_ALGORITHM_H_
