// Prometheus metrics of one replay shard.
//
// Call counters and latency histograms are bumped by the service as calls
// complete. Table state (items, bytes, lifetime counts, blocked callers) is
// read from the tables when Prometheus scrapes, by a collector registered
// with the MetricsServer, so a scrape never disagrees with itself:
//
//   shoal_replay_table_items{table}                 gauge
//   shoal_replay_table_max_items{table}             gauge (0 = unbounded)
//   shoal_replay_table_bytes{table}                 gauge
//   shoal_replay_table_max_bytes{table}             gauge (0 = unbounded)
//   shoal_replay_table_inserts_total{table}         counter
//   shoal_replay_table_samples_total{table}         counter
//   shoal_replay_table_evictions_total{table}       counter
//   shoal_replay_table_writers{table}               gauge
//   shoal_replay_rate_limiter_samples_per_insert{table}  gauge
//   shoal_replay_rate_limiter_blocked_inserts{table}     gauge
//   shoal_replay_rate_limiter_blocked_samples{table}     gauge
//
// Thread-safe (prometheus-cpp metrics are atomic; tables lock themselves).
// Does not own the server, which must outlive this object; the collector
// stops reading it when this object is destroyed.
#ifndef SHOAL_REPLAY_REPLAY_METRICS_H_
#define SHOAL_REPLAY_REPLAY_METRICS_H_

#include <memory>

#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

#include "common/metrics.h"
#include "replay/replay_server.h"

namespace shoal {

class ReplayMetrics {
 public:
  // Registers the shard's metrics with `metrics_server`, which serves them.
  ReplayMetrics(MetricsServer* metrics_server, const ReplayServer* server);

  prometheus::Counter& inserted() { return *inserted_; }
  prometheus::Counter& duplicates() { return *duplicates_; }
  prometheus::Counter& rejected() { return *rejected_; }
  prometheus::Counter& sampled() { return *sampled_; }
  prometheus::Counter& priority_updates() { return *priority_updates_; }
  // From reading an insert request to writing its acknowledgement (waits
  // on the rate limiter included).
  void ObserveInsert(absl::Duration took);
  // From reading a sample request to writing its last response.
  void ObserveSample(absl::Duration took);

 private:
  prometheus::Counter* inserted_;
  prometheus::Counter* duplicates_;
  prometheus::Counter* rejected_;
  prometheus::Counter* sampled_;
  prometheus::Counter* priority_updates_;
  prometheus::Histogram* insert_seconds_;
  prometheus::Histogram* sample_seconds_;
  // Held strongly here, weakly by the MetricsServer.
  std::shared_ptr<prometheus::Collectable> tables_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_REPLAY_METRICS_H_
