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

#include "common/test_util.h"
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

std::vector<std::string> Binaries() {
  const char* dir = std::getenv("SHOAL_BINARY_DIR");
  std::string root = dir == nullptr ? "." : dir;
  std::vector<std::string> binaries = {root + "/replay/shoal-replay"};
#ifdef SHOAL_HAVE_TORCH_BINARIES
  binaries.push_back(root + "/learner/shoal-learner");
  binaries.push_back(root + "/actor/shoal-actor");
#endif
  return binaries;
}

std::string Basename(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
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
    for (const std::string& binary : Binaries()) {
      RunResult r =
          RunCommand(absl::StrCat(binary, " --config ", config), dir_);
      EXPECT_EQ(r.exit_code, 2) << binary;
      ASSERT_EQ(r.stderr_lines.size(), 1u) << binary;
      EXPECT_EQ(r.stderr_lines[0],
                absl::StrCat(Basename(binary), ": ", config, message))
          << binary;
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
  for (const std::string& binary : Binaries()) {
    RunResult r = RunCommand(absl::StrCat(binary, " --config ", path), dir_);
    EXPECT_EQ(r.exit_code, 2);
    ASSERT_EQ(r.stderr_lines.size(), 1u);
    EXPECT_EQ(r.stderr_lines[0].rfind(absl::StrCat(Basename(binary), ": ", path,
                                                   ":4: algorithm.discount: "),
                                      0),
              0u)
        << r.stderr_lines[0];
  }
}

TEST_F(BadConfigTest, YamlSyntaxErrorsAndMissingFilesAreOneLineToo) {
  const std::string broken = Write("broken.yaml", "experiment: [demo\n");
  const std::string missing = absl::StrCat(dir_, "/missing.yaml");
  for (const std::string& binary : Binaries()) {
    for (const std::string& path : {broken, missing}) {
      RunResult r = RunCommand(absl::StrCat(binary, " --config ", path), dir_);
      EXPECT_EQ(r.exit_code, 2) << binary << " " << path;
      ASSERT_EQ(r.stderr_lines.size(), 1u) << binary << " " << path;
      EXPECT_NE(r.stderr_lines[0].find(path), std::string::npos)
          << r.stderr_lines[0];
    }
  }
}

TEST_F(BadConfigTest, BadOverridesNameTheOverride) {
  const std::string path = Write("ok.yaml",
                                 "experiment: demo\n"
                                 "stop: {wall_time_s: 10}\n");
  for (const std::string& binary : Binaries()) {
    RunResult r = RunCommand(
        absl::StrCat(binary, " --config ", path, " --set 'actor.num_envs=abc'"),
        dir_);
    EXPECT_EQ(r.exit_code, 2);
    ASSERT_EQ(r.stderr_lines.size(), 1u);
    EXPECT_EQ(r.stderr_lines[0],
              absl::StrCat(Basename(binary),
                           ": --set actor.num_envs=abc: expected an integer, "
                           "got 'abc'"));
  }
}

}  // namespace
}  // namespace shoal
