// ActorLoop: one actor's stepping loop. A VectorEnv of actor.num_envs envs
// (base seed + actor_index * num_envs), a PolicyRunner choosing every
// env's action in one forward pass, an ItemBuilder turning the steps into
// items, and a ReplayWriter streaming them:
//
//   act -> VectorEnv::Step -> ItemBuilder::Add -> ReplayWriter::Append
//
// Backpressure: Append blocks while the writer's unacked buffer is full, and
// with it the stepping. Eval loops (options.eval) act greedily, build and
// insert no items and run evaluation rounds (EvalRound): all envs reset,
// the first episode of each counts, the round's mean return is logged
// ("eval round R: mean_return M over K episodes, policy version V"), set on
// /metrics and its episodes reported; the next round starts eval_every
// after this one started.
//
// Finished episodes (return, length, actor_env_steps, policy version, eval,
// terminated / truncated) are handed to the EpisodeReporter in groups of
// actor.report_every_episodes, or every report_every when fewer finished.
// Metrics (when a registry is given) and a log line every log_every.
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ActorLoop> loop,
//                          ActorLoop::Create(config, options));
//   watcher callback: loop->runner()->OnParameters(params);
//   std::thread t([&] { status = loop->Run(); });  ...  loop->Stop();
//
// Thread-safety: Run is called once, by one thread; Stop, runner() and
// stats() from any thread. Does not own the writer, reporter or registry;
// they must outlive Run.
#ifndef SHOAL_ACTOR_ACTOR_LOOP_H_
#define SHOAL_ACTOR_ACTOR_LOOP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"
#include "shoal/v1/learner.pb.h"
#include "shoal/v1/replay.pb.h"

#include "actor/envs/vector_env.h"
#include "actor/eval_round.h"
#include "actor/item_builder.h"
#include "actor/policy_runner.h"
#include "common/config.h"
#include "learner/client/episode_reporter.h"
#include "replay/client/replay_writer.h"

namespace shoal {

struct ActorLoopOptions {
  int actor_index = 0;
  // Actors in the run (the epsilon ladder); >= 1.
  int num_actors = 1;
  // Greedy actions; no items; evaluation rounds.
  bool eval = false;
  // Eval loops: a round starts this long after the previous one started
  // (at once when that one took longer).
  absl::Duration eval_every = absl::ZeroDuration();
  // Env steps to run (summed over envs, resets not counted); 0 = until Stop.
  int64_t max_env_steps = 0;
  // Where items go; required unless eval. Not owned.
  ReplayWriter* writer = nullptr;
  // Where episodes go; nullptr = not reported. Not owned.
  EpisodeReporter* reporter = nullptr;
  // Metrics are added here; nullptr = none. Not owned.
  prometheus::Registry* registry = nullptr;
  // Episodes are reported at least this often while any wait.
  absl::Duration report_every = absl::Seconds(5);
  // A progress log line this often; InfiniteDuration = never.
  absl::Duration log_every = absl::Seconds(10);
};

struct ActorLoopStats {
  int64_t env_steps = 0;
  int64_t episodes = 0;
  int64_t items_appended = 0;
  int64_t policy_version = 0;
  // Eval loops: rounds completed and the last one's mean return.
  int64_t eval_rounds = 0;
  double eval_return = 0.0;
};

// The env options config.env describes, with the experiment's client
// security (security.tls_*, token_file) toward a remote env server.
EnvOptions EnvOptionsFromConfig(const ExperimentConfig& config);

// What ActorLoop::Create checks before it builds anything heavy, for a
// binary to fail fast with one line: the env builds, config.actor.table
// exists (NOT_FOUND otherwise) and its signature matches the env and the
// algorithm (CheckItemSignature), and the algorithm fits the action space.
absl::Status ValidateActorConfig(const ExperimentConfig& config);

class ActorLoop {
 public:
  // Builds the envs (EnvOptions from config.env), checks the table
  // (config.actor.table must exist and its signature match the env and
  // algorithm: CheckItemSignature's one-line error), the builder and the
  // policy. Seeds torch with config.seed + actor_index.
  static absl::StatusOr<std::unique_ptr<ActorLoop>> Create(
      const ExperimentConfig& config, const ActorLoopOptions& options);
  ~ActorLoop();

  ActorLoop(const ActorLoop&) = delete;
  ActorLoop& operator=(const ActorLoop&) = delete;

  // Steps until max_env_steps, Stop or an error (of an env, the policy or
  // the builder; or an Append failing for another reason than the writer
  // being closed after Stop). Reports the episodes still waiting on the way
  // out. Call once.
  absl::Status Run();
  // Run in pieces, for a caller that interleaves acting with other work
  // (the synchronous baseline, sync/): Begin once (resets every env), Step
  // for each batched env step, End once (reports the waiting episodes).
  // Run() is exactly that until max_env_steps, Stop or an error.
  absl::Status Begin();
  absl::Status Step();
  void End();
  // Items the last Step built (0 for eval loops).
  int64_t items_last_step() const {
    return static_cast<int64_t>(items_.size());
  }

  // Makes Run return after the current step. Thread-safe.
  void Stop() { stop_.store(true); }

  // For ParameterWatcher's callback: OnParameters is thread-safe.
  PolicyRunner* runner() { return runner_.get(); }
  ActorLoopStats stats() const;

 private:
  struct Metrics;

  ActorLoop(const ExperimentConfig& config, const ActorLoopOptions& options);
  // max_env_steps reached.
  bool done() const;
  // Appends every built item; OK-and-stopping when the writer was closed.
  absl::Status AppendItems();
  // Updates episode sums after a step and queues finished episodes.
  void TrackEpisodes(int64_t version);
  void SendEpisodes();
  // Eval loops, after a round completed: reports it, waits for the next
  // round's start (or Stop) and resets every env.
  absl::Status FinishEvalRound(absl::Time round_start);
  // Metrics and the log line; cheap unless a period has passed.
  void Tick(absl::Time now, bool force);

  // Constant after construction.
  const ExperimentConfig config_;
  const ActorLoopOptions options_;

  // Run's thread only (after Create).
  std::unique_ptr<VectorEnv> venv_;
  std::unique_ptr<ItemBuilder> builder_;   // nullptr for eval.
  std::unique_ptr<EvalRound> eval_round_;  // eval only.
  std::unique_ptr<PolicyRunner> runner_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<float> observations_;       // what the policy reads
  std::vector<float> next_observations_;  // what Step writes
  std::vector<int64_t> discrete_actions_;
  std::vector<float> box_actions_;
  std::vector<float> log_probs_;
  std::vector<float> rewards_;
  std::unique_ptr<bool[]> terminated_, truncated_, is_first_;
  std::vector<double> episode_return_;
  std::vector<int64_t> episode_length_;
  std::vector<v1::Item> items_;
  std::vector<v1::Episode> episodes_;  // waiting to be reported
  absl::Time last_report_;
  absl::Time last_log_;
  absl::Time last_metrics_;
  absl::Time last_version_log_ = absl::InfinitePast();
  absl::Time round_start_;  // eval: when the current round began
  bool round_starting_ = false;
  int64_t steps_at_last_log_ = 0;
  double return_sum_since_log_ = 0.0;
  int64_t episodes_since_log_ = 0;

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> env_steps_{0};
  std::atomic<int64_t> episodes_done_{0};
  std::atomic<int64_t> items_appended_{0};
  std::atomic<int64_t> policy_version_{0};
  std::atomic<int64_t> eval_rounds_{0};
  std::atomic<double> eval_return_{0.0};
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ACTOR_LOOP_H_
