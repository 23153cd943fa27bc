// Process-wide logging on spdlog: one line per event on stderr,
// "2026-11-26 10:40:01.123 I shoal-replay[1234] message". Use spdlog's
// functions (spdlog::info, spdlog::warn, spdlog::error) after InitLogging.
//
// Thread-safe once initialised. Call InitLogging once, early in main().
#ifndef SHOAL_COMMON_LOGGING_H_
#define SHOAL_COMMON_LOGGING_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace shoal {

// Names the process in every line and sets the level: "debug", "info",
// "warn" or "error". INVALID_ARGUMENT for another level.
absl::Status InitLogging(absl::string_view process_name,
                         absl::string_view level = "info");

}  // namespace shoal

#endif  // SHOAL_COMMON_LOGGING_H_
