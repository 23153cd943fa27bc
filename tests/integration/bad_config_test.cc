// Every shoal binary given a bad experiment config exits with status 2 and
// exactly one stderr line naming the file, the line and the key; none
// crashes. Runs the real binaries from the build tree ($SHOAL_BINARY_DIR).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

#include "common/testing/test_util.h"
#include <sys/wait.h>

namespace shoal {
namespace {

struct RunResult {
  int exit_code = -1;
  std::vector<std::string> stderr_lines;
};

// Runs `command` through the shell with stdout discarded.
RunResult RunCommand(const std::string& command, const std::string& dir) {
  const std::string err = absl::StrCat(dir, "/stderr.txt");
  const int raw = std::system(
      absl::StrCat(command, " >/dev/null 2>", err, " </dev/null").c_str());
  RunResult result;
  result.exit_code = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  std::ifstream in(err);
  std::string line;
  while (std::getline(in, line)) result.stderr_lines.push_back(line);
  return result;
}

// A binary that loads an experiment config: how to run it on a file, and
// the program name that starts its error line.
struct Binary {
  std::string program;  // "shoal-replay", "shoalctl run"
  std::string command;  // the command line, less the config file
};

// Every binary that takes an experiment config: the servers, shoal-sync and
// `shoalctl run`.
std::vector<Binary> Binaries() {
  const char* dir = std::getenv("SHOAL_BINARY_DIR");
  const std::string root = dir == nullptr ? "." : dir;
  std::vector<Binary> binaries = {
      {"shoal-replay", root + "/replay/shoal-replay --config"},
      {"shoalctl run", root + "/tools/shoalctl run"}};
#ifdef SHOAL_HAVE_TORCH_BINARIES
  binaries.push_back(
      {"shoal-learner", root + "/learner/shoal-learner --config"});
  binaries.push_back({"shoal-actor", root + "/actor/shoal-actor --config"});
  binaries.push_back({"shoal-sync", root + "/sync/shoal-sync --config"});
#endif
  return binaries;
}

class BadConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = MakeTempDir("bad_config_test");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    EXPECT_TRUE(WriteTestFile(path, text).ok());
    return path;
  }
  void ExpectOneLine(const std::string& config, const std::string& message) {
    for (const Binary& binary : Binaries()) {
      RunResult r = RunCommand(absl::StrCat(binary.command, " ", config), dir_);
      EXPECT_EQ(r.exit_code, 2) << binary.program;
      ASSERT_EQ(r.stderr_lines.size(), 1u) << binary.program;
      EXPECT_EQ(r.stderr_lines[0],
                absl::StrCat(binary.program, ": ", config, message))
          << binary.program;
    }
  }
  std::string dir_;
};

TEST_F(BadConfigTest, UnknownKeyNamesFileLineAndKey) {
  const std::string path = Write("unknown.yaml",
                                 "experiment: demo\n"
                                 "stop: {wall_time_s: 10}\n"
                                 "actor:\n"
                                 "  num_envz: 4\n");
  ExpectOneLine(path,
                ":4: actor.num_envz: unknown key (did you mean "
                "actor.num_envs?)");
}

TEST_F(BadConfigTest, WrongTypeNamesFileLineAndKey) {
  const std::string path = Write("type.yaml",
                                 "experiment: demo\n"
                                 "stop: {wall_time_s: 10}\n"
                                 "learner:\n"
                                 "  publish_every_steps: often\n");
  ExpectOneLine(path,
                ":4: learner.publish_every_steps: expected an integer, "
                "got 'often'");
}

TEST_F(BadConfigTest, OutOfRangeValueNamesFileLineAndKey) {
  const std::string path = Write("range.yaml",
                                 "experiment: demo\n"
                                 "stop: {wall_time_s: 10}\n"
                                 "algorithm:\n"
                                 "  discount: 1.5\n");
  for (const Binary& binary : Binaries()) {
    RunResult r = RunCommand(absl::StrCat(binary.command, " ", path), dir_);
    EXPECT_EQ(r.exit_code, 2);
    ASSERT_EQ(r.stderr_lines.size(), 1u);
    EXPECT_EQ(r.stderr_lines[0].rfind(absl::StrCat(binary.program, ": ", path,
                                                   ":4: algorithm.discount: "),
                                      0),
              0u)
        << r.stderr_lines[0];
  }
}

TEST_F(BadConfigTest, YamlSyntaxErrorsAndMissingFilesAreOneLineToo) {
  const std::string broken = Write("broken.yaml", "experiment: [demo\n");
  const std::string missing = absl::StrCat(dir_, "/missing.yaml");
  for (const Binary& binary : Binaries()) {
    for (const std::string& path : {broken, missing}) {
      RunResult r = RunCommand(absl::StrCat(binary.command, " ", path), dir_);
      EXPECT_EQ(r.exit_code, 2) << binary.program << " " << path;
      ASSERT_EQ(r.stderr_lines.size(), 1u) << binary.program << " " << path;
      EXPECT_NE(r.stderr_lines[0].find(path), std::string::npos)
          << r.stderr_lines[0];
    }
  }
}

TEST_F(BadConfigTest, BadOverridesNameTheOverride) {
  const std::string path = Write("ok.yaml",
                                 "experiment: demo\n"
                                 "stop: {wall_time_s: 10}\n");
  for (const Binary& binary : Binaries()) {
    RunResult r = RunCommand(
        absl::StrCat(binary.command, " ", path, " --set 'actor.num_envs=abc'"),
        dir_);
    EXPECT_EQ(r.exit_code, 2);
    ASSERT_EQ(r.stderr_lines.size(), 1u);
    EXPECT_EQ(r.stderr_lines[0],
              absl::StrCat(binary.program,
                           ": --set actor.num_envs=abc: expected an integer, "
                           "got 'abc'"));
  }
}

// Values past a limit that one component enforces at start (a table's
// size, a sample request's size, the uint16 env ids the replay stores, an
// item's bytes) are refused by every binary, with the same line.
TEST_F(BadConfigTest, ValuesPastAComponentLimitAreRefusedByEveryBinary) {
  const std::string header = "experiment: demo\nstop: {wall_time_s: 10}\n";
  ExpectOneLine(Write("max_size.yaml", header + "tables:\n"
                                                "  - name: transitions\n"
                                                "    max_size: 1e18\n"),
                ":5: tables[0].max_size: must be <= 268435455, got 1e18");
  ExpectOneLine(Write("batch_size.yaml", header + "algorithm:\n"
                                                  "  batch_size: 100000\n"),
                ":4: algorithm.batch_size: must be <= 65536, got 100000");
  ExpectOneLine(Write("num_envs.yaml", header + "actor:\n"
                                                "  num_envs: 70000\n"),
                ":4: actor.num_envs: must be <= 65536, got 70000");
  ExpectOneLine(
      Write("signature.yaml",
            header + "tables:\n"
                     "  - name: transitions\n"
                     "    signature:\n"
                     "      - {name: frames, shape: [65536, 65536]}\n"),
      ":6: tables[0].signature[0].shape: a float32 column of "
      "[65536, 65536] is over 2147483647 bytes");
}

}  // namespace
}  // namespace shoal
