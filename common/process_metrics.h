// ProcessMetricsText(): the process_* series every Prometheus client library
// exports about its own process (Go's and Python's process collectors use
// these names), read from /proc/self when called, in the text exposition
// format. MetricsServer appends it to every scrape, so every shoal process
// exports them:
//
//   process_cpu_seconds_total      counter  user + system CPU time
//   process_resident_memory_bytes  gauge    resident set
//   process_virtual_memory_bytes   gauge    virtual memory size
//   process_start_time_seconds     gauge    start, Unix seconds
//   process_open_fds               gauge    open file descriptors
//   process_max_fds                gauge    the descriptor limit
//
// Thread-safe (reads /proc only). A series whose source cannot be read is
// left out rather than reported as 0.
#ifndef SHOAL_COMMON_PROCESS_METRICS_H_
#define SHOAL_COMMON_PROCESS_METRICS_H_

#include <string>

namespace shoal {

std::string ProcessMetricsText();

}  // namespace shoal

#endif  // SHOAL_COMMON_PROCESS_METRICS_H_
