#include "common/build_info.h"

#include "absl/strings/str_cat.h"

// Defined for this file only by common/CMakeLists.txt.
#ifndef SHOAL_VERSION
#define SHOAL_VERSION "unknown"
#endif
#ifndef SHOAL_GIT_COMMIT
#define SHOAL_GIT_COMMIT "unknown"
#endif
#ifndef SHOAL_TORCH_VERSION
#define SHOAL_TORCH_VERSION "none"
#endif

namespace shoal {

const BuildInfo& GetBuildInfo() {
  static constexpr BuildInfo kInfo{SHOAL_VERSION, SHOAL_GIT_COMMIT,
                                   SHOAL_TORCH_VERSION};
  return kInfo;
}

std::string BuildInfoText() {
  const BuildInfo& info = GetBuildInfo();
  // The values come from CMake (digits, dots, hex), never from input, so
  // they need no escaping.
  return absl::StrCat(
      "# HELP shoal_build_info The build this process runs: version, git "
      "commit, LibTorch version. Always 1.\n"
      "# TYPE shoal_build_info gauge\n"
      "shoal_build_info{version=\"",
      info.version, "\",git_commit=\"", info.git_commit, "\",torch=\"",
      info.torch, "\"} 1\n");
}

}  // namespace shoal
