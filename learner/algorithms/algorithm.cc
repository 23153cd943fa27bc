#include "learner/algorithms/algorithm.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "torch/torch.h"

#include "common/status_macros.h"
#include "learner/algorithms/dqn.h"
#include "learner/algorithms/impala.h"
#include "learner/algorithms/sac.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<Algorithm>> MakeAlgorithm(
    const ExperimentConfig& config, const EnvShape& shape,
    torch::Device device) {
  torch::manual_seed(static_cast<uint64_t>(config.seed));
  switch (config.algorithm.name) {
    case AlgorithmKind::kSac: {
      SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<SacAlgorithm> sac,
                             SacAlgorithm::Create(config, shape, device));
      return std::unique_ptr<Algorithm>(std::move(sac));
    }
    case AlgorithmKind::kDqn: {
      SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<DqnAlgorithm> dqn,
                             DqnAlgorithm::Create(config, shape, device));
      return std::unique_ptr<Algorithm>(std::move(dqn));
    }
    case AlgorithmKind::kImpala: {
      SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ImpalaAlgorithm> impala,
                             ImpalaAlgorithm::Create(config, shape, device));
      return std::unique_ptr<Algorithm>(std::move(impala));
    }
  }
  return absl::InvalidArgumentError("unknown algorithm");
}

}  // namespace shoal
