// In-process learning checks: DQN on cartpole and SAC on pendulum, with the
// real environments, a tiny in-test replay (a ring of n-step folded
// transitions, sampled uniformly) and one update per env step. Each run is
// seeded (torch::manual_seed via config.seed, env seeds, replay sampler) and
// single-threaded, so it is deterministic; each takes ~15 s on one core.
// The whole step budget runs, with a greedy evaluation every `eval_every`
// steps; a test passes on the mean of the evaluations in the second half of
// the run (a late collapse fails it, a lucky early peak does not pass it).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "torch/torch.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "common/config.h"
#include "common/torch/networks.h"
#include "learner/algorithms/algorithm.h"

namespace shoal {
namespace {

// A ring buffer of transitions, filled through per-step Add() calls that
// fold n-step returns: reward = sum_k gamma^k r_k, discount = gamma^n, or 0
// when the episode terminated inside the window (truncation keeps it).
class TinyReplay {
 public:
  TinyReplay(int64_t capacity, int64_t obs_size, int64_t action_dim, int n_step,
             double gamma)
      : capacity_(capacity),
        obs_(obs_size),
        act_(action_dim),
        n_(n_step),
        gamma_(gamma),
        o_(capacity * obs_size),
        next_(capacity * obs_size),
        a_(capacity * action_dim),
        r_(capacity),
        d_(capacity) {}

  // One env step: `obs` --`action`--> `next_obs` with `reward`.
  void Add(const std::vector<float>& obs, const std::vector<float>& action,
           double reward, const std::vector<float>& next_obs, bool terminated,
           bool truncated) {
    window_.push_back({obs, action, reward});
    if (static_cast<int>(window_.size()) == n_) Emit(next_obs, false);
    if (terminated || truncated) {
      while (!window_.empty()) Emit(next_obs, terminated);
    }
  }

  int64_t size() const { return size_; }

  Batch Sample(int64_t b, std::mt19937_64& rng) const {
    std::uniform_int_distribution<int64_t> pick(0, size_ - 1);
    torch::Tensor o = torch::empty({b, obs_}), next = torch::empty({b, obs_});
    torch::Tensor a = torch::empty({b, act_}), r = torch::empty({b});
    torch::Tensor d = torch::empty({b});
    for (int64_t i = 0; i < b; ++i) {
      const int64_t j = pick(rng);
      std::copy_n(&o_[j * obs_], obs_, o.data_ptr<float>() + i * obs_);
      std::copy_n(&next_[j * obs_], obs_, next.data_ptr<float>() + i * obs_);
      std::copy_n(&a_[j * act_], act_, a.data_ptr<float>() + i * act_);
      r.data_ptr<float>()[i] = r_[j];
      d.data_ptr<float>()[i] = d_[j];
    }
    Batch batch;
    batch.columns["observation"] = o;
    batch.columns["next_observation"] = next;
    batch.columns["reward"] = r;
    batch.columns["discount"] = d;
    batch.columns["action"] = a;
    return batch;
  }

 private:
  struct Step {
    std::vector<float> obs, action;
    double reward;
  };

  // Folds the window's oldest step into one transition and drops it.
  void Emit(const std::vector<float>& next_obs, bool terminated) {
    double ret = 0.0, g = 1.0;
    for (const Step& s : window_) {
      ret += g * s.reward;
      g *= gamma_;
    }
    const int64_t j = next_slot_;
    std::copy(window_.front().obs.begin(), window_.front().obs.end(),
              &o_[j * obs_]);
    std::copy(next_obs.begin(), next_obs.end(), &next_[j * obs_]);
    std::copy(window_.front().action.begin(), window_.front().action.end(),
              &a_[j * act_]);
    r_[j] = static_cast<float>(ret);
    d_[j] = terminated ? 0.0f : static_cast<float>(g);
    next_slot_ = (next_slot_ + 1) % capacity_;
    size_ = std::min(size_ + 1, capacity_);
    window_.pop_front();
  }

  const int64_t capacity_, obs_, act_;
  const int n_;
  const double gamma_;
  std::vector<float> o_, next_, a_, r_, d_;
  std::deque<Step> window_;
  int64_t next_slot_ = 0, size_ = 0;
};

// What the training loop varies per algorithm.
struct LoopOptions {
  int64_t env_steps = 0;
  int64_t warmup_steps = 1000;  // uniform random actions, no updates.
  int64_t batch_size = 64;
  int64_t eval_every = 2000;
  int64_t eval_episodes = 5;
  // Epsilon for discrete actions: linear from 1 to epsilon_end over
  // epsilon_steps (after warmup).
  double epsilon_end = 0.05;
  int64_t epsilon_steps = 8000;
};

// Mean return of the deterministic policy over `episodes` (seeds 1000+).
double Evaluate(Env& env, ActorPolicy& policy, int64_t episodes) {
  const int64_t obs_size = env.spec().observation_size();
  std::vector<float> obs(obs_size);
  double total = 0.0;
  for (int64_t e = 0; e < episodes; ++e) {
    EXPECT_TRUE(env.Reset(1000 + e, absl::MakeSpan(obs)).ok());
    while (true) {
      absl::StatusOr<ActOutput> act = policy.Act(
          torch::from_blob(obs.data(), {1, obs_size}).clone(), {true, 0.0});
      EXPECT_TRUE(act.ok());
      Action action;
      torch::Tensor a = act->action.contiguous();
      if (env.spec().action_space.discrete()) {
        action.discrete = a.item<int64_t>();
      } else {
        action.box = absl::MakeConstSpan(a.data_ptr<float>(), a.numel());
      }
      absl::StatusOr<StepResult> step = env.Step(action, absl::MakeSpan(obs));
      EXPECT_TRUE(step.ok());
      total += step->reward;
      if (step->terminated || step->truncated) break;
    }
  }
  return total / static_cast<double>(episodes);
}

// Trains `config` on env `name`; returns the mean of the evaluation
// returns over the second half of the run.
double Train(const std::string& name, const ExperimentConfig& config,
             const LoopOptions& loop) {
  SetIntraOpThreads(1);
  EnvOptions options;
  options.name = name;
  std::unique_ptr<Env> env = std::move(MakeEnv(options)).value();
  std::unique_ptr<Env> eval_env = std::move(MakeEnv(options)).value();
  const EnvShape shape = EnvShapeOf(env->spec());
  absl::StatusOr<std::unique_ptr<Algorithm>> made =
      MakeAlgorithm(config, shape, torch::kCPU);
  EXPECT_TRUE(made.ok()) << made.status();
  Algorithm& algo = **made;
  auto& policy = dynamic_cast<ActorPolicy&>(algo.policy());
  TinyReplay replay(/*capacity=*/50000, shape.observation_size,
                    shape.action_dim(), config.algorithm.n_step,
                    config.algorithm.discount);
  std::mt19937_64 rng(config.seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> obs(shape.observation_size), next(shape.observation_size);
  uint64_t episode = 0;
  EXPECT_TRUE(env->Reset(episode++, absl::MakeSpan(obs)).ok());
  std::vector<double> evals;
  for (int64_t t = 0; t < loop.env_steps; ++t) {
    std::vector<float> action_values(shape.action_dim());
    Action action;
    if (t < loop.warmup_steps) {
      if (shape.discrete) {
        action.discrete = static_cast<int64_t>(rng() % shape.num_actions);
      } else {
        for (int64_t k = 0; k < shape.action_dim(); ++k) {
          action_values[k] =
              shape.low[k] + (shape.high[k] - shape.low[k]) * unit(rng);
        }
      }
    } else {
      const double frac = std::min(
          1.0, static_cast<double>(t - loop.warmup_steps) / loop.epsilon_steps);
      const double eps = 1.0 + frac * (loop.epsilon_end - 1.0);
      absl::StatusOr<ActOutput> act = policy.Act(
          torch::from_blob(obs.data(), {1, shape.observation_size}).clone(),
          {false, eps});
      EXPECT_TRUE(act.ok()) << act.status();
      torch::Tensor a = act->action.contiguous();
      if (shape.discrete) {
        action.discrete = a.item<int64_t>();
      } else {
        std::copy_n(a.data_ptr<float>(), shape.action_dim(),
                    action_values.begin());
      }
    }
    if (shape.discrete) {
      action_values[0] = static_cast<float>(action.discrete);
    } else {
      action.box = action_values;
    }
    absl::StatusOr<StepResult> step = env->Step(action, absl::MakeSpan(next));
    EXPECT_TRUE(step.ok()) << step.status();
    replay.Add(obs, action_values, step->reward, next, step->terminated,
               step->truncated);
    if (step->terminated || step->truncated) {
      EXPECT_TRUE(env->Reset(episode++, absl::MakeSpan(obs)).ok());
    } else {
      obs = next;
    }
    if (t >= loop.warmup_steps) {
      Batch batch = replay.Sample(loop.batch_size, rng);
      if (shape.discrete) {
        batch.columns["action"] =
            batch.columns["action"].squeeze(1).to(torch::kInt64);
      }
      absl::StatusOr<UpdateResult> result = algo.Update(batch);
      EXPECT_TRUE(result.ok()) << result.status();
      if (!result.ok()) return -1e9;
    }
    if ((t + 1) % loop.eval_every == 0) {
      evals.push_back(Evaluate(*eval_env, policy, loop.eval_episodes));
      std::printf("%s step %lld: eval return %.1f\n", name.c_str(),
                  static_cast<long long>(t + 1), evals.back());
    }
  }
  const size_t half = evals.size() / 2;
  double sum = 0.0;
  for (size_t i = half; i < evals.size(); ++i) sum += evals[i];
  return sum / static_cast<double>(evals.size() - half);
}

TEST(LearningTest, DqnSolvesCartPoleWellPastRandom) {
  ExperimentConfig config;
  config.experiment = "dqn_cartpole";
  config.seed = 1;
  config.algorithm.name = AlgorithmKind::kDqn;
  config.algorithm.n_step = 3;
  config.algorithm.optimizer.learning_rate = 5e-4;
  config.algorithm.dqn.target_update_period = 500;
  config.network.hidden = {64, 64};
  LoopOptions loop;
  loop.env_steps = 20000;
  loop.epsilon_steps = 6000;
  loop.eval_episodes = 20;
  // A random policy averages ~22 on cartpole.
  EXPECT_GT(Train("cartpole", config, loop), 150.0);
}

TEST(LearningTest, SacSwingsUpPendulumWellPastRandom) {
  ExperimentConfig config;
  config.experiment = "sac_pendulum";
  config.seed = 1;
  config.algorithm.name = AlgorithmKind::kSac;
  config.algorithm.n_step = 1;
  config.algorithm.sac.actor_learning_rate = 1e-3;
  config.algorithm.sac.critic_learning_rate = 1e-3;
  config.algorithm.sac.alpha_learning_rate = 1e-3;
  config.network.hidden = {64, 64};
  LoopOptions loop;
  loop.env_steps = 8000;
  loop.batch_size = 128;
  loop.eval_every = 1000;
  // A random policy averages about -1200 on pendulum.
  EXPECT_GT(Train("pendulum", config, loop), -600.0);
}

}  // namespace
}  // namespace shoal
