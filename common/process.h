// What every shoal binary's main() does the same way: the fatal-error line,
// config loading with --set overrides, and waiting for SIGTERM/SIGINT.
#ifndef SHOAL_COMMON_PROCESS_H_
#define SHOAL_COMMON_PROCESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "common/config.h"

namespace shoal {

// Parses the command line with absl flags. `--help` lists the flags of the
// binary's own *_main.cc file (and exits 0); `--helpfull` lists all.
// Also installs Abseil's failure signal handler (a crash prints a symbolized
// stack trace on stderr), leaving SIGTERM and SIGINT as they were.
void ParseFlags(int argc, char** argv, absl::string_view usage);

// Prints "<program>: <message>" as one line on stderr and exits with 2.
[[noreturn]] void ExitWithError(absl::string_view program,
                                const absl::Status& status);

// Loads `path` with the overrides in `set_flag` ("key=value;key=value") and
// then `extra` (from the binary's own flags; applied last). `envs`: as for
// LoadExperimentConfig (binaries that build envs pass BuiltinEnvCatalog()).
absl::StatusOr<ExperimentConfig> LoadConfigWithOverrides(
    const std::string& path, absl::string_view set_flag,
    const ConfigOverrides& extra = {}, const EnvCatalog* envs = nullptr);

// Blocks SIGTERM and SIGINT in the calling thread and every thread it
// starts afterwards, so that WaitForShutdownSignal can take them, and
// installs a handler that records them when they reach a thread started
// before main() (libraries' constructors start some, e.g. OpenBLAS's pool),
// which would otherwise die of them. Call first thing in main().
void BlockShutdownSignals();

// Waits up to `timeout` for SIGTERM or SIGINT; true when one arrived.
bool WaitForShutdownSignal(absl::Duration timeout);

}  // namespace shoal

#endif  // SHOAL_COMMON_PROCESS_H_
