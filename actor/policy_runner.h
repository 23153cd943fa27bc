// PolicyRunner: the actor's policy. Owns the current policy module, runs
// one batched forward pass per vector step over the VectorEnv's
// observation buffer, and swaps in new weights from the learner between
// steps.
//
//   std::vector<float> obs(num_envs * obs_size);  // VectorEnv writes here
//   SHOAL_ASSIGN_OR_RETURN(
//       std::unique_ptr<PolicyRunner> runner,
//       PolicyRunner::Create(config, venv->spec(), options,
//                            absl::MakeSpan(obs)));
//   watcher callback:  runner->OnParameters(std::move(params));
//   each step:         SHOAL_ASSIGN_OR_RETURN(int64_t version,
//                          runner->Act(actions, {}, log_probs));
//
// Exploration: dqn is epsilon-greedy with Ape-X's ladder (ApeXEpsilon of
// actor_index among num_actors); sac samples its squashed Gaussian; impala
// samples its softmax and records the behaviour log-probs. With `eval` every
// algorithm acts greedily / with the mean action. Before the first weights
// arrive: actor.initial_policy `random_weights` acts with the untrained
// network, `uniform` draws actions uniformly (log-prob -log(num_actions)).
//
// Weight swap: Load builds a FRESH module (MakePolicy), copies every tensor
// of the message into it by name (the names, shapes and dtypes must match
// the module's named_parameters + named_buffers exactly, else the version
// is refused and the old weights stay), then publishes it as `next_` and
// bumps `pending_version_`. Act compares that atomic with the version it
// runs and only takes the mutex when they differ, so a step without a new
// version takes no lock and allocates nothing besides torch's outputs.
//
// Thread-safety: Act is called by one thread (the stepping loop); Load,
// OnParameters and the accessors may be called from any thread. Does not
// own the observation buffer; it must outlive the runner.
#ifndef SHOAL_ACTOR_POLICY_RUNNER_H_
#define SHOAL_ACTOR_POLICY_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "shoal/v1/learner.pb.h"
#include "torch/types.h"

#include "actor/envs/env.h"
#include "common/config.h"
#include "common/torch/networks.h"

namespace shoal {

struct PolicyRunnerOptions {
  // Picks dqn's epsilon on the Ape-X ladder; in [0, num_actors).
  int actor_index = 0;
  // Actors in the run; >= 1. Default 1 (epsilon = algorithm.dqn.epsilon).
  int num_actors = 1;
  // Greedy / deterministic actions.
  bool eval = false;
  // Seeds the uniform initial policy's generator.
  uint64_t seed = 0;
};

class PolicyRunner {
 public:
  // Builds the initial module for `config` and `spec` and sets torch's
  // intra-op threads to actor.inference_threads. `observations` is the
  // [num_envs * observation_size] buffer Act reads (wrapped once, never
  // copied). INVALID_ARGUMENT when the algorithm does not fit the env, the
  // buffer size is wrong or an option is out of range.
  static absl::StatusOr<std::unique_ptr<PolicyRunner>> Create(
      const ExperimentConfig& config, const EnvSpec& spec,
      const PolicyRunnerOptions& options, absl::Span<const float> observations);

  PolicyRunner(const PolicyRunner&) = delete;
  PolicyRunner& operator=(const PolicyRunner&) = delete;

  // Chooses actions for the observations in the buffer: `discrete_actions`
  // [num_envs] for a discrete space or `box_actions` [num_envs * dim] for a
  // box (the other empty), `log_probs` [num_envs] (may be empty when not
  // wanted). Swaps in a newer loaded version first. Returns the version
  // that acted (0 = the initial policy). One forward pass; no lock and no
  // allocation besides torch's outputs unless a swap happens.
  absl::StatusOr<int64_t> Act(absl::Span<int64_t> discrete_actions,
                              absl::Span<float> box_actions,
                              absl::Span<float> log_probs)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Loads `parameters` into a fresh module, to be used from the next Act.
  // `published` is when the learner published them (InfinitePast when
  // unknown). INVALID_ARGUMENT naming the tensor when a name, shape or
  // dtype does not match, or when the version is not above the newest
  // loaded one; then nothing changes. Slow (builds a module); call off the
  // hot path.
  absl::Status Load(const v1::Parameters& parameters,
                    absl::Time published = absl::InfinitePast())
      ABSL_LOCKS_EXCLUDED(load_mu_, mu_);

  // Load for ParameterWatcher's callback: logs and counts a refusal.
  void OnParameters(std::shared_ptr<const v1::Parameters> parameters,
                    absl::Time published = absl::InfinitePast())
      ABSL_LOCKS_EXCLUDED(load_mu_, mu_);

  // The newest version loaded (used from the next Act on); 0 = none.
  int64_t loaded_version() const { return pending_version_.load(); }
  // The version the last Act used.
  int64_t acting_version() const { return acting_version_.load(); }
  // When the learner published that version (InfinitePast when unknown or
  // the initial policy). Acting thread only.
  absl::Time acting_published() const { return policy_published_; }
  // Versions refused by Load.
  int64_t rejected_parameter_versions() const { return rejected_.load(); }
  // The epsilon dqn explores with (0 for eval and other algorithms).
  double epsilon() const { return act_options_.epsilon; }
  int num_envs() const { return num_envs_; }

 private:
  PolicyRunner(const ExperimentConfig& config, const EnvShape& shape,
               const PolicyRunnerOptions& options, int num_envs,
               torch::Tensor input, std::shared_ptr<ActorPolicy> initial);

  // Uniform random actions (the `uniform` initial policy).
  // Every action 0 (discrete action 0 or a zero box), log-prob 0.
  void ActZero(absl::Span<int64_t> discrete_actions,
               absl::Span<float> box_actions, absl::Span<float> log_probs);
  void ActUniform(absl::Span<int64_t> discrete_actions,
                  absl::Span<float> box_actions, absl::Span<float> log_probs);

  // Constant after construction.
  const ExperimentConfig config_;
  const EnvShape shape_;
  const int num_envs_;
  const ActOptions act_options_;
  // [num_envs, obs] view of the caller's observation buffer.
  const torch::Tensor input_;

  // Acting thread only.
  std::shared_ptr<ActorPolicy> policy_;
  int64_t policy_version_ = 0;
  absl::Time policy_published_ = absl::InfinitePast();
  // The initial policy until the first weights; kRandomWeights = the
  // network (also after the first weights).
  InitialPolicy initial_;
  std::mt19937_64 rng_;

  // Newest loaded version; Act swaps when it differs from policy_version_.
  std::atomic<int64_t> pending_version_{0};
  std::atomic<int64_t> acting_version_{0};
  std::atomic<int64_t> rejected_{0};

  // Serialises Load calls, so versions only grow.
  absl::Mutex load_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  // The module for pending_version_, waiting for Act to take it.
  std::shared_ptr<ActorPolicy> next_ ABSL_GUARDED_BY(mu_);
  int64_t next_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_published_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_POLICY_RUNNER_H_
