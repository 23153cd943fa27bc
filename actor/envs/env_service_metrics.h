// EnvServiceMetrics: the Prometheus series of one EnvServiceImpl (what
// shoal-env-server serves on /metrics):
//
//   shoal_env_server_sessions                 gauge: sessions open now
//   shoal_env_server_sessions_opened_total    counter
//   shoal_env_server_steps_total              counter: successful Steps
//   shoal_env_server_resets_total             counter: successful Resets
//   shoal_env_server_rejected_requests_total  counter: calls answered with
//                                             an error
//   shoal_env_server_step_seconds             histogram (LatencyBuckets())
//
//   EnvServiceMetrics metrics(*metrics_server->registry());
//   EnvServiceOptions options;
//   options.metrics = &metrics;
//
// Thread-safe: each update is one atomic prometheus-cpp operation, with no
// lock and no allocation. The metrics live in `registry`, which must
// outlive this object; two EnvServiceMetrics on one registry share them.
#ifndef SHOAL_ACTOR_ENVS_ENV_SERVICE_METRICS_H_
#define SHOAL_ACTOR_ENVS_ENV_SERVICE_METRICS_H_

#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace shoal {

class EnvServiceMetrics {
 public:
  // Registers the series with `registry`. prometheus-cpp throws if one of
  // the names is already registered there with another type.
  explicit EnvServiceMetrics(prometheus::Registry& registry);

  EnvServiceMetrics(const EnvServiceMetrics&) = delete;
  EnvServiceMetrics& operator=(const EnvServiceMetrics&) = delete;

  // Sessions open now; set by the service whenever the count changes.
  prometheus::Gauge& sessions() { return *sessions_; }
  prometheus::Counter& sessions_opened() { return *sessions_opened_; }
  // One per env instance stepped (a Step the env completed).
  prometheus::Counter& steps() { return *steps_; }
  // One per Reset the env completed.
  prometheus::Counter& resets() { return *resets_; }
  // One per Open, Reset, Step or Close answered with a non-OK status.
  prometheus::Counter& rejected_requests() { return *rejected_requests_; }
  // One Step call, from its arrival to its answer (the wait for a worker
  // and the env step included).
  void ObserveStep(absl::Duration took) {
    step_seconds_->Observe(absl::ToDoubleSeconds(took));
  }

 private:
  // Constant after construction; the pointees belong to the registry.
  prometheus::Gauge* const sessions_;
  prometheus::Counter* const sessions_opened_;
  prometheus::Counter* const steps_;
  prometheus::Counter* const resets_;
  prometheus::Counter* const rejected_requests_;
  prometheus::Histogram* const step_seconds_;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_SERVICE_METRICS_H_
