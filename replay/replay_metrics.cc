#include "replay/replay_metrics.h"

#include <string>

namespace shoal {
namespace {

prometheus::Counter* MakeCounter(prometheus::Registry* registry,
                                 const std::string& name,
                                 const std::string& help) {
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(*registry)
              .Add({});
}

}  // namespace

ReplayMetrics::ReplayMetrics(prometheus::Registry* registry,
                             const ReplayServer* server)
    : server_(server),
      inserted_(MakeCounter(registry, "shoal_replay_inserted_items_total",
                            "Items stored by inserts.")),
      duplicates_(MakeCounter(registry, "shoal_replay_duplicate_items_total",
                              "Resent items dropped by sequence number.")),
      rejected_(MakeCounter(registry, "shoal_replay_rejected_items_total",
                            "Items refused by validation.")),
      sampled_(MakeCounter(registry, "shoal_replay_sampled_items_total",
                           "Items sent to samplers.")),
      priority_updates_(MakeCounter(registry,
                                    "shoal_replay_priority_updates_total",
                                    "Priorities set by UpdatePriorities.")),
      table_gauges_(&prometheus::BuildGauge()
                         .Name("shoal_replay_table")
                         .Help("Per-table state: size, bytes, inserts, "
                               "samples, evictions.")
                         .Register(*registry)) {}

void ReplayMetrics::Refresh() {
  for (const auto& table : server_->tables()) {
    const v1::TableInfo info = table->Info();
    auto set = [&](const char* field, double value) {
      table_gauges_->Add({{"table", info.name()}, {"field", field}}).Set(value);
    };
    set("size", info.size());
    set("bytes", info.bytes());
    set("inserts", info.inserts());
    set("samples", info.samples());
    set("evictions", info.evictions());
    set("blocked_inserts", info.rate_limiter().blocked_inserts());
    set("blocked_samples", info.rate_limiter().blocked_samples());
  }
}

}  // namespace shoal
