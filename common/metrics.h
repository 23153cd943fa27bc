// MetricsServer: serves a prometheus-cpp registry as text on
// http://<address>/metrics for Prometheus to scrape.
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<MetricsServer> metrics,
//                          MetricsServer::Start("0.0.0.0:9090"));
//   prometheus::Counter& inserts =
//       prometheus::BuildCounter()
//           .Name("shoal_replay_inserts_total")
//           .Help("Items inserted.")
//           .Register(*metrics->registry())
//           .Add({{"table", "main"}});
//   inserts.Increment();
//
// Every scrape also carries the standard process_* series of the serving
// process (common/process_metrics.h) and shoal_build_info
// (common/build_info.h). State that lives elsewhere (a replay table's size)
// is best read when scraped, by a prometheus::Collectable registered with
// RegisterCollectable, rather than copied into gauges on a timer.
//
// Thread-safe: prometheus-cpp registries, families and metrics may be used
// from any thread. One serving thread answers scrapes one at a time (each
// connection gets 1 s to send its request); it stops when the MetricsServer
// is destroyed. The registry lives on while anyone holds it.
//
// The HTTP side is our own small server, not prometheus-cpp's civetweb
// Exposer: civetweb cannot start its worker threads in a process that has
// libtorch_cpu 1.13 loaded ("Cannot create first worker thread"), which
// left /metrics dead in the actor and the learner.
//
// prometheus-cpp throws std::invalid_argument for a bad metric or label
// name (BuildCounter().Name("a b")); use literal, valid names.
#ifndef SHOAL_COMMON_METRICS_H_
#define SHOAL_COMMON_METRICS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace shoal {

// Raises `counter` to `total`, a count kept elsewhere (a writer's acked
// items, the learner's step); a lower total is ignored, since a counter
// only grows. Prometheus's rate() sees a restarted process's counter
// start again as a reset.
void AdvanceCounterTo(prometheus::Counter& counter, double total);

// Bucket bounds, in seconds, of every shoal latency histogram
// (`*_seconds`): 100 us doubling to 13 s, so histogram_quantile() has a
// bucket within a factor of two of any latency in that range.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

class MetricsServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free one) and serves
  // `registry` (a new empty one when null) on /metrics. Unavailable naming
  // `address` when it cannot listen there.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address,
      std::shared_ptr<prometheus::Registry> registry = nullptr);

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  // The bound port, e.g. the one picked for port 0.
  int port() const { return port_; }
  // The registry served; add metric families to it.
  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }
  // Adds `collectable`'s families to every scrape while it lives (the
  // server holds it weakly, as prometheus-cpp's Exposer does).
  void RegisterCollectable(std::weak_ptr<prometheus::Collectable> collectable);

 private:
  MetricsServer(int listen_fd, std::shared_ptr<prometheus::Registry> registry,
                int port);
  // The registry's families, then every live collectable's.
  std::vector<prometheus::MetricFamily> Collect();
  // Accepts and answers connections until stop_.
  void ServeLoop();
  // Answers one connection: GET /metrics -> the registry as text.
  void Answer(int fd);

  // Constant after construction.
  const int listen_fd_;
  const std::shared_ptr<prometheus::Registry> registry_;
  const int port_;
  absl::Mutex mu_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_
      ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread thread_;  // started last, joined by the destructor
};

}  // namespace shoal

#endif  // SHOAL_COMMON_METRICS_H_
