#include "common/process.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

#include <signal.h>

namespace shoal {

void ParseFlags(int argc, char** argv, absl::string_view usage) {
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "_main.cc");
  };
  config.contains_help_flags = config.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  absl::ParseCommandLine(argc, argv);
}

void ExitWithError(absl::string_view program, const absl::Status& status) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()),
               program.data(), static_cast<int>(status.message().size()),
               status.message().data());
  std::fflush(stderr);
  std::exit(2);
}

absl::StatusOr<ExperimentConfig> LoadConfigWithOverrides(
    const std::string& path, absl::string_view set_flag,
    const ConfigOverrides& extra) {
  ConfigOverrides overrides;
  for (absl::string_view part :
       absl::StrSplit(set_flag, ';', absl::SkipWhitespace())) {
    absl::StatusOr<std::pair<std::string, std::string>> kv =
        ParseConfigOverride(part);
    if (!kv.ok()) return kv.status();
    overrides.push_back(*std::move(kv));
  }
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  if (path.empty()) {
    return absl::InvalidArgumentError("--config: a config file is required");
  }
  return LoadExperimentConfig(path, overrides);
}

namespace {
sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool WaitForShutdownSignal(absl::Duration timeout) {
  sigset_t set = ShutdownSet();
  const timespec ts = absl::ToTimespec(timeout);
  while (true) {
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return true;
    if (errno != EINTR) return false;  // EAGAIN: timed out
  }
}

}  // namespace shoal
