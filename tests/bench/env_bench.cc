// Measures environment throughput, single-threaded: each built-in env
// stepped through the Env interface, then a VectorEnv of 16 of each, then
// KS's microseconds per step. Prints one JSON object per line, e.g.
//   {"bench": "cartpole_steps_per_s", "value": 2.5e7, "unit": "steps/s",
//    "limit": 2e7, "ratio": 1.25}
// Actions are uniform random, drawn before timing. Rates are per second of
// the thread's CPU time. Runs for ~8 s of CPU.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "actor/envs/vector_env.h"

namespace shoal {
namespace {

constexpr double kSecondsPerEnv = 0.5;
constexpr double kKsSeconds = 1.0;
constexpr int kVectorSize = 16;
constexpr double kCartPoleGoal = 2e7;  // steps/s, single-threaded
constexpr int kActionPool = 4096;      // pre-drawn actions, cycled
constexpr int kStepsPerClockRead = 256;

// CPU time of the calling thread, in seconds. Rates are per CPU second so
// that other load on a shared machine does not skew them; on an idle
// machine this equals wall time (everything runs in one thread).
double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         1e-9 * static_cast<double>(ts.tv_nsec);
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

// Pre-drawn random actions for `space`: num_actions indices or box values
// (kActionPool * dim of them).
struct ActionPool {
  std::vector<int64_t> discrete;
  std::vector<float> box;
};

ActionPool DrawActions(const ActionSpace& space, int count) {
  std::mt19937_64 rng(/*seed=*/1);
  ActionPool pool;
  if (space.discrete()) {
    std::uniform_int_distribution<int64_t> pick(0, space.num_actions - 1);
    for (int i = 0; i < count; ++i) pool.discrete.push_back(pick(rng));
  } else {
    for (int i = 0; i < count; ++i) {
      for (int d = 0; d < space.dim(); ++d) {
        std::uniform_real_distribution<float> pick(space.low[d], space.high[d]);
        pool.box.push_back(pick(rng));
      }
    }
  }
  return pool;
}

// Steps one env through the Env interface for about `seconds`; returns
// steps per second.
double BenchSingle(const std::string& name, double seconds) {
  EnvOptions options;
  options.name = name;
  absl::StatusOr<std::unique_ptr<Env>> made = MakeEnv(options);
  if (!made.ok()) Fail(name, made.status());
  Env& env = **made;
  const ActionSpace& space = env.spec().action_space;
  const int dim = space.dim();
  const ActionPool pool = DrawActions(space, kActionPool);
  std::vector<float> obs(env.spec().observation_size());
  uint64_t seed = 0;
  if (absl::Status s = env.Reset(seed++, absl::MakeSpan(obs)); !s.ok()) {
    Fail(name, s);
  }
  int64_t steps = 0;
  const double start = ThreadSeconds();
  double elapsed = 0.0;
  do {
    for (int k = 0; k < kStepsPerClockRead; ++k) {
      const int slot = static_cast<int>(steps % kActionPool);
      Action action;
      if (space.discrete()) {
        action.discrete = pool.discrete[slot];
      } else {
        action.box = absl::MakeConstSpan(pool.box).subspan(slot * dim, dim);
      }
      absl::StatusOr<StepResult> result = env.Step(action, absl::MakeSpan(obs));
      if (!result.ok()) Fail(name, result.status());
      ++steps;
      if (result->terminated || result->truncated) {
        if (absl::Status s = env.Reset(seed++, absl::MakeSpan(obs)); !s.ok()) {
          Fail(name, s);
        }
      }
    }
    elapsed = ThreadSeconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(steps) / elapsed;
}

// Steps a VectorEnv of kVectorSize envs for about `seconds`; returns env
// steps (sub-env steps, resets included) per second.
double BenchVector(const std::string& name, double seconds) {
  EnvOptions options;
  options.name = name;
  absl::StatusOr<std::unique_ptr<VectorEnv>> made =
      VectorEnv::Create(options, kVectorSize, /*base_seed=*/0);
  if (!made.ok()) Fail(name, made.status());
  VectorEnv& venv = **made;
  const ActionSpace& space = venv.spec().action_space;
  const int dim = space.dim();
  const ActionPool pool = DrawActions(space, kActionPool);
  const int64_t n = venv.num_envs();
  std::vector<float> obs(n * venv.observation_size());
  std::vector<float> rewards(n);
  std::unique_ptr<bool[]> terminated(new bool[n]);
  std::unique_ptr<bool[]> truncated(new bool[n]);
  VectorStepOutputs out;
  out.observations = absl::MakeSpan(obs);
  out.rewards = absl::MakeSpan(rewards);
  out.terminated = absl::MakeSpan(terminated.get(), n);
  out.truncated = absl::MakeSpan(truncated.get(), n);
  if (absl::Status s = venv.Reset(absl::MakeSpan(obs)); !s.ok()) {
    Fail(name, s);
  }
  const int64_t batches = kActionPool / n;
  int64_t steps = 0;
  const double start = ThreadSeconds();
  double elapsed = 0.0;
  do {
    for (int k = 0; k < kStepsPerClockRead / kVectorSize + 1; ++k) {
      const int64_t batch = (steps / n) % batches;
      absl::Status s =
          space.discrete()
              ? venv.Step(
                    absl::MakeConstSpan(pool.discrete).subspan(batch * n, n),
                    out)
              : venv.Step(absl::MakeConstSpan(pool.box).subspan(batch * n * dim,
                                                                n * dim),
                          out);
      if (!s.ok()) Fail(name, s);
      steps += n;
    }
    elapsed = ThreadSeconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(steps) / elapsed;
}

void Run() {
  const std::vector<std::string> classic = {"cartpole", "pendulum", "acrobot",
                                            "mountain_car",
                                            "mountain_car_continuous"};
  for (const std::string& name : classic) {
    const double rate = BenchSingle(name, kSecondsPerEnv);
    Print(name + "_steps_per_s", rate, "steps/s",
          name == "cartpole" ? kCartPoleGoal : 0.0);
  }
  for (const std::string& name : classic) {
    Print("vector16_" + name + "_steps_per_s",
          BenchVector(name, kSecondsPerEnv), "steps/s");
  }
  const double ks_rate = BenchSingle("ks", kKsSeconds);
  Print("ks_steps_per_s", ks_rate, "steps/s");
  Print("ks_us_per_step", 1e6 / ks_rate, "us/step");
  Print("vector16_ks_steps_per_s", BenchVector("ks", kKsSeconds), "steps/s");
}

}  // namespace
}  // namespace shoal

int main() {
  shoal::Run();
  return 0;
}
