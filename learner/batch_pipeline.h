// BatchPipeline: the learner's sampling pipeline. A background thread draws
// batches of `batch_size` items from every replay shard (ShardedSampler),
// decodes each column straight into a preallocated host tensor (pinned when
// `pin_memory`, for non-blocking copies to CUDA), computes prioritized-
// replay importance weights and queues the batch (at most
// `prefetch_batches`). The train loop pops with Next() (its wait is
// measured: data_wait_fraction), uses the batch and drops it, which hands
// its buffers back. New priorities go back to the shards asynchronously
// through a small bounded queue and a second thread.
//
//   SHOAL_ASSIGN_OR_RETURN(auto pipeline,
//                          BatchPipeline::Create(sampler.get(), options));
//   SHOAL_ASSIGN_OR_RETURN(BatchPipeline::Lease batch,
//                          pipeline->Next(absl::Now() + absl::Seconds(1)));
//   ... algorithm->Update(batch->batch) ...
//   pipeline->UpdatePrioritiesAsync(batch->keys, priorities);
//
// A sampled item whose column does not match what the algorithm expects
// (dtype or shape) stops the pipeline: Next returns INVALID_ARGUMENT naming
// the table and the column. Replay being empty, rate limited or down only
// delays batches.
//
// Thread-safe. Does not own `sampler`; it must outlive the pipeline. Every
// Lease must be dropped before the pipeline is destroyed.
#ifndef SHOAL_LEARNER_BATCH_PIPELINE_H_
#define SHOAL_LEARNER_BATCH_PIPELINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shoal/v1/tensor.pb.h"

#include "common/config.h"
#include "common/torch/networks.h"
#include "learner/algorithms/algorithm.h"
#include "replay/client/sharded_sampler.h"

namespace shoal {

// One column the algorithm reads and where items carry it.
struct PipelineColumn {
  std::string name;
  v1::DType dtype = v1::DTYPE_FLOAT32;
  std::vector<int64_t> shape;  // per item, without the batch dim
  int position = 0;            // index in v1::Item.columns
};

// The columns `config.algorithm` trains on for `shape` (impala's "mask" only
// when the signature is empty or has it), at the positions
// of the sampled table's configured signature (the actors' default order
// when it is empty). INVALID_ARGUMENT naming the table and the column when
// the signature lacks one or gives it another dtype or shape; NOT_FOUND
// when config.learner.table is not a configured table.
absl::StatusOr<std::vector<PipelineColumn>> LearnerColumns(
    const ExperimentConfig& config, const EnvShape& shape);

struct BatchPipelineOptions {
  std::string table;                    // for messages.
  int batch_size = 256;                 // items per batch; >= 1.
  int prefetch_batches = 4;             // batches queued ahead; >= 1.
  std::vector<PipelineColumn> columns;  // at least one.
  // Importance weights from the union probabilities, with
  // ImportanceBeta(importance, learner_step).
  bool prioritized = false;
  DqnConfig importance;
  bool pin_memory = false;  // needs CUDA.
  // Deadline of one Sample call; a miss is retried.
  absl::Duration sample_timeout = absl::Seconds(1);
  // Priority updates waiting to be sent; the oldest is dropped beyond it.
  int priority_queue_size = 8;
};

// A batch in host memory.
struct SampledBatch {
  // Columns [B, shape...] on the CPU; importance_weights [B] float32 when
  // prioritized.
  Batch batch;
  std::vector<uint64_t> keys;
  std::vector<int64_t> policy_versions;
  // Items in the sampled table, summed over the shards that answered.
  int64_t replay_size = 0;
};

struct BatchPipelineStats {
  int64_t batches = 0;              // handed out by Next.
  int64_t sample_retries = 0;       // Sample calls that missed their deadline.
  double wait_seconds = 0.0;        // Next blocked waiting for data.
  double wall_seconds = 0.0;        // since the first Next.
  double data_wait_fraction = 0.0;  // wait_seconds / wall_seconds.
  int64_t priority_updates = 0;     // sent.
  int64_t priority_updates_dropped = 0;
  int64_t priority_update_errors = 0;
};

class BatchPipeline {
 public:
  // Hands the buffers back to the pipeline when destroyed.
  struct Releaser {
    BatchPipeline* pipeline;
    void operator()(SampledBatch* batch) const;
  };
  using Lease = std::unique_ptr<SampledBatch, Releaser>;

  // Allocates prefetch_batches + 2 batches of buffers and starts the
  // threads. INVALID_ARGUMENT naming a bad option.
  static absl::StatusOr<std::unique_ptr<BatchPipeline>> Create(
      ShardedSampler* sampler, BatchPipelineOptions options);
  // Stop().
  ~BatchPipeline();

  BatchPipeline(const BatchPipeline&) = delete;
  BatchPipeline& operator=(const BatchPipeline&) = delete;

  // The next batch, waiting until `deadline` (DEADLINE_EXCEEDED). After a
  // fatal sampling error, that error; after Stop, CANCELLED.
  absl::StatusOr<Lease> Next(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // Queues new priorities for `keys` (same sizes) to be sent to the shards.
  // Never blocks.
  void UpdatePrioritiesAsync(std::vector<uint64_t> keys,
                             std::vector<double> priorities)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The learner step that anneals the importance exponent.
  void set_learner_step(int64_t step) { learner_step_.store(step); }

  // Stops the threads (pending priority updates are sent first, each with
  // its deadline). Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  BatchPipelineStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  BatchPipeline(ShardedSampler* sampler, BatchPipelineOptions options)
      : sampler_(sampler), options_(std::move(options)) {}
  void SampleLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void PriorityLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Decodes `items` into `out`.
  absl::Status Fill(const std::vector<v1::SampledItem>& items,
                    SampledBatch* out);
  void Release(SampledBatch* batch) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  ShardedSampler* const sampler_;
  const BatchPipelineOptions options_;
  std::vector<std::unique_ptr<SampledBatch>> buffers_;
  std::thread sample_thread_;
  std::thread priority_thread_;

  std::atomic<int64_t> learner_step_{0};

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::vector<SampledBatch*> free_ ABSL_GUARDED_BY(mu_);
  std::deque<SampledBatch*> ready_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::vector<uint64_t>, std::vector<double>>> priorities_
      ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time first_next_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  BatchPipelineStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_BATCH_PIPELINE_H_
