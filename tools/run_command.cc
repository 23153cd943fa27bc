#include "tools/run_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

#include "actor/envs/env_registry.h"
#include "common/config.h"
#include "common/process.h"
#include "tools/local_cluster.h"
#include "tools/run_monitor.h"
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shoal {
namespace {

constexpr absl::Duration kTick = absl::Seconds(1);

int Fail(int code, absl::string_view message) {
  std::cerr << "shoalctl run: " << message << "\n";
  return code;
}

absl::Status MakeDirs(const std::string& path) {
  std::string prefix;
  for (size_t at = 0; at != std::string::npos;) {
    const size_t slash = path.find('/', at + 1);
    prefix = path.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 &&
        errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("mkdir ", prefix, ": ", std::strerror(errno)));
    }
    at = slash;
  }
  return absl::OkStatus();
}

// runs/<experiment>-<YYYYmmdd-HHMMSS>, with -2, -3... when taken.
absl::StatusOr<std::string> MakeRunDir(const std::string& runs_dir,
                                       const std::string& experiment) {
  if (absl::Status made = MakeDirs(runs_dir); !made.ok()) return made;
  const std::string base = absl::StrCat(
      runs_dir, "/", experiment, "-",
      absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::LocalTimeZone()));
  for (int n = 1; n < 100; ++n) {
    const std::string dir = n == 1 ? base : absl::StrCat(base, "-", n);
    if (mkdir(dir.c_str(), 0755) == 0) return dir;
    if (errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("mkdir ", dir, ": ", std::strerror(errno)));
    }
  }
  return absl::AlreadyExistsError(absl::StrCat(base, " exists"));
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  if (!in || !out) {
    return absl::InternalError(absl::StrCat("copy ", from, " to ", to));
  }
  return absl::OkStatus();
}

std::string SelfPath() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "shoalctl";
}

// Prints the progress line: on a terminal, redrawn in place with a bar of
// the budget spent and cut to the terminal's width; otherwise one plain
// line every `every`.
class ProgressPrinter {
 public:
  ProgressPrinter(const StopConfig& stop, absl::Duration every)
      : stop_(stop), tty_(isatty(STDOUT_FILENO) == 1), every_(every) {}
  void Print(const RunSnapshot& snapshot, absl::Time now) {
    if (tty_) {
      std::printf(
          "\r\033[K%s",
          FormatProgressBar(stop_, snapshot, kBarWidth, Columns() - 1).c_str());
    } else if (now - last_ >= every_) {
      std::printf("%s\n", FormatProgress(snapshot).c_str());
      last_ = now;
    } else {
      return;
    }
    std::fflush(stdout);
  }
  // Ends the redrawn line before other output.
  void Finish() {
    if (tty_) std::printf("\n");
    std::fflush(stdout);
  }

 private:
  static constexpr int kBarWidth = 10;
  // The terminal's width now (it may be resized); 0 when unknown.
  static int Columns() {
    winsize size = {};
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 ? size.ws_col : 0;
  }

  const StopConfig stop_;
  const bool tty_;
  const absl::Duration every_;
  absl::Time last_ = absl::InfinitePast();
};

void PrintSummary(const nlohmann::json& summary) {
  std::printf("\n%s: %s after %.1f s (stop: %s)\n",
              summary["experiment"].get<std::string>().c_str(),
              summary["target_reached"].get<bool>() ? "TARGET REACHED"
                                                    : "target not reached",
              summary["elapsed_s"].get<double>(),
              summary["stop_reason"].get<std::string>().c_str());
  std::printf("  env steps      %lld (%.0f/s)\n",
              summary["env_steps"].get<long long>(),
              summary["env_steps_per_s"].get<double>());
  std::printf("  learner steps  %lld (%.0f/s)\n",
              summary["learner_steps"].get<long long>(),
              summary["learner_steps_per_s"].get<double>());
  if (!summary["eval_return"].is_null()) {
    std::printf("  eval return    %.1f (best %.1f, %lld rounds)\n",
                summary["eval_return"].get<double>(),
                summary["best_eval"]["mean_return"].get<double>(),
                summary["eval_rounds"].get<long long>());
  }
  if (summary.contains("seconds_to_target")) {
    std::printf("  to target      %.1f s, %lld env steps\n",
                summary["seconds_to_target"].get<double>(),
                summary["env_steps_to_target"].get<long long>());
  }
  std::printf("  policy lag     mean %.1f, max %.0f\n",
              summary["policy_lag_mean"].get<double>(),
              summary["policy_lag_max"].get<double>());
  for (const nlohmann::json& child : summary["children"]) {
    if (child["exit_code"].get<int>() != 0) {
      std::printf("  %s exited with code %d (log %s)\n",
                  child["name"].get<std::string>().c_str(),
                  child["exit_code"].get<int>(),
                  child["log"].get<std::string>().c_str());
    }
  }
  std::printf("  run directory  %s\n",
              summary["run_dir"].get<std::string>().c_str());
  std::fflush(stdout);
}

}  // namespace

int RunCommand(const RunFlags& flags) {
  BlockShutdownSignals();  // before any child or thread exists
  absl::StatusOr<ExperimentConfig> config = LoadConfigWithOverrides(
      flags.config_file, flags.set, /*extra=*/{}, &BuiltinEnvCatalog());
  if (!config.ok()) return Fail(2, config.status().message());
  absl::StatusOr<ClusterBinaries> binaries =
      FindClusterBinaries(flags.bin_dir, SelfPath());
  if (!binaries.ok()) return Fail(2, binaries.status().message());
  absl::StatusOr<std::string> run_dir =
      MakeRunDir(flags.runs_dir, config->experiment);
  if (!run_dir.ok()) return Fail(2, run_dir.status().message());
  const std::string config_copy = *run_dir + "/config.yaml";
  if (absl::Status copied = CopyFile(flags.config_file, config_copy);
      !copied.ok()) {
    return Fail(2, copied.message());
  }

  LocalClusterOptions options;
  options.config_file = config_copy;
  options.set = flags.set;
  options.run_dir = *run_dir;
  options.binaries = *binaries;
  options.num_shards = static_cast<int>(config->replay.shards);
  options.num_actors = static_cast<int>(config->actor.num_actors);
  options.eval = config->eval.episodes > 0;
  options.sync = flags.sync;
  if (flags.sync) {
    std::printf("shoalctl run: %s in %s (synchronous: one process%s)\n",
                config->experiment.c_str(), run_dir->c_str(),
                options.eval ? " + eval" : "");
  } else {
    std::printf("shoalctl run: %s in %s (%d replay shards, %d actors%s)\n",
                config->experiment.c_str(), run_dir->c_str(),
                options.num_shards, options.num_actors,
                options.eval ? " + eval" : "");
  }
  std::fflush(stdout);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster =
      LocalCluster::Start(options);
  if (!cluster.ok()) return Fail(1, cluster.status().message());

  RunMonitor monitor(config->stop, *run_dir, start);
  ProgressPrinter progress(config->stop, flags.progress_every);
  std::string ended_by;  // "" while the stop condition decides
  absl::Status alive;
  while (true) {
    if (WaitForShutdownSignal(kTick)) {
      ended_by = "interrupted";
      break;
    }
    alive = (*cluster)->CheckAlive();
    if (!alive.ok()) {
      ended_by = "child_died";
      break;
    }
    const absl::Time now = absl::Now();
    progress.Print(monitor.Observe(ScrapeCluster(**cluster), now), now);
    if (monitor.stop_reason() != StopReason::kNone) break;
  }
  progress.Finish();
  if (!alive.ok()) std::cerr << "shoalctl run: " << alive.message() << "\n";
  if (!ended_by.empty()) {
    std::printf("shoalctl run: %s; stopping every process\n", ended_by.c_str());
  }
  const std::vector<ChildExit> exits = (*cluster)->Stop();

  nlohmann::json summary = monitor.Summary();
  summary["experiment"] = config->experiment;
  summary["mode"] = flags.sync ? "sync" : "async";
  summary["run_dir"] = *run_dir;
  if (!ended_by.empty()) summary["stop_reason"] = ended_by;
  bool clean = true;
  summary["children"] = nlohmann::json::array();
  for (const ChildExit& exit : exits) {
    // The child that died was reaped by CheckAlive: its code is not clean.
    clean = clean && exit.exit_code == 0;
    summary["children"].push_back({{"name", exit.name},
                                   {"exit_code", exit.exit_code},
                                   {"log", exit.log_file}});
  }
  summary["clean_shutdown"] = clean;
  const bool reached = monitor.target_reached() && ended_by.empty();
  summary["target_reached"] = reached;
  std::ofstream(*run_dir + "/summary.json") << summary.dump(2) << "\n";
  PrintSummary(summary);
  if (ended_by == "interrupted") return 130;
  return reached && clean ? 0 : 1;
}

}  // namespace shoal
