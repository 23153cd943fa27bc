// SyncLoop: the conventional, synchronous training loop that shoal's
// asynchronous system is measured against (`shoalctl run --sync`). One
// thread alternates an env step (one batched step of an ActorLoop) and the
// learner updates that the update-to-data ratio asks for (Trainer::
// TrainStep), so acting and training never overlap: the scheme the seed
// paper compares APT with. Everything else is the asynchronous system's
// own code: the same envs, networks, algorithm, replay table and metrics.
//
//   SyncLoopOptions options;
//   options.updates_per_item = UpdatesPerItem(config);
//   SHOAL_RETURN_IF_ERROR(RunSyncLoop(*actor, *trainer, *table, options,
//   &stop));
//
// Thread-compatible: one thread runs the loop; `stop` may be set from any.
#ifndef SHOAL_SYNC_SYNC_LOOP_H_
#define SHOAL_SYNC_SYNC_LOOP_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "actor/actor_loop.h"
#include "common/config.h"
#include "learner/trainer.h"
#include "replay/table.h"

namespace shoal {

struct SyncLoopOptions {
  // Learner updates owed per item inserted; > 0.
  double updates_per_item = 1.0;
  // Items the table must hold before updates are owed (the rate limiter's
  // min_size_to_sample).
  int64_t min_size_to_sample = 1;
  // How long one update may wait for its batch (items are still on their
  // way to the table) before the loop steps the env again.
  absl::Duration batch_timeout = absl::Seconds(1);
};

// Updates per inserted item that config.actor.table's rate limiter asks
// for: samples_per_insert / batch_size for sample_to_insert_ratio and
// custom limiters, else 1 / batch_size (each item sampled once on average).
double UpdatesPerItem(const ExperimentConfig& config);

// The config the synchronous process runs: the same experiment, with the
// table's ratio limiter replaced by a min_size limiter (the loop itself
// keeps the ratio, so sampling must never block on it), one prefetched
// batch and one actor.
ExperimentConfig SyncConfig(ExperimentConfig config);

// Runs until `stop` or an error: Begin both, then actor Step / owed
// TrainSteps in turn, then End both (the trainer publishes and checkpoints).
absl::Status RunSyncLoop(ActorLoop& actor, Trainer& trainer, Table& table,
                         const SyncLoopOptions& options,
                         const std::atomic<bool>* stop);

}  // namespace shoal

#endif  // SHOAL_SYNC_SYNC_LOOP_H_
