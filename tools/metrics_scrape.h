// ScrapeMetrics: reads one process's Prometheus /metrics page (the text
// exposition format) into a map from series to value, for `shoalctl run`'s
// progress line. FetchMetricsText returns the page as served.
//
//   absl::StatusOr<MetricSamples> m = ScrapeMetrics(port, absl::Seconds(1));
//   double steps = m->Get("shoal_actor_env_steps_total");
//   double lag = m->Get("shoal_learner_policy_lag{stat=\"mean\"}");
//
// Thread-compatible.
#ifndef SHOAL_TOOLS_METRICS_SCRAPE_H_
#define SHOAL_TOOLS_METRICS_SCRAPE_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace shoal {

struct MetricSamples {
  // "name" or "name{label=\"v\",...}" exactly as exposed -> value.
  std::map<std::string, double, std::less<>> values;

  // The value of `series`, or `fallback` when absent.
  double Get(absl::string_view series, double fallback = 0.0) const;
  bool Has(absl::string_view series) const;
};

// Parses the exposition text; comment lines and lines that do not parse
// are skipped.
MetricSamples ParseMetricsText(absl::string_view text);

// The body of GET http://127.0.0.1:<port>/metrics (the exposition text as
// served) within `timeout`; UNAVAILABLE when nothing answers or the status
// is not 200.
absl::StatusOr<std::string> FetchMetricsText(int port, absl::Duration timeout);

// FetchMetricsText, parsed by ParseMetricsText.
absl::StatusOr<MetricSamples> ScrapeMetrics(int port, absl::Duration timeout);

}  // namespace shoal

#endif  // SHOAL_TOOLS_METRICS_SCRAPE_H_
