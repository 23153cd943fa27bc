#include "common/process.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/symbolize.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

#include <signal.h>

namespace shoal {

void ParseFlags(int argc, char** argv, absl::string_view usage) {
  // A crash (SIGSEGV, SIGABRT from a failed assertion, ...) prints the
  // failing thread's stack to stderr, that is to the process's log. Abseil
  // also claims SIGTERM, which is a shutdown request here: keep ours.
  absl::InitializeSymbolizer(argv[0]);
  struct sigaction term, interrupt;
  sigaction(SIGTERM, nullptr, &term);
  sigaction(SIGINT, nullptr, &interrupt);
  absl::InstallFailureSignalHandler(absl::FailureSignalHandlerOptions());
  sigaction(SIGTERM, &term, nullptr);
  sigaction(SIGINT, &interrupt, nullptr);
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
    const ConfigOverrides& extra, const EnvCatalog* envs) {
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
  return LoadExperimentConfig(path, overrides, envs);
}

namespace {

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Set by the handler when a shutdown signal reached a thread that does not
// block it (one started before main, e.g. by a library's constructor).
std::atomic<bool> shutdown_requested{false};

void OnShutdownSignal(int) { shutdown_requested.store(true); }

}  // namespace

void BlockShutdownSignals() {
  struct sigaction action = {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool WaitForShutdownSignal(absl::Duration timeout) {
  // Short slices, so a signal the handler took is seen promptly too.
  constexpr absl::Duration kSlice = absl::Milliseconds(50);
  sigset_t set = ShutdownSet();
  const absl::Time deadline = absl::Now() + timeout;
  while (!shutdown_requested.load()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    const timespec ts = absl::ToTimespec(std::min(left, kSlice));
    if (sigtimedwait(&set, nullptr, &ts) > 0) return true;
  }
  return true;
}

}  // namespace shoal
