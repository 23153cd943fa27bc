// `shoalctl run` end to end: the real shoalctl starts real replay, learner
// and actor processes on loopback ports of their choosing and stops them.
// Runs deploy/configs/cartpole_dqn.yaml with smaller budgets.
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/child_process.h"
#include "common/testing/test_util.h"
#include "nlohmann/json.hpp"
#include <dirent.h>
#include <signal.h>

namespace shoal {
namespace {

using ::testing::HasSubstr;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// The one run directory under `runs_dir`.
std::string RunDir(const std::string& runs_dir) {
  std::string found;
  if (DIR* dir = opendir(runs_dir.c_str())) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') found = runs_dir + "/" + entry->d_name;
    }
    closedir(dir);
  }
  return found;
}

// Pids of live processes whose command line mentions `needle` and `also`.
std::set<int> ProcessesMentioning(const std::string& needle,
                                  const std::string& also = "") {
  std::set<int> pids;
  DIR* proc = opendir("/proc");
  while (dirent* entry = readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::string cmdline = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (absl::StrContains(cmdline, needle) &&
        absl::StrContains(cmdline, also)) {
      pids.insert(pid);
    }
  }
  closedir(proc);
  return pids;
}

// The learner scalar names in a scalars.csv ("step,wall_time,name,value"),
// except the episode returns, which depend on which episodes ended first.
std::set<std::string> ScalarNames(const std::string& csv) {
  std::set<std::string> names;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (fields.size() == 4 && !absl::StartsWith(fields[2], "episodes/")) {
      names.insert(fields[2]);
    }
  }
  return names;
}

class ShoalctlRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("shoalctl-run-").value();
    runs_ = dir_ + "/runs";
  }

  // Starts `shoalctl run cartpole_dqn.yaml --set <set>` (with --sync when
  // `sync`).
  std::unique_ptr<ChildProcess> StartRun(const std::string& set,
                                         bool sync = false) {
    ChildProcessOptions options;
    options.name = "shoalctl";
    options.argv = {
        Env("SHOAL_BINARY_DIR") + "/tools/shoalctl",
        "run",
        Env("SHOAL_SOURCE_DIR") + "/deploy/configs/cartpole_dqn.yaml",
        "--runs_dir=" + runs_,
        "--progress_every_s=2",
        "--set=" + set};
    if (sync) options.argv.push_back("--sync");
    options.log_file = dir_ + "/shoalctl.log";
    auto child = ChildProcess::Start(options);
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }

  // Waits until the run has written `rows` progress rows.
  bool WaitForProgress(int rows, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      const std::string csv = ReadAll(RunDir(runs_) + "/progress.csv");
      if (std::count(csv.begin(), csv.end(), '\n') > rows) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  }

  nlohmann::json Summary() {
    return nlohmann::json::parse(ReadAll(RunDir(runs_) + "/summary.json"),
                                 nullptr, /*allow_exceptions=*/false);
  }

  std::string dir_;
  std::string runs_;
};

TEST_F(ShoalctlRunTest, LearnsAndStopsEveryChildCleanly) {
  // Random play scores about 22; 150 is well above it.
  auto run = StartRun("stop.eval_return=150;stop.wall_time_s=120");
  ASSERT_NE(run, nullptr);
  const int code = run->Wait(absl::Now() + absl::Seconds(200));
  const std::string log = ReadAll(dir_ + "/shoalctl.log");
  ASSERT_EQ(code, 0) << log;
  EXPECT_THAT(log, HasSubstr("TARGET REACHED"));
  EXPECT_THAT(log, HasSubstr("| learner "));  // progress lines
  const nlohmann::json summary = Summary();
  ASSERT_FALSE(summary.is_discarded());
  EXPECT_EQ(summary["stop_reason"], "eval_return");
  EXPECT_TRUE(summary["target_reached"].get<bool>());
  EXPECT_GE(summary["eval_return"].get<double>(), 150.0);
  EXPECT_GT(summary["learner_steps"].get<int64_t>(), 0);
  EXPECT_GT(summary["env_steps_to_target"].get<int64_t>(), 0);
  EXPECT_TRUE(summary["clean_shutdown"].get<bool>());
  std::set<std::string> names;
  for (const nlohmann::json& child : summary["children"]) {
    names.insert(child["name"].get<std::string>());
    EXPECT_EQ(child["exit_code"].get<int>(), 0) << child["name"];
  }
  EXPECT_EQ(names, (std::set<std::string>{"replay-0", "learner", "actor-0",
                                          "actor-1", "actor-2", "eval"}));
  const std::string run_dir = RunDir(runs_);
  for (const char* file : {"/config.yaml", "/progress.csv", "/evals.csv",
                           "/learner.log", "/tb/scalars.csv"}) {
    EXPECT_FALSE(ReadAll(run_dir + file).empty()) << file;
  }
  EXPECT_TRUE(ProcessesMentioning(run_dir).empty());
}

// The synchronous baseline (one process alternating env steps and updates)
// learns too and writes what the asynchronous run writes: the same
// progress columns, summary keys and learner scalars.
TEST_F(ShoalctlRunTest, SyncBaselineLearnsAndWritesTheSameMetrics) {
  auto run = StartRun("stop.eval_return=120;stop.wall_time_s=150",
                      /*sync=*/true);
  ASSERT_NE(run, nullptr);
  ASSERT_EQ(run->Wait(absl::Now() + absl::Seconds(200)), 0)
      << ReadAll(dir_ + "/shoalctl.log");
  const nlohmann::json summary = Summary();
  ASSERT_FALSE(summary.is_discarded());
  EXPECT_EQ(summary["mode"], "sync");
  EXPECT_GE(summary["eval_return"].get<double>(), 120.0);
  std::set<std::string> names;
  for (const nlohmann::json& child : summary["children"]) {
    names.insert(child["name"].get<std::string>());
    EXPECT_EQ(child["exit_code"].get<int>(), 0) << child["name"];
  }
  EXPECT_EQ(names, (std::set<std::string>{"sync", "eval"}));
  const std::string sync_dir = RunDir(runs_);
  auto header = [](const std::string& csv) {
    return csv.substr(0, csv.find('\n'));
  };
  const std::string sync_progress = header(ReadAll(sync_dir + "/progress.csv"));
  const std::set<std::string> sync_scalars =
      ScalarNames(ReadAll(sync_dir + "/tb/scalars.csv"));
  EXPECT_FALSE(sync_scalars.empty());
  std::set<std::string> sync_keys;
  for (const auto& item : summary.items()) sync_keys.insert(item.key());

  // The asynchronous run of the same experiment, in a fresh runs dir.
  runs_ = dir_ + "/async-runs";
  auto async_run = StartRun("stop.eval_return=120;stop.wall_time_s=150");
  ASSERT_NE(async_run, nullptr);
  ASSERT_EQ(async_run->Wait(absl::Now() + absl::Seconds(200)), 0);
  const std::string async_dir = RunDir(runs_);
  EXPECT_EQ(header(ReadAll(async_dir + "/progress.csv")), sync_progress);
  EXPECT_EQ(ScalarNames(ReadAll(async_dir + "/tb/scalars.csv")), sync_scalars);
  const nlohmann::json async_summary = Summary();
  std::set<std::string> async_keys;
  for (const auto& item : async_summary.items()) async_keys.insert(item.key());
  EXPECT_EQ(async_keys, sync_keys);
  EXPECT_EQ(async_summary["mode"], "async");
}

TEST_F(ShoalctlRunTest, SigintHalfwayLeavesNoProcess) {
  auto run = StartRun("stop.eval_return=100000;stop.wall_time_s=600");
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(WaitForProgress(3, absl::Seconds(60)))
      << ReadAll(dir_ + "/shoalctl.log");
  const std::string run_dir = RunDir(runs_);
  EXPECT_EQ(ProcessesMentioning(run_dir).size(), 6u);  // 1 + 1 + 3 + eval
  run->Signal(SIGINT);
  EXPECT_EQ(run->Wait(absl::Now() + absl::Seconds(90)), 130);
  EXPECT_TRUE(ProcessesMentioning(run_dir).empty());
  const nlohmann::json summary = Summary();
  ASSERT_FALSE(summary.is_discarded());
  EXPECT_EQ(summary["stop_reason"], "interrupted");
  EXPECT_FALSE(summary["target_reached"].get<bool>());
  std::string unclean;
  for (const nlohmann::json& child : summary["children"]) {
    if (child["exit_code"].get<int>() == 0) continue;
    const std::string log = ReadAll(child["log"].get<std::string>());
    unclean += child["name"].get<std::string>() + " exited " +
               std::to_string(child["exit_code"].get<int>()) + ":\n" +
               log.substr(log.size() > 3000 ? log.size() - 3000 : 0) + "\n";
  }
  EXPECT_TRUE(summary["clean_shutdown"].get<bool>()) << unclean;
}

TEST_F(ShoalctlRunTest, ChildKilledMidRunIsReportedWithItsLog) {
  auto run = StartRun("stop.eval_return=100000;stop.wall_time_s=600");
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(WaitForProgress(2, absl::Seconds(60)));
  const std::string run_dir = RunDir(runs_);
  const std::set<int> actor = ProcessesMentioning(run_dir, "--actor_index=1 ");
  ASSERT_EQ(actor.size(), 1u);
  kill(*actor.begin(), SIGKILL);
  EXPECT_EQ(run->Wait(absl::Now() + absl::Seconds(90)), 1);
  const std::string log = ReadAll(dir_ + "/shoalctl.log");
  EXPECT_THAT(log, HasSubstr("actor-1 exited unexpectedly with code 137"));
  EXPECT_THAT(log, HasSubstr("shoal-actor["));  // its log
  EXPECT_TRUE(ProcessesMentioning(run_dir).empty());
  EXPECT_EQ(Summary()["stop_reason"], "child_died");
}

TEST_F(ShoalctlRunTest, BadConfigExitsTwoWithOneLine) {
  const std::string config = dir_ + "/bad.yaml";
  std::ofstream(config)
      << "experiment: x\nenv: {name: cartpole, colour: red}\n";
  ChildProcessOptions options;
  options.name = "shoalctl";
  options.argv = {Env("SHOAL_BINARY_DIR") + "/tools/shoalctl", "run", config,
                  "--runs_dir=" + runs_};
  options.log_file = dir_ + "/bad.log";
  auto run = ChildProcess::Start(options);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ((*run)->Wait(absl::Now() + absl::Seconds(30)), 2);
  const std::string log = ReadAll(options.log_file);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_THAT(log, HasSubstr("bad.yaml:2"));
  EXPECT_THAT(log, HasSubstr("colour"));
  EXPECT_TRUE(RunDir(runs_).empty());  // nothing was started
}

}  // namespace
}  // namespace shoal
