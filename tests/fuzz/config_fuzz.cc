// libFuzzer target: arbitrary text parsed as an experiment config must give
// a config or a one-line error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/string_view.h"

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<shoal::ExperimentConfig> config =
      shoal::ParseExperimentConfig(text, "fuzz.yaml");
  if (!config.ok() &&
      std::string(config.status().message()).find('\n') != std::string::npos) {
    std::fprintf(stderr, "error of more than one line: %s\n",
                 std::string(config.status().message()).c_str());
    __builtin_trap();  // errors must be one line
  }
  return 0;
}
