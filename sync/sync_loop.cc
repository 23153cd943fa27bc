#include "sync/sync_loop.h"

#include <limits>

#include "absl/time/clock.h"

#include "common/status_macros.h"

namespace shoal {

double UpdatesPerItem(const ExperimentConfig& config) {
  const TableConfig* table = config.FindTable(config.actor.table);
  const double batch = static_cast<double>(config.algorithm.batch_size);
  if (table != nullptr &&
      (table->rate_limiter.kind == RateLimiterKind::kSampleToInsertRatio ||
       table->rate_limiter.kind == RateLimiterKind::kCustom)) {
    return table->rate_limiter.samples_per_insert / batch;
  }
  return 1.0 / batch;
}

ExperimentConfig SyncConfig(ExperimentConfig config) {
  for (TableConfig& table : config.tables) {
    if (table.rate_limiter.kind == RateLimiterKind::kSampleToInsertRatio ||
        table.rate_limiter.kind == RateLimiterKind::kCustom) {
      // What the config decoder makes of a min_size limiter.
      table.rate_limiter.kind = RateLimiterKind::kMinSize;
      table.rate_limiter.samples_per_insert = 1.0;
      table.rate_limiter.min_diff = std::numeric_limits<double>::lowest();
      table.rate_limiter.max_diff = std::numeric_limits<double>::max();
    }
  }
  config.learner.prefetch_batches = 1;
  config.actor.num_actors = 1;
  return config;
}

absl::Status RunSyncLoop(ActorLoop& actor, Trainer& trainer, Table& table,
                         const SyncLoopOptions& options,
                         const std::atomic<bool>* stop) {
  SHOAL_RETURN_IF_ERROR(actor.Begin());
  trainer.Begin();
  double owed = 0.0;
  bool ready = false;  // the table reached min_size_to_sample
  absl::Status status;
  while (status.ok() && !stop->load(std::memory_order_relaxed)) {
    status = actor.Step();
    if (!status.ok()) break;
    ready = ready || table.Info().size() >= options.min_size_to_sample;
    if (!ready) continue;
    owed +=
        static_cast<double>(actor.items_last_step()) * options.updates_per_item;
    while (owed >= 1.0 && !stop->load(std::memory_order_relaxed)) {
      absl::StatusOr<bool> stepped =
          trainer.TrainStep(absl::Now() + options.batch_timeout);
      if (!stepped.ok()) {
        status = stepped.status();
        break;
      }
      if (!*stepped) break;  // the batch is not there yet: act on
      owed -= 1.0;
    }
  }
  actor.End();
  absl::Status ended = trainer.End();
  return status.ok() ? ended : status;
}

}  // namespace shoal
