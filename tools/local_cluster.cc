#include "tools/local_cluster.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include <signal.h>
#include <unistd.h>

namespace shoal {
namespace {

// The learner's scalar interval: its lag and replay gauges, which the run's
// progress line and summary read, refresh this often (short runs too).
constexpr int kLearnerLogEveryS = 2;

bool Executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// The first of `candidates` that is executable, or NOT_FOUND listing them.
absl::StatusOr<std::string> FirstExecutable(
    const std::string& name, const std::vector<std::string>& candidates) {
  for (const std::string& path : candidates) {
    if (Executable(path)) return path;
  }
  return absl::NotFoundError(absl::StrCat(name, " not found; looked at ",
                                          absl::StrJoin(candidates, ", "),
                                          " (set --bin_dir)"));
}

const char* ProgramOf(ChildRole role) {
  switch (role) {
    case ChildRole::kReplay:
      return "shoal-replay";
    case ChildRole::kLearner:
      return "shoal-learner";
    case ChildRole::kSync:
      return "shoal-sync";
    case ChildRole::kActor:
    case ChildRole::kEval:
      return "shoal-actor";
  }
  return "";
}

// The Prometheus job of a child: its program's name, and shoal-actor-eval
// for the evaluation actor. deploy/monitoring uses the same names.
std::string JobOf(ChildRole role) {
  return role == ChildRole::kEval ? "shoal-actor-eval" : ProgramOf(role);
}

}  // namespace

std::string PrometheusTargetsFile(const std::string& run_dir) {
  return absl::StrCat(run_dir, "/prometheus_targets.json");
}

absl::StatusOr<ClusterBinaries> FindClusterBinaries(const std::string& bin_dir,
                                                    const std::string& self) {
  const std::string here = DirName(self);
  auto find = [&](const std::string& name, const std::string& build_subdir) {
    if (!bin_dir.empty()) {
      return FirstExecutable(name, {absl::StrCat(bin_dir, "/", name)});
    }
    return FirstExecutable(
        name, {absl::StrCat(here, "/", name),
               absl::StrCat(here, "/../", build_subdir, "/", name)});
  };
  ClusterBinaries binaries;
  SHOAL_ASSIGN_OR_RETURN(binaries.replay, find("shoal-replay", "replay"));
  SHOAL_ASSIGN_OR_RETURN(binaries.learner, find("shoal-learner", "learner"));
  SHOAL_ASSIGN_OR_RETURN(binaries.actor, find("shoal-actor", "actor"));
  binaries.sync = find("shoal-sync", "sync").value_or("");
  return binaries;
}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(
    LocalClusterOptions options) {
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(std::move(options)));
  const LocalClusterOptions& o = cluster->options_;
  if (o.sync) {
    if (o.binaries.sync.empty()) {
      return absl::NotFoundError("shoal-sync not found (set --bin_dir)");
    }
    SHOAL_ASSIGN_OR_RETURN(const int port, PickFreePort());
    SHOAL_RETURN_IF_ERROR(cluster->StartChild(
        ChildRole::kSync, "sync", o.binaries.sync,
        {"--host=127.0.0.1", absl::StrCat("--port=", port),
         absl::StrCat("--logdir=", o.run_dir, "/tb"),
         absl::StrCat("--log_every_s=", kLearnerLogEveryS),
         absl::StrCat("--checkpoint_dir=", o.run_dir, "/learner")}));
    cluster->learner_address_ = absl::StrCat("127.0.0.1:", port);
    SHOAL_RETURN_IF_ERROR(cluster->StartEval());
    return cluster;
  }
  std::vector<std::string> replay;
  for (int i = 0; i < o.num_shards; ++i) {
    const std::string name = absl::StrCat("replay-", i);
    SHOAL_ASSIGN_OR_RETURN(const int port, PickFreePort());
    SHOAL_RETURN_IF_ERROR(cluster->StartChild(
        ChildRole::kReplay, name, o.binaries.replay,
        {"--host=127.0.0.1", absl::StrCat("--port=", port),
         absl::StrCat("--shard_index=", i),
         absl::StrCat("--checkpoint_dir=", o.run_dir, "/", name)}));
    replay.push_back(absl::StrCat("127.0.0.1:", port));
  }
  cluster->replay_addresses_ = absl::StrJoin(replay, ",");
  SHOAL_ASSIGN_OR_RETURN(const int learner_port, PickFreePort());
  SHOAL_RETURN_IF_ERROR(cluster->StartChild(
      ChildRole::kLearner, "learner", o.binaries.learner,
      {"--host=127.0.0.1", absl::StrCat("--port=", learner_port),
       absl::StrCat("--replay=", cluster->replay_addresses_),
       absl::StrCat("--logdir=", o.run_dir, "/tb"),
       absl::StrCat("--log_every_s=", kLearnerLogEveryS),
       absl::StrCat("--checkpoint_dir=", o.run_dir, "/learner")}));
  cluster->learner_address_ = absl::StrCat("127.0.0.1:", learner_port);
  for (int i = 0; i < o.num_actors; ++i) {
    SHOAL_RETURN_IF_ERROR(cluster->StartChild(
        ChildRole::kActor, absl::StrCat("actor-", i), o.binaries.actor,
        {"--host=127.0.0.1", absl::StrCat("--actor_index=", i),
         absl::StrCat("--replay=", cluster->replay_addresses_),
         absl::StrCat("--learner=", cluster->learner_address_)}));
  }
  SHOAL_RETURN_IF_ERROR(cluster->StartEval());
  return cluster;
}

absl::Status LocalCluster::StartEval() {
  if (!options_.eval) return absl::OkStatus();
  // Evaluation does not pay the simulated step cost: returns are the same,
  // and rounds of slow envs would otherwise take most of the run. The last
  // --set wins.
  const std::string set = absl::StrCat(
      options_.set, options_.set.empty() ? "" : ";", "env.step_cost_us=0");
  return StartChild(ChildRole::kEval, "eval", options_.binaries.actor,
                    {"--eval", "--host=127.0.0.1", "--actor_index=0",
                     absl::StrCat("--learner=", learner_address_),
                     absl::StrCat("--set=", set)});
}

LocalCluster::~LocalCluster() {
  for (ClusterChild& child : children_) child.process->Kill();
}

absl::Status LocalCluster::StartChild(ChildRole role, const std::string& name,
                                      const std::string& binary,
                                      std::vector<std::string> args) {
  std::vector<std::string> argv = {
      binary, absl::StrCat("--config=", options_.config_file),
      "--metrics_port=0"};
  if (!options_.set.empty()) {
    argv.push_back(absl::StrCat("--set=", options_.set));
  }
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcessOptions child_options;
  child_options.name = name;
  child_options.argv = std::move(argv);
  child_options.log_file = absl::StrCat(options_.run_dir, "/", name, ".log");
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Start(std::move(child_options));
  if (!process.ok()) {
    Stop();
    return process.status();
  }
  children_.push_back({role, *std::move(process)});
  if (absl::Status ready = AwaitPorts(children_.back()); !ready.ok()) {
    Stop();
    return ready;
  }
  return WritePrometheusTargets();
}

absl::Status LocalCluster::WritePrometheusTargets() const {
  nlohmann::json groups = nlohmann::json::array();
  for (const ClusterChild& child : children_) {
    if (child.metrics_port < 0) continue;
    groups.push_back(
        {{"targets", {absl::StrCat("127.0.0.1:", child.metrics_port)}},
         {"labels",
          {{"job", JobOf(child.role)}, {"child", child.process->name()}}}});
  }
  // Written whole and renamed, so Prometheus never reads half a file.
  const std::string path = PrometheusTargetsFile(options_.run_dir);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << groups.dump(2) << "\n";
    if (!out.good()) {
      return absl::InternalError(
          absl::StrCat("cannot write ", temporary, ": ", std::strerror(errno)));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", temporary, " to ",
                                            path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status LocalCluster::AwaitPorts(ClusterChild& child) {
  const std::string program = ProgramOf(child.role);
  absl::StatusOr<int> port = -1;
  if (child.role == ChildRole::kReplay || child.role == ChildRole::kLearner ||
      child.role == ChildRole::kSync) {
    port = child.process->WaitForPort(program + " listening on ",
                                      options_.start_timeout);
  }
  absl::StatusOr<int> metrics_port =
      port.ok() ? child.process->WaitForPort(program + " metrics on ",
                                             options_.start_timeout)
                : port;
  if (!metrics_port.ok()) {
    child.process->Kill();
    return absl::InternalError(metrics_port.status().message());
  }
  child.port = *port;
  child.metrics_port = *metrics_port;
  return absl::OkStatus();
}

ClusterChild* LocalCluster::child(const std::string& name) {
  for (ClusterChild& child : children_) {
    if (child.process->name() == name) return &child;
  }
  return nullptr;
}

absl::Status LocalCluster::Restart(const std::string& name) {
  ClusterChild* restarting = child(name);
  if (restarting == nullptr) {
    return absl::NotFoundError(absl::StrCat("no child named ", name));
  }
  SHOAL_RETURN_IF_ERROR(restarting->process->Restart());
  SHOAL_RETURN_IF_ERROR(AwaitPorts(*restarting));
  return WritePrometheusTargets();  // the metrics port may have changed
}

absl::Status LocalCluster::CheckAlive() {
  for (ClusterChild& child : children_) {
    if (std::optional<int> code = child.process->Poll(); code.has_value()) {
      return absl::InternalError(
          absl::StrCat(child.process->name(), " exited unexpectedly with code ",
                       *code, "; the end of ", child.process->log_file(), ":\n",
                       child.process->LogTail(2000)));
    }
  }
  return absl::OkStatus();
}

std::vector<ChildExit> LocalCluster::Stop() {
  // Actors (training and eval) first, then the learner, then the shards.
  const std::vector<std::vector<ChildRole>> order = {
      {ChildRole::kActor, ChildRole::kEval},
      {ChildRole::kLearner, ChildRole::kSync},
      {ChildRole::kReplay}};
  for (const std::vector<ChildRole>& group : order) {
    auto in_group = [&](const ClusterChild& child) {
      return std::find(group.begin(), group.end(), child.role) != group.end();
    };
    for (ClusterChild& child : children_) {
      if (in_group(child)) child.process->Signal(SIGTERM);
    }
    const absl::Time deadline = absl::Now() + options_.stop_timeout;
    for (ClusterChild& child : children_) {
      if (in_group(child)) child.process->Wait(deadline);
    }
  }
  std::vector<ChildExit> exits;
  for (const ClusterChild& child : children_) {
    exits.push_back({child.process->name(), child.process->exit_code(),
                     child.process->log_file()});
  }
  return exits;
}

}  // namespace shoal
