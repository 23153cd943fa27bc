// Trainer: the learner's train loop. Pops batches from a BatchPipeline,
// moves them to the algorithm's device (non-blocking), takes one gradient
// step each, sends new priorities back, publishes the policy every
// `publish_every_steps` steps, logs scalars every `log_every` and
// checkpoints every `checkpoint_every`.
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer,
//                          Trainer::Create(options, std::move(algorithm),
//                                          pipeline.get(), store.get(),
//                                          &episodes, checkpointer.get(),
//                                          /*version=*/restored_version));
//   SHOAL_RETURN_IF_ERROR(trainer->Publish());  // actors can start
//   SHOAL_RETURN_IF_ERROR(trainer->Run());      // until max_steps or Stop()
//
// Publishing sends the named parameters and named buffers of
// algorithm->policy() as v1::Parameters whose version is one more than the
// last (the count of publishes, continuing from a restored checkpoint).
// Policy lag = the current version - the version that produced an item;
// its batch mean and max are reported. Scalars go to spdlog (one line),
// `<logdir>/scalars.csv` and TensorBoard files (ScalarLog) and Prometheus
// gauges.
//
// A failed Update (e.g. INTERNAL for a NaN loss, which leaves the weights
// untouched) ends Run with that error and nothing more is published.
//
// Thread-compatible, except Stop(), step() and version(), which any thread
// may call. Owns the algorithm; does not own the pipeline, store, episode
// stats or checkpointer, which must outlive it.
#ifndef SHOAL_LEARNER_TRAINER_H_
#define SHOAL_LEARNER_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"
#include "torch/types.h"

#include "learner/algorithms/algorithm.h"
#include "learner/batch_pipeline.h"
#include "learner/episode_stats.h"
#include "learner/learner_checkpoint.h"
#include "learner/parameter_store.h"
#include "learner/scalar_log.h"

namespace shoal {

struct TrainerOptions {
  int64_t max_steps = 0;              // stop at this step; 0 = never.
  int64_t publish_every_steps = 100;  // >= 1.
  absl::Duration log_every = absl::Seconds(10);
  // Periodic checkpoints; zero = only when Run ends. Needs a checkpointer.
  absl::Duration checkpoint_every = absl::ZeroDuration();
  torch::Device device = torch::kCPU;
  bool prioritized = false;  // send the algorithm's new priorities back.
  std::string logdir;        // scalars.csv and event files; "" = none.
  // Registry for the Prometheus gauges; null = none.
  std::shared_ptr<prometheus::Registry> registry;
};

// Totals over one Run.
struct TrainerStats {
  int64_t steps = 0;  // updates taken by this Run
  double seconds = 0.0;
  double updates_per_second = 0.0;
  double data_wait_fraction = 0.0;  // the pipeline's, over the Run
  double mean_policy_lag = 0.0;
  int64_t max_policy_lag = 0;
};

class Trainer {
 public:
  // `version` is the newest version already published (0 when none; a
  // restored checkpoint's). `episodes` and `checkpointer` may be null.
  // INVALID_ARGUMENT naming a bad option; INTERNAL when the logdir cannot
  // be written.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      TrainerOptions options, std::unique_ptr<Algorithm> algorithm,
      BatchPipeline* pipeline, ParameterStore* store, EpisodeStats* episodes,
      LearnerCheckpointer* checkpointer, int64_t version);
  ~Trainer();

  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Publishes the policy as version() + 1 at the current step.
  absl::Status Publish();

  // Trains until max_steps, Stop() or an error. On max_steps or Stop it
  // publishes weights not yet published and checkpoints (when it has a
  // checkpointer) before returning OK. Errors: the Update's, the
  // pipeline's (e.g. a bad column), a failed publish or checkpoint.
  absl::Status Run();

  // Run in pieces, for a caller that interleaves updates with other work
  // (the synchronous baseline, sync/): Begin once, TrainStep per update,
  // End once; Run() is exactly that until max_steps or Stop().
  void Begin();
  // Waits for a batch until `deadline` and takes one step, then publishes,
  // logs and checkpoints as due. True when a step was taken; false when no
  // batch came in time or max_steps is reached. CANCELLED once the
  // pipeline stopped; other errors as Run's.
  absl::StatusOr<bool> TrainStep(absl::Time deadline);
  // Publishes what is not yet published and checkpoints, as Run does at
  // its end; fills stats().
  absl::Status End();

  // Makes Run return soon (within about 100 ms plus one step).
  void Stop() { stop_.store(true); }

  // Writes a checkpoint now. REQUIRES: Run is not running. FAILED_PRECONDITION
  // without a checkpointer.
  absl::StatusOr<std::string> Checkpoint();

  int64_t step() const { return step_.load(); }
  int64_t version() const { return version_.load(); }
  const TrainerStats& stats() const { return stats_; }
  Algorithm& algorithm() { return *algorithm_; }

 private:
  struct Interval;  // scalars accumulated between two log lines
  struct Gauges;

  Trainer(TrainerOptions options, std::unique_ptr<Algorithm> algorithm,
          BatchPipeline* pipeline, ParameterStore* store,
          EpisodeStats* episodes, LearnerCheckpointer* checkpointer,
          int64_t version);
  // One step on `lease`.
  absl::Status Step(BatchPipeline::Lease lease);
  // max_steps reached.
  bool done() const;
  void Log(absl::Time now);

  // Constant after construction.
  const TrainerOptions options_;
  const std::unique_ptr<Algorithm> algorithm_;
  BatchPipeline* const pipeline_;
  ParameterStore* const store_;
  EpisodeStats* const episodes_;
  LearnerCheckpointer* const checkpointer_;
  std::unique_ptr<ScalarLog> scalar_log_;
  std::unique_ptr<Gauges> gauges_;

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> step_{0};
  std::atomic<int64_t> version_{0};

  // Run's thread only.
  absl::Time run_start_;
  absl::Time last_checkpoint_;
  int64_t run_start_step_ = 0;
  double run_start_wait_ = 0.0;
  int64_t published_step_ = -1;
  std::unique_ptr<Interval> interval_;
  TrainerStats stats_;
  double lag_sum_ = 0.0;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_TRAINER_H_
