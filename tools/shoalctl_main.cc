// shoalctl: the operator's tool. `run` starts a whole experiment on this
// machine; the other subcommands are clients of running servers.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

#include "tools/client_commands.h"
#include "tools/run_command.h"

ABSL_FLAG(std::string, replay, "",
          "Replay shard address (info, sample, checkpoint).");
ABSL_FLAG(std::string, learner, "", "Learner address (params).");
ABSL_FLAG(std::string, table, "", "Table to sample (sample).");
ABSL_FLAG(int, n, 3, "Items to sample (sample).");
ABSL_FLAG(bool, json, false, "One JSON object instead of the human report.");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle; set = TLS.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate (mutual TLS).");
ABSL_FLAG(std::string, tls_key, "", "Client key (mutual TLS).");
ABSL_FLAG(std::string, token_file, "", "File holding the bearer token.");
ABSL_FLAG(double, timeout_s, 10, "Per-call deadline in seconds.");
ABSL_FLAG(std::string, set, "",
          "Config overrides for run, 'key=value;key=value'.");
ABSL_FLAG(std::string, runs_dir, "runs", "Parent of run directories (run).");
ABSL_FLAG(std::string, bin_dir, "",
          "Directory of the shoal binaries (run); \"\" = next to shoalctl or "
          "in its build tree.");
ABSL_FLAG(bool, sync, false,
          "run: the synchronous baseline (one process alternating env steps "
          "and updates) instead of the asynchronous cluster.");
ABSL_FLAG(
    double, progress_every_s, 10,
    "Seconds between progress lines when stdout is not a terminal (run).");

namespace {

constexpr char kUsage[] =
    "shoalctl: the operator's tool.\n"
    "  shoalctl run CONFIG [--sync] [--set k=v;...] [--runs_dir runs]\n"
    "  shoalctl info --replay ADDR [--json]\n"
    "  shoalctl sample --replay ADDR --table T [-n 3] [--json]\n"
    "  shoalctl checkpoint --replay ADDR [--json]\n"
    "  shoalctl params --learner ADDR [--json]\n"
    "  shoalctl health ADDR [--json]\n"
    "Client subcommands take --tls_ca, --tls_cert, --tls_key, --token_file "
    "and --timeout_s.";

int Usage(const std::string& problem) {
  std::cerr << "shoalctl: " << problem << " (see shoalctl --help)\n";
  return 2;
}

shoal::ClientFlags ClientFlagsFromCommandLine() {
  shoal::ClientFlags flags;
  flags.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  flags.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  flags.tls_key = absl::GetFlag(FLAGS_tls_key);
  flags.token_file = absl::GetFlag(FLAGS_token_file);
  flags.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  flags.json = absl::GetFlag(FLAGS_json);
  return flags;
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "_main.cc");
  };
  config.contains_help_flags = config.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return Usage("a subcommand is required");
  const std::string command = positional[1];
  const std::vector<std::string> args(positional.begin() + 2, positional.end());
  if (absl::GetFlag(FLAGS_timeout_s) <= 0) {
    return Usage("--timeout_s must be > 0");
  }
  if (command == "run") {
    if (args.size() != 1) return Usage("run takes one CONFIG file");
    shoal::RunFlags flags;
    flags.config_file = args[0];
    flags.set = absl::GetFlag(FLAGS_set);
    flags.runs_dir = absl::GetFlag(FLAGS_runs_dir);
    flags.bin_dir = absl::GetFlag(FLAGS_bin_dir);
    flags.sync = absl::GetFlag(FLAGS_sync);
    flags.progress_every = absl::Seconds(absl::GetFlag(FLAGS_progress_every_s));
    return shoal::RunCommand(flags);
  }
  const shoal::ClientFlags flags = ClientFlagsFromCommandLine();
  if (command == "health") {
    if (args.size() != 1) return Usage("health takes one ADDR");
    return shoal::HealthCommand(flags, args[0], std::cout, std::cerr);
  }
  if (!args.empty()) return Usage("unexpected argument '" + args[0] + "'");
  const std::string replay = absl::GetFlag(FLAGS_replay);
  if (command == "info" || command == "sample" || command == "checkpoint") {
    if (replay.empty()) return Usage(command + ": --replay is required");
    if (command == "info") {
      return shoal::InfoCommand(flags, replay, std::cout, std::cerr);
    }
    if (command == "checkpoint") {
      return shoal::CheckpointCommand(flags, replay, std::cout, std::cerr);
    }
    const std::string table = absl::GetFlag(FLAGS_table);
    if (table.empty()) return Usage("sample: --table is required");
    if (absl::GetFlag(FLAGS_n) < 1) return Usage("sample: -n must be >= 1");
    return shoal::SampleCommand(flags, replay, table, absl::GetFlag(FLAGS_n),
                                std::cout, std::cerr);
  }
  if (command == "params") {
    const std::string learner = absl::GetFlag(FLAGS_learner);
    if (learner.empty()) return Usage("params: --learner is required");
    return shoal::ParamsCommand(flags, learner, std::cout, std::cerr);
  }
  return Usage("unknown subcommand '" + command + "'");
}
