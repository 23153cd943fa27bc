// Measures learner updates per second: one Algorithm::Update per iteration
// on a fixed random batch already on the device, for
//   sac:    obs 3, action 1 in [-2, 2], 2x256 MLPs, batch 256 (pendulum);
//   dqn:    obs 4, 2 actions, 2x256, batch 256 (cartpole);
//   impala: obs 4, 2 actions, 2x256, 32 unrolls of 20 steps.
// On CPU with one intra-op thread (SetIntraOpThreads(1)), rates per
// second of process CPU time (so other load on a shared machine does not
// skew them, and any helper thread's work is counted); on CUDA (when
// torch::cuda::is_available()) per second of wall time. Prints one JSON
// object per line, e.g.
//   {"bench": "sac_updates_per_s_cpu", "value": 80, "unit": "updates/s",
//    "limit": 36, "ratio": 2.2}
// The sac limit (36 updates/s) is Python PyTorch's SAC rate on this machine
// class. Runs for ~20 s.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "torch/torch.h"

#include "common/config.h"
#include "common/torch/networks.h"
#include "learner/algorithms/algorithm.h"

namespace shoal {
namespace {

constexpr double kSeconds = 3.0;
constexpr int kWarmupUpdates = 10;
constexpr double kSacPythonRate = 36.0;  // updates/s, Python PyTorch, CPU.

double ProcessSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         1e-9 * static_cast<double>(ts.tv_nsec);
}

double WallSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Print(const std::string& bench, double value, const char* unit,
           double limit = 0.0) {
  std::printf("{\"bench\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"",
              bench.c_str(), value, unit);
  if (limit > 0.0) {
    std::printf(", \"limit\": %.6g, \"ratio\": %.4f", limit, value / limit);
  }
  std::printf("}\n");
  std::fflush(stdout);
}

void Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

Batch MakeBatch(AlgorithmKind kind, const EnvShape& shape, torch::Device d) {
  const auto f = torch::TensorOptions().dtype(torch::kFloat32).device(d);
  Batch batch;
  if (kind == AlgorithmKind::kImpala) {
    const int64_t b = 32, t = 20;
    batch.columns["observation"] =
        torch::randn({b, t + 1, shape.observation_size}, f);
    batch.columns["action"] = torch::randint(
        shape.num_actions, {b, t}, torch::dtype(torch::kInt64).device(d));
    batch.columns["reward"] = torch::randn({b, t}, f);
    batch.columns["discount"] = torch::full({b, t}, 0.99, f);
    batch.columns["behaviour_log_prob"] = torch::full({b, t}, -0.69, f);
    return batch;
  }
  const int64_t b = 256;
  batch.columns["observation"] = torch::randn({b, shape.observation_size}, f);
  batch.columns["next_observation"] =
      torch::randn({b, shape.observation_size}, f);
  batch.columns["action"] =
      shape.discrete ? torch::randint(shape.num_actions, {b},
                                      torch::dtype(torch::kInt64).device(d))
                     : torch::rand({b, 1}, f) * 4 - 2;
  batch.columns["reward"] = torch::randn({b}, f);
  batch.columns["discount"] = torch::full({b}, 0.99, f);
  return batch;
}

void Bench(AlgorithmKind kind, torch::Device device, double limit) {
  ExperimentConfig config;
  config.experiment = "bench";
  config.algorithm.name = kind;
  config.network.hidden = {256, 256};
  EnvShape shape;
  if (kind == AlgorithmKind::kSac) {
    shape.observation_size = 3;
    shape.discrete = false;
    shape.low = {-2.0f};
    shape.high = {2.0f};
  } else {
    shape.observation_size = 4;
    shape.num_actions = 2;
  }
  const std::string name = absl::StrCat(EnumName(kind), "_updates_per_s_",
                                        device.is_cuda() ? "cuda" : "cpu");
  absl::StatusOr<std::unique_ptr<Algorithm>> algo =
      MakeAlgorithm(config, shape, device);
  if (!algo.ok()) Fail(name, algo.status());
  const Batch batch = MakeBatch(kind, shape, device);
  auto clock = device.is_cuda() ? WallSeconds : ProcessSeconds;
  for (int i = 0; i < kWarmupUpdates; ++i) {
    if (absl::StatusOr<UpdateResult> r = (*algo)->Update(batch); !r.ok()) {
      Fail(name, r.status());
    }
  }
  int64_t updates = 0;
  const double start = clock();
  double elapsed = 0.0;
  do {
    if (absl::StatusOr<UpdateResult> r = (*algo)->Update(batch); !r.ok()) {
      Fail(name, r.status());
    }
    ++updates;
    elapsed = clock() - start;
  } while (elapsed < kSeconds);
  Print(name, static_cast<double>(updates) / elapsed, "updates/s", limit);
}

void Run() {
  SetIntraOpThreads(1);
  Bench(AlgorithmKind::kSac, torch::kCPU, kSacPythonRate);
  Bench(AlgorithmKind::kDqn, torch::kCPU, 0.0);
  Bench(AlgorithmKind::kImpala, torch::kCPU, 0.0);
  if (torch::cuda::is_available()) {
    const torch::Device cuda(torch::kCUDA, 0);
    Bench(AlgorithmKind::kSac, cuda, 0.0);
    Bench(AlgorithmKind::kDqn, cuda, 0.0);
    Bench(AlgorithmKind::kImpala, cuda, 0.0);
  }
}

}  // namespace
}  // namespace shoal

int main() {
  shoal::Run();
  return 0;
}
