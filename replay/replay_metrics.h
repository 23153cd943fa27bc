// Prometheus metrics of one replay shard. Counters are bumped by the
// service as calls complete; table gauges are refreshed by Refresh(), which
// the shard's main loop calls periodically.
//
// Thread-safe (prometheus-cpp metrics are atomic). Does not own the tables.
#ifndef SHOAL_REPLAY_REPLAY_METRICS_H_
#define SHOAL_REPLAY_REPLAY_METRICS_H_

#include <memory>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

#include "replay/replay_server.h"

namespace shoal {

class ReplayMetrics {
 public:
  ReplayMetrics(prometheus::Registry* registry, const ReplayServer* server);

  // Copies every table's size, bytes and counters into gauges.
  void Refresh();

  prometheus::Counter& inserted() { return *inserted_; }
  prometheus::Counter& duplicates() { return *duplicates_; }
  prometheus::Counter& rejected() { return *rejected_; }
  prometheus::Counter& sampled() { return *sampled_; }
  prometheus::Counter& priority_updates() { return *priority_updates_; }

 private:
  const ReplayServer* const server_;
  prometheus::Counter* inserted_;
  prometheus::Counter* duplicates_;
  prometheus::Counter* rejected_;
  prometheus::Counter* sampled_;
  prometheus::Counter* priority_updates_;
  prometheus::Family<prometheus::Gauge>* table_gauges_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_REPLAY_METRICS_H_
