// Test helpers for the algorithm tests: small configs, random batches,
// parameter snapshots, and an MLP forward written out with explicit tensor
// math (independent of MlpImpl) for recomputing losses. Header-only; tests
// only.
#ifndef SHOAL_LEARNER_ALGORITHMS_ALGORITHM_TESTING_H_
#define SHOAL_LEARNER_ALGORITHMS_ALGORITHM_TESTING_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ATen/CPUGeneratorImpl.h"
#include "torch/torch.h"

#include "common/config.h"
#include "common/torch/networks.h"
#include "learner/algorithms/algorithm.h"

namespace shoal {
namespace testing {

inline ExperimentConfig MakeSmallConfig(AlgorithmKind kind) {
  ExperimentConfig config;
  config.experiment = "test";
  config.seed = 3;
  config.algorithm.name = kind;
  config.network.hidden = {8, 8};
  return config;
}

inline EnvShape DiscreteShape(int64_t obs, int64_t actions) {
  EnvShape shape;
  shape.observation_size = obs;
  shape.discrete = true;
  shape.num_actions = actions;
  return shape;
}

inline EnvShape BoxShape(int64_t obs, std::vector<float> low,
                         std::vector<float> high) {
  EnvShape shape;
  shape.observation_size = obs;
  shape.discrete = false;
  shape.low = std::move(low);
  shape.high = std::move(high);
  return shape;
}

// A random transition batch of `b` items for `shape`, from its own seed.
inline Batch MakeTransitionBatch(const EnvShape& shape, int64_t b,
                                 uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  Batch batch;
  const int64_t obs = shape.observation_size;
  batch.columns["observation"] = torch::randn({b, obs}, gen);
  batch.columns["next_observation"] = torch::randn({b, obs}, gen);
  if (shape.discrete) {
    batch.columns["action"] =
        torch::randint(shape.num_actions, {b}, gen, torch::kInt64);
  } else {
    torch::Tensor lo = torch::tensor(shape.low), hi = torch::tensor(shape.high);
    batch.columns["action"] =
        lo + (hi - lo) * torch::rand({b, shape.action_dim()}, gen);
  }
  batch.columns["reward"] = torch::randn({b}, gen);
  torch::Tensor done = torch::rand({b}, gen).lt(0.2);
  batch.columns["discount"] =
      torch::where(done, torch::zeros({b}), torch::full({b}, 0.97f));
  return batch;
}

// An unroll batch (impala) of b x t steps.
inline Batch MakeUnrollBatch(const EnvShape& shape, int64_t b, int64_t t,
                             uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  Batch batch;
  batch.columns["observation"] =
      torch::randn({b, t + 1, shape.observation_size}, gen);
  batch.columns["action"] =
      torch::randint(shape.num_actions, {b, t}, gen, torch::kInt64);
  batch.columns["reward"] = torch::randn({b, t}, gen);
  batch.columns["discount"] = torch::full({b, t}, 0.99f);
  batch.columns["behaviour_log_prob"] =
      -std::log(static_cast<float>(shape.num_actions)) +
      0.1f * torch::randn({b, t}, gen);
  return batch;
}

// Deep copies of every parameter and buffer, by name.
inline std::vector<std::pair<std::string, torch::Tensor>> Snapshot(
    const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : module.named_parameters()) {
    out.emplace_back(p.key(), p.value().detach().clone());
  }
  for (const auto& b : module.named_buffers()) {
    out.emplace_back(b.key(), b.value().detach().clone());
  }
  return out;
}

inline bool SameAs(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                   const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> b = Snapshot(module);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !torch::equal(a[i].second, b[i].second)) {
      return false;
    }
  }
  return true;
}

// x -> relu(x W_i^T + b_i) for each "<prefix>linear<i>", then "<prefix>out",
// reading the weights of `module` by name.
inline torch::Tensor ManualMlp(const torch::nn::Module& module,
                               const std::string& prefix, int64_t layers,
                               torch::Tensor x) {
  auto params = module.named_parameters();
  for (int64_t i = 0; i < layers; ++i) {
    const std::string name = prefix + "linear" + std::to_string(i);
    x = torch::relu(x.matmul(params[name + ".weight"].t()) +
                    params[name + ".bias"]);
  }
  return x.matmul(params[prefix + "out.weight"].t()) +
         params[prefix + "out.bias"];
}

}  // namespace testing
}  // namespace shoal

#endif  // SHOAL_LEARNER_ALGORITHMS_ALGORITHM_TESTING_H_
