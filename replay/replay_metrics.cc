#include "replay/replay_metrics.h"

#include <string>
#include <vector>

#include "prometheus/metric_family.h"

#include "common/metrics.h"

namespace shoal {
namespace {

prometheus::Counter* MakeCounter(prometheus::Registry& registry,
                                 const std::string& name,
                                 const std::string& help) {
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(registry)
              .Add({});
}

prometheus::Histogram* MakeHistogram(prometheus::Registry& registry,
                                     const std::string& name,
                                     const std::string& help) {
  return &prometheus::BuildHistogram()
              .Name(name)
              .Help(help)
              .Register(registry)
              .Add({}, LatencyBuckets());
}

// Reads every table when scraped.
class TableCollector final : public prometheus::Collectable {
 public:
  explicit TableCollector(const ReplayServer* server) : server_(server) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    auto family = [&](const char* name, const char* help,
                      prometheus::MetricType type) {
      families.push_back({name, help, type, {}});
    };
    using prometheus::MetricType;
    family("shoal_replay_table_items", "Items the table holds.",
           MetricType::Gauge);
    family("shoal_replay_table_max_items",
           "The table's item capacity; 0 = unbounded.", MetricType::Gauge);
    family("shoal_replay_table_bytes", "Bytes of the items the table holds.",
           MetricType::Gauge);
    family("shoal_replay_table_max_bytes",
           "The table's byte capacity; 0 = unbounded.", MetricType::Gauge);
    family("shoal_replay_table_inserts_total",
           "Items stored in the table (restored checkpoints included).",
           MetricType::Counter);
    family("shoal_replay_table_samples_total", "Items sampled from the table.",
           MetricType::Counter);
    family("shoal_replay_table_evictions_total",
           "Items removed to make room or after max_times_sampled.",
           MetricType::Counter);
    family("shoal_replay_table_writers",
           "Writers whose sequence numbers the table remembers.",
           MetricType::Gauge);
    family("shoal_replay_rate_limiter_samples_per_insert",
           "Samples the rate limiter allows per insert.", MetricType::Gauge);
    family("shoal_replay_rate_limiter_blocked_inserts",
           "Insert calls waiting on the rate limiter now.", MetricType::Gauge);
    family("shoal_replay_rate_limiter_blocked_samples",
           "Sample calls waiting on the rate limiter now.", MetricType::Gauge);
    for (const auto& table : server_->tables()) {
      const v1::TableInfo info = table->Info();
      const double values[] = {
          static_cast<double>(info.size()),
          static_cast<double>(info.max_size()),
          static_cast<double>(info.bytes()),
          static_cast<double>(info.max_bytes()),
          static_cast<double>(info.inserts()),
          static_cast<double>(info.samples()),
          static_cast<double>(info.evictions()),
          static_cast<double>(info.writers()),
          info.rate_limiter().samples_per_insert(),
          static_cast<double>(info.rate_limiter().blocked_inserts()),
          static_cast<double>(info.rate_limiter().blocked_samples()),
      };
      for (size_t i = 0; i < families.size(); ++i) {
        prometheus::ClientMetric metric;
        metric.label.push_back({"table", info.name()});
        if (families[i].type == prometheus::MetricType::Counter) {
          metric.counter.value = values[i];
        } else {
          metric.gauge.value = values[i];
        }
        families[i].metric.push_back(std::move(metric));
      }
    }
    return families;
  }

 private:
  const ReplayServer* const server_;
};

}  // namespace

ReplayMetrics::ReplayMetrics(MetricsServer* metrics_server,
                             const ReplayServer* server)
    : tables_(std::make_shared<TableCollector>(server)) {
  prometheus::Registry& registry = *metrics_server->registry();
  inserted_ = MakeCounter(registry, "shoal_replay_inserted_items_total",
                          "Items stored by inserts.");
  duplicates_ = MakeCounter(registry, "shoal_replay_duplicate_items_total",
                            "Resent items dropped by sequence number.");
  rejected_ = MakeCounter(registry, "shoal_replay_rejected_items_total",
                          "Items refused by validation.");
  sampled_ = MakeCounter(registry, "shoal_replay_sampled_items_total",
                         "Items sent to samplers.");
  priority_updates_ =
      MakeCounter(registry, "shoal_replay_priority_updates_total",
                  "Priorities set by UpdatePriorities.");
  insert_seconds_ = MakeHistogram(
      registry, "shoal_replay_insert_seconds",
      "From reading an insert request to acknowledging it, rate-limiter "
      "waits included.");
  sample_seconds_ = MakeHistogram(
      registry, "shoal_replay_sample_seconds",
      "From reading a sample request to writing its last response, "
      "rate-limiter waits included.");
  metrics_server->RegisterCollectable(tables_);
}

void ReplayMetrics::ObserveInsert(absl::Duration took) {
  insert_seconds_->Observe(absl::ToDoubleSeconds(took));
}

void ReplayMetrics::ObserveSample(absl::Duration took) {
  sample_seconds_->Observe(absl::ToDoubleSeconds(took));
}

}  // namespace shoal
