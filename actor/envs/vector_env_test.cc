#include "actor/envs/vector_env.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/env_factory.h"
#include "actor/envs/paced_env.h"

// Counts heap allocations, to check that Step allocates nothing.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that the replaced operator new above returns malloc'ed
// memory, so it flags the matching free().
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace shoal {
namespace {

using ::testing::HasSubstr;

// Output buffers for a VectorEnv, plus the spans that point into them.
class Outputs {
 public:
  explicit Outputs(const VectorEnv& venv)
      : n_(venv.num_envs()),
        observations_(n_ * venv.observation_size()),
        rewards_(n_),
        terminated_(new bool[n_]),
        truncated_(new bool[n_]),
        is_first_(new bool[n_]) {
    spans_.observations = absl::MakeSpan(observations_);
    spans_.rewards = absl::MakeSpan(rewards_);
    spans_.terminated = absl::MakeSpan(terminated_.get(), n_);
    spans_.truncated = absl::MakeSpan(truncated_.get(), n_);
    spans_.is_first = absl::MakeSpan(is_first_.get(), n_);
  }

  const VectorStepOutputs& spans() const { return spans_; }
  std::vector<float>& observations() { return observations_; }
  // Sub-env i's observation.
  std::vector<float> observation(int i) const {
    const size_t size = observations_.size() / n_;
    return std::vector<float>(observations_.begin() + i * size,
                              observations_.begin() + (i + 1) * size);
  }
  float reward(int i) const { return rewards_[i]; }
  bool terminated(int i) const { return terminated_[i]; }
  bool truncated(int i) const { return truncated_[i]; }
  bool is_first(int i) const { return is_first_[i]; }

 private:
  size_t n_;
  std::vector<float> observations_;
  std::vector<float> rewards_;
  std::unique_ptr<bool[]> terminated_;
  std::unique_ptr<bool[]> truncated_;
  std::unique_ptr<bool[]> is_first_;
  VectorStepOutputs spans_;
};

EnvOptions Named(const std::string& name, int max_episode_steps = 0) {
  EnvOptions options;
  options.name = name;
  options.max_episode_steps = max_episode_steps;
  return options;
}

std::unique_ptr<VectorEnv> MakeVectorEnv(const EnvOptions& options, int n,
                                         uint64_t base_seed) {
  absl::StatusOr<std::unique_ptr<VectorEnv>> venv =
      VectorEnv::Create(options, n, base_seed);
  EXPECT_TRUE(venv.ok()) << venv.status();
  return *std::move(venv);
}

// A single env started with Reset(seed), then stepped with `actions`;
// returns the last observation.
std::vector<float> SingleEnvObservation(const EnvOptions& options,
                                        uint64_t seed,
                                        const std::vector<int64_t>& actions) {
  absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(options);
  EXPECT_TRUE(env.ok()) << env.status();
  std::vector<float> obs((*env)->spec().observation_size());
  EXPECT_TRUE((*env)->Reset(seed, absl::MakeSpan(obs)).ok());
  for (int64_t a : actions) {
    Action action;
    action.discrete = a;
    EXPECT_TRUE((*env)->Step(action, absl::MakeSpan(obs)).ok());
  }
  return obs;
}

TEST(VectorEnvTest, DeliversTheFinalObservationThenResetsOnTheNextStep) {
  constexpr uint64_t kBaseSeed = 100;
  const EnvOptions options = Named("cartpole", /*max_episode_steps=*/3);
  std::unique_ptr<VectorEnv> venv = MakeVectorEnv(options, 2, kBaseSeed);
  Outputs out(*venv);
  ASSERT_TRUE(venv->Reset(absl::MakeSpan(out.observations())).ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(out.observation(i),
              SingleEnvObservation(options, kBaseSeed + i, {}));
  }
  const std::vector<int64_t> actions = {1, 0};
  for (int t = 1; t <= 3; ++t) {
    ASSERT_TRUE(venv->Step(actions, out.spans()).ok());
    for (int i = 0; i < 2; ++i) {
      EXPECT_FALSE(out.is_first(i));
      EXPECT_EQ(out.truncated(i), t == 3);
      EXPECT_EQ(out.reward(i), 1.0f);
    }
  }
  // The truncating step delivered each episode's final observation.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(out.observation(i),
              SingleEnvObservation(options, kBaseSeed + i,
                                   std::vector<int64_t>(3, actions[i])));
  }
  // The next step resets: actions ignored (even invalid ones), reward 0,
  // flags false, the new episode's first observation.
  const std::vector<int64_t> ignored = {99, -4};
  ASSERT_TRUE(venv->Step(ignored, out.spans()).ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(out.is_first(i));
    EXPECT_EQ(out.reward(i), 0.0f);
    EXPECT_FALSE(out.terminated(i));
    EXPECT_FALSE(out.truncated(i));
    EXPECT_EQ(out.observation(i),
              SingleEnvObservation(
                  options, VectorEnv::EpisodeSeed(kBaseSeed + i, 1), {}));
  }
  ASSERT_TRUE(venv->Step(actions, out.spans()).ok());
  EXPECT_FALSE(out.is_first(0));
}

TEST(VectorEnvTest, DeliversTheFinalObservationOfATerminatedEpisode) {
  const EnvOptions options = Named("cartpole");
  std::unique_ptr<VectorEnv> venv = MakeVectorEnv(options, 1, /*base_seed=*/5);
  Outputs out(*venv);
  ASSERT_TRUE(venv->Reset(absl::MakeSpan(out.observations())).ok());
  std::vector<int64_t> history;
  const std::vector<int64_t> right = {1};
  do {
    ASSERT_TRUE(venv->Step(right, out.spans()).ok());
    history.push_back(1);
    ASSERT_LT(history.size(), 500u);
  } while (!out.terminated(0));
  EXPECT_FALSE(out.truncated(0));
  EXPECT_EQ(out.observation(0), SingleEnvObservation(options, 5, history));
  EXPECT_GT(std::fabs(out.observation(0)[2]), 0.2f);  // the fallen pole
}

// Steps `venv` `steps` times with actions cycling 0, 1, 2 (mod the action
// count) and returns every observation batch, concatenated.
std::vector<float> Rollout(VectorEnv& venv, int steps) {
  Outputs out(venv);
  std::vector<float> all;
  EXPECT_TRUE(venv.Reset(absl::MakeSpan(out.observations())).ok());
  std::vector<int64_t> actions(venv.num_envs());
  for (int t = 0; t < steps; ++t) {
    for (int i = 0; i < venv.num_envs(); ++i) {
      actions[i] = (t + i) % venv.spec().action_space.num_actions;
    }
    EXPECT_TRUE(venv.Step(actions, out.spans()).ok());
    all.insert(all.end(), out.observations().begin(), out.observations().end());
  }
  return all;
}

TEST(VectorEnvTest, SameBaseSeedReplaysTheSameEpisodes) {
  const EnvOptions options = Named("acrobot", /*max_episode_steps=*/7);
  std::unique_ptr<VectorEnv> a = MakeVectorEnv(options, 4, /*base_seed=*/42);
  std::unique_ptr<VectorEnv> b = MakeVectorEnv(options, 4, /*base_seed=*/42);
  std::unique_ptr<VectorEnv> c = MakeVectorEnv(options, 4, /*base_seed=*/43);
  const std::vector<float> rollout = Rollout(*a, 30);  // several resets
  EXPECT_EQ(rollout, Rollout(*b, 30));
  EXPECT_NE(rollout, Rollout(*c, 30));
}

TEST(VectorEnvTest, SubEnvsAndEpisodesStartDifferently) {
  const EnvOptions options = Named("mountain_car", /*max_episode_steps=*/1);
  std::unique_ptr<VectorEnv> venv = MakeVectorEnv(options, 8, /*base_seed=*/0);
  Outputs out(*venv);
  ASSERT_TRUE(venv->Reset(absl::MakeSpan(out.observations())).ok());
  std::vector<std::vector<float>> starts;
  for (int i = 0; i < 8; ++i) starts.push_back(out.observation(i));
  const std::vector<int64_t> actions(8, 1);
  ASSERT_TRUE(venv->Step(actions, out.spans()).ok());  // truncates all
  ASSERT_TRUE(venv->Step(actions, out.spans()).ok());  // resets all
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(out.is_first(i));
    starts.push_back(out.observation(i));
  }
  for (size_t x = 0; x < starts.size(); ++x) {
    for (size_t y = x + 1; y < starts.size(); ++y) {
      EXPECT_NE(starts[x], starts[y]) << x << " vs " << y;
    }
  }
}

TEST(VectorEnvTest, RejectsAnInvalidActionWithoutSteppingAnyEnv) {
  const EnvOptions options = Named("cartpole");
  std::unique_ptr<VectorEnv> venv = MakeVectorEnv(options, 3, /*base_seed=*/1);
  std::unique_ptr<VectorEnv> twin = MakeVectorEnv(options, 3, /*base_seed=*/1);
  Outputs out(*venv), twin_out(*twin);
  ASSERT_TRUE(venv->Reset(absl::MakeSpan(out.observations())).ok());
  ASSERT_TRUE(twin->Reset(absl::MakeSpan(twin_out.observations())).ok());
  const std::vector<int64_t> bad = {1, 5, 0};
  absl::Status status = venv->Step(bad, out.spans());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("env 1"));
  EXPECT_THAT(status.message(), HasSubstr("got 5"));
  const std::vector<float> box = {0.0f, 0.0f, 0.0f};
  EXPECT_EQ(venv->Step(box, out.spans()).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int64_t> good = {1, 1, 0};
  ASSERT_TRUE(venv->Step(good, out.spans()).ok());
  ASSERT_TRUE(twin->Step(good, twin_out.spans()).ok());
  EXPECT_EQ(out.observations(), twin_out.observations());
}

TEST(VectorEnvTest, RejectsNaNBoxActionsAndNamesTheEnv) {
  std::unique_ptr<VectorEnv> venv =
      MakeVectorEnv(Named("pendulum"), 2, /*base_seed=*/0);
  Outputs out(*venv);
  ASSERT_TRUE(venv->Reset(absl::MakeSpan(out.observations())).ok());
  const std::vector<float> nan = {0.5f, std::nanf("")};
  absl::Status status = venv->Step(nan, out.spans());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("env 1"));
  const std::vector<float> one = {0.5f};
  EXPECT_EQ(venv->Step(one, out.spans()).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int64_t> discrete = {0, 1};
  EXPECT_EQ(venv->Step(discrete, out.spans()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VectorEnvTest, VirtualPathMatchesTheBatchPath) {
  // PacedEnv wrappers hide the concrete type, forcing Env::Step calls.
  const EnvOptions options = Named("acrobot", /*max_episode_steps=*/4);
  std::vector<std::unique_ptr<Env>> wrapped;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(options);
    ASSERT_TRUE(env.ok());
    absl::StatusOr<std::unique_ptr<PacedEnv>> paced =
        PacedEnv::Create(*std::move(env), absl::Nanoseconds(1));
    ASSERT_TRUE(paced.ok());
    wrapped.push_back(*std::move(paced));
  }
  absl::StatusOr<std::unique_ptr<VectorEnv>> generic =
      VectorEnv::Create(std::move(wrapped), /*base_seed=*/9);
  ASSERT_TRUE(generic.ok()) << generic.status();
  std::unique_ptr<VectorEnv> batch = MakeVectorEnv(options, 3, 9);
  EXPECT_EQ(Rollout(**generic, 12), Rollout(*batch, 12));
}

TEST(VectorEnvTest, RefusesEnvsWithDifferentSpaces) {
  std::vector<std::unique_ptr<Env>> envs;
  envs.push_back(*MakeEnv(Named("cartpole")));
  envs.push_back(*MakeEnv(Named("acrobot")));
  absl::StatusOr<std::unique_ptr<VectorEnv>> venv =
      VectorEnv::Create(std::move(envs), /*base_seed=*/0);
  EXPECT_EQ(venv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(venv.status().message(), HasSubstr("env 1"));
  EXPECT_EQ(VectorEnv::Create(Named("cartpole"), 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VectorEnvTest, StepDoesNotAllocate) {
  for (const char* name : {"cartpole", "pendulum"}) {
    std::unique_ptr<VectorEnv> venv =
        MakeVectorEnv(Named(name, /*max_episode_steps=*/5), 4, 0);
    Outputs out(*venv);
    ASSERT_TRUE(venv->Reset(absl::MakeSpan(out.observations())).ok());
    const std::vector<int64_t> discrete = {0, 1, 0, 1};
    const std::vector<float> box = {0.1f, -0.2f, 2.5f, 0.0f};
    const bool is_discrete = venv->spec().action_space.discrete();
    const int64_t before = g_allocations.load();
    for (int t = 0; t < 50; ++t) {  // includes auto-resets
      const absl::Status status = is_discrete
                                      ? venv->Step(discrete, out.spans())
                                      : venv->Step(box, out.spans());
      ASSERT_TRUE(status.ok()) << status;
    }
    EXPECT_EQ(g_allocations.load() - before, 0) << name;
  }
}

}  // namespace
}  // namespace shoal
