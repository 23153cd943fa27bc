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
// Thread-safe: prometheus-cpp registries, families and metrics may be used
// from any thread. The serving threads stop when the MetricsServer is
// destroyed; the registry lives on while anyone holds it.
//
// prometheus-cpp throws std::invalid_argument for a bad metric or label
// name (BuildCounter().Name("a b")); use literal, valid names.
#ifndef SHOAL_COMMON_METRICS_H_
#define SHOAL_COMMON_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace shoal {

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

  // The bound port, e.g. the one picked for port 0.
  int port() const { return port_; }
  // The registry served; add metric families to it.
  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                std::shared_ptr<prometheus::Registry> registry, int port)
      : registry_(std::move(registry)),
        exposer_(std::move(exposer)),
        port_(port) {}

  // Constant after construction. registry_ is declared first so that it
  // outlives the exposer's serving threads.
  const std::shared_ptr<prometheus::Registry> registry_;
  const std::unique_ptr<prometheus::Exposer> exposer_;
  const int port_;
};

}  // namespace shoal

#endif  // SHOAL_COMMON_METRICS_H_
