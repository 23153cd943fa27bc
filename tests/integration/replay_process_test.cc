// The real shoal-replay binary as a process: it reads a config file,
// prints its ports, takes inserts over gRPC and counts them in /metrics;
// killed (SIGKILL) in the middle of a large checkpoint it restarts from the
// previous complete one; SIGTERM ends it with exit code 0 after a final
// checkpoint; a bad config ends it with exit code 2 and one stderr line.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/config.h"
#include "common/test_util.h"
#include "replay/replay_server.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace shoal {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int kItemBytes = 1024;
constexpr int kBatch = 3000;  // ~3 MB per InsertRequest, under 4 MiB

std::string ReplayBinary() {
  const char* dir = std::getenv("SHOAL_BINARY_DIR");
  if (dir != nullptr) return absl::StrCat(dir, "/replay/shoal-replay");
  return SHOAL_REPLAY_BINARY;
}

std::string ConfigText(int64_t max_size) {
  return absl::StrCat(
      "experiment: replay_process\n"
      "stop: {wall_time_s: 60}\n"
      "replay:\n"
      "  checkpoint_every_s: 0\n"
      "tables:\n"
      "  - name: transitions\n"
      "    max_size: ",
      max_size,
      "\n"
      "    rate_limiter: {kind: min_size, min_size_to_sample: 1}\n"
      "    signature:\n"
      "      - {name: observation, dtype: uint8, shape: [1024]}\n");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One shoal-replay process; stdout and stderr go to files. Killed (SIGKILL)
// on destruction if still running.
class ReplayProcess {
 public:
  ReplayProcess(const std::string& work_dir, const std::string& tag,
                const std::vector<std::string>& flags)
      : stdout_path_(absl::StrCat(work_dir, "/", tag, ".stdout")),
        stderr_path_(absl::StrCat(work_dir, "/", tag, ".stderr")) {
    std::vector<std::string> args = {ReplayBinary()};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ReplayProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  bool started() const { return pid_ > 0; }

  // Waits for the "listening on" and "metrics on" lines.
  bool WaitForPorts(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      for (absl::string_view line : absl::StrSplit(Stdout(), '\n')) {
        std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
        if (absl::StartsWith(line, "shoal-replay listening on ") &&
            words.size() == 6) {
          (void)absl::SimpleAtoi(words[5], &port_);
        }
        if (absl::StartsWith(line, "shoal-replay metrics on port ") &&
            words.size() == 5) {
          (void)absl::SimpleAtoi(words[4], &metrics_port_);
        }
      }
      if (port_ > 0 && metrics_port_ > 0) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  void Signal(int sig) { kill(pid_, sig); }

  // The exit code, 128 + signal when killed, or -1 after `timeout`.
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

  std::string Stdout() const { return ReadFile(stdout_path_); }
  std::string Stderr() const { return ReadFile(stderr_path_); }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }

 private:
  const std::string stdout_path_;
  const std::string stderr_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
};

std::unique_ptr<v1::ReplayService::Stub> MakeStub(int port) {
  return v1::ReplayService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

// Inserts items with sequence numbers [first, first + n) as writer 1.
void Insert(v1::ReplayService::Stub& stub, uint64_t first, int64_t n) {
  grpc::ClientContext context;
  auto stream = stub.InsertStream(&context);
  for (uint64_t seq = first; seq < first + n;) {
    v1::InsertRequest request;
    request.set_writer_id(1);
    request.set_first_sequence(seq);
    const uint64_t end = std::min<uint64_t>(first + n, seq + kBatch);
    for (; seq < end; ++seq) {
      v1::Item* item = request.add_items();
      item->set_table("transitions");
      v1::Tensor* column = item->add_columns();
      column->set_dtype(v1::DTYPE_UINT8);
      column->add_shape(kItemBytes);
      column->set_data(std::string(kItemBytes, static_cast<char>(seq)));
    }
    ASSERT_TRUE(stream->Write(request));
    v1::InsertResponse ack;
    ASSERT_TRUE(stream->Read(&ack));
    ASSERT_FALSE(ack.has_error()) << ack.error().message();
    ASSERT_EQ(ack.acked_sequence(), end - 1);
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
}

int64_t TableSize(v1::ReplayService::Stub& stub) {
  grpc::ClientContext context;
  v1::InfoResponse info;
  grpc::Status status = stub.Info(&context, v1::InfoRequest(), &info);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return status.ok() && info.tables_size() == 1 ? info.tables(0).size() : -1;
}

// GET /metrics over a plain socket; the response body.
std::string ScrapeMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, n);
      }
    }
  }
  close(fd);
  return response;
}

// The value of an unlabelled sample `name` in a Prometheus text page; -1
// when absent.
double MetricValue(const std::string& page, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    line = absl::StripSuffix(line, "\r");
    if (!absl::StartsWith(line, name) || line.size() <= name.size() ||
        line[name.size()] != ' ') {
      continue;
    }
    double value = -1;
    if (absl::SimpleAtod(line.substr(name.size() + 1), &value)) return value;
  }
  return -1;
}

// Checkpoint directories left incomplete: "*.tmp" or without DONE.
int IncompleteCheckpoints(const std::string& dir) {
  int found = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, "ckpt-")) continue;
    if (absl::EndsWith(name, ".tmp") || !fs::exists(entry.path() / "DONE")) {
      ++found;
    }
  }
  return found;
}

// Items in the newest complete checkpoint of `dir`, read back in-process.
int64_t NewestCheckpointItems(const std::string& dir,
                              const std::string& config_path) {
  ExperimentConfig config = LoadExperimentConfig(config_path).value();
  ReplayServerOptions options;
  options.checkpoint_dir = dir;
  options.tables = {TableOptionsFromConfig(config.tables[0], 0)};
  absl::StatusOr<std::unique_ptr<ReplayServer>> server =
      ReplayServer::Create(options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return -1;
  return (*server)->tables()[0]->Info().size();
}

TEST(ReplayProcessTest, SurvivesSigkillMidCheckpointAndStopsCleanlyOnSigterm) {
  const std::string work = MakeTempDir("replay_process").value();
  const std::string config = work + "/replay.yaml";
  const std::string checkpoints = work + "/checkpoints";
  ASSERT_TRUE(WriteTestFile(config, ConfigText(/*max_size=*/800000)).ok());
  const std::vector<std::string> flags = {
      "--config",       config,      "--checkpoint_dir", checkpoints,
      "--host",         "127.0.0.1", "--port",           "0",
      "--metrics_port", "0",         "--log_level",      "info"};

  auto process = std::make_unique<ReplayProcess>(work, "run0", flags);
  ASSERT_TRUE(process->started()) << ReplayBinary();
  ASSERT_TRUE(process->WaitForPorts(absl::Seconds(10))) << process->Stderr();
  auto stub = MakeStub(process->port());
  Insert(*stub, /*first=*/1, /*n=*/1000);
  EXPECT_EQ(MetricValue(ScrapeMetrics(process->metrics_port()),
                        "shoal_replay_inserted_items_total"),
            1000);
  {
    grpc::ClientContext context;
    v1::CheckpointResponse done;
    ASSERT_TRUE(
        stub->Checkpoint(&context, v1::CheckpointRequest(), &done).ok());
    EXPECT_EQ(done.items(), 1000);
  }

  // Kill it 50 ms into a checkpoint of 200k+ items of 1 KiB. Should the
  // checkpoint beat the kill, the table grows and we try again.
  int64_t complete_items = 1000;
  uint64_t next = 1001;
  bool interrupted = false;
  for (int attempt = 0; attempt < 3 && !interrupted; ++attempt) {
    Insert(*stub, next, /*n=*/200000);
    next += 200000;
    const int64_t size = TableSize(*stub);
    std::thread checkpoint([&stub] {
      grpc::ClientContext context;
      v1::CheckpointResponse ignored;
      // Killed mid-call: the status does not matter.
      (void)stub->Checkpoint(&context, v1::CheckpointRequest(), &ignored);
    });
    absl::SleepFor(absl::Milliseconds(50));
    process->Signal(SIGKILL);
    EXPECT_EQ(process->Wait(absl::Seconds(10)), 128 + SIGKILL);
    checkpoint.join();
    interrupted = IncompleteCheckpoints(checkpoints) > 0;
    if (!interrupted) complete_items = size;

    process = std::make_unique<ReplayProcess>(
        work, absl::StrCat("run", attempt + 1), flags);
    ASSERT_TRUE(process->WaitForPorts(absl::Seconds(20))) << process->Stderr();
    stub = MakeStub(process->port());
    EXPECT_EQ(TableSize(*stub), complete_items);
    EXPECT_THAT(process->Stderr(), HasSubstr("restored checkpoint"));
  }
  ASSERT_TRUE(interrupted) << "no checkpoint was caught mid-write";
  EXPECT_EQ(MetricValue(ScrapeMetrics(process->metrics_port()),
                        "shoal_replay_inserted_items_total"),
            0);  // counters are per process

  // SIGTERM: exit 0 after a final checkpoint of what it holds now.
  Insert(*stub, next, /*n=*/10);
  const std::vector<std::string> before = ListCompleteCheckpoints(checkpoints);
  process->Signal(SIGTERM);
  EXPECT_EQ(process->Wait(absl::Seconds(20)), 0) << process->Stderr();
  EXPECT_THAT(process->Stderr(), HasSubstr("final checkpoint"));
  const std::vector<std::string> after = ListCompleteCheckpoints(checkpoints);
  ASSERT_FALSE(after.empty());
  ASSERT_FALSE(before.empty());
  EXPECT_GT(after.back(), before.back());
  EXPECT_EQ(IncompleteCheckpoints(checkpoints), 0);
  EXPECT_EQ(NewestCheckpointItems(checkpoints, config), complete_items + 10);
  fs::remove_all(work);
}

TEST(ReplayProcessTest, BadConfigExitsWithCode2AndOneLineNamingTheKey) {
  const std::string work = MakeTempDir("replay_process").value();
  const std::string config = work + "/bad.yaml";
  // Line 7 holds the bad value.
  std::string text = ConfigText(/*max_size=*/-5);
  ASSERT_TRUE(WriteTestFile(config, text).ok());
  ReplayProcess process(
      work, "bad", {"--config", config, "--port", "0", "--host", "127.0.0.1"});
  ASSERT_TRUE(process.started());
  EXPECT_EQ(process.Wait(absl::Seconds(10)), 2);
  const std::string err = process.Stderr();
  std::vector<std::string> lines = absl::StrSplit(err, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << err;
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat(config, ":7:")));
  EXPECT_THAT(lines[0], HasSubstr("max_size"));
  EXPECT_TRUE(process.Stdout().empty());
  fs::remove_all(work);
}

}  // namespace
}  // namespace shoal
