// The build a process came from, for `shoal_build_info` (the Prometheus
// "info" pattern: a gauge of 1 whose labels carry the facts) and for logs.
//
//   shoal_build_info{version="0.6.0",git_commit="93945e3",torch="1.13.0"} 1
//
// version is the CMake project version, git_commit the checkout's short
// commit when CMake configured (the build reconfigures when HEAD moves;
// "unknown" outside a git checkout), torch the LibTorch version the build
// was configured with ("none" in a build without LibTorch). MetricsServer
// appends BuildInfoText() to every scrape.
//
// Thread-safe: constants only.
#ifndef SHOAL_COMMON_BUILD_INFO_H_
#define SHOAL_COMMON_BUILD_INFO_H_

#include <string>

namespace shoal {

struct BuildInfo {
  const char* version;
  const char* git_commit;
  const char* torch;
};

const BuildInfo& GetBuildInfo();

// `shoal_build_info` in the Prometheus text format, HELP and TYPE included.
std::string BuildInfoText();

}  // namespace shoal

#endif  // SHOAL_COMMON_BUILD_INFO_H_
