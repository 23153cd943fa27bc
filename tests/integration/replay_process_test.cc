// The real shoal-replay binary as a process: it reads a config file,
// prints its ports, takes inserts over gRPC and counts them in /metrics;
// killed (SIGKILL) in the middle of a large checkpoint it restarts from the
// previous complete one; SIGTERM ends it with exit code 0 after a final
// checkpoint; a bad config ends it with exit code 2 and one line of output.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/child_process.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "common/testing/test_util.h"
#include "replay/replay_server.h"
#include "tools/metrics_scrape.h"
#include <signal.h>

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

// One shoal-replay process (a ChildProcess, its output in
// `work_dir`/`tag`.log) and the ports it printed.
struct ReplayProcess {
  std::unique_ptr<ChildProcess> child;
  int port = 0;
  int metrics_port = 0;

  std::string Log() const { return ReadTestFile(child->log_file()); }
};

absl::StatusOr<ReplayProcess> StartReplay(
    const std::string& work_dir, const std::string& tag,
    const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {ReplayBinary()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  ReplayProcess process;
  SHOAL_ASSIGN_OR_RETURN(
      process.child,
      StartTestProcess(std::move(argv),
                       absl::StrCat(work_dir, "/", tag, ".log")));
  SHOAL_ASSIGN_OR_RETURN(
      process.port, process.child->WaitForPort("shoal-replay listening on ",
                                               absl::Seconds(20)));
  SHOAL_ASSIGN_OR_RETURN(process.metrics_port,
                         process.child->WaitForPort("shoal-replay metrics on ",
                                                    absl::Seconds(20)));
  return process;
}

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

// `series` from the process's /metrics; -1 when it cannot be read.
double Metric(const ReplayProcess& process, absl::string_view series) {
  absl::StatusOr<MetricSamples> samples =
      ScrapeMetrics(process.metrics_port, absl::Seconds(5));
  EXPECT_TRUE(samples.ok()) << samples.status();
  return samples.ok() ? samples->Get(series, -1) : -1;
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

  absl::StatusOr<ReplayProcess> process = StartReplay(work, "run0", flags);
  ASSERT_TRUE(process.ok()) << process.status();
  auto stub = MakeStub(process->port);
  Insert(*stub, /*first=*/1, /*n=*/1000);
  EXPECT_EQ(Metric(*process, "shoal_replay_inserted_items_total"), 1000);
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
    process->child->Kill();
    EXPECT_EQ(process->child->exit_code(), 128 + SIGKILL);
    checkpoint.join();
    interrupted = IncompleteCheckpoints(checkpoints) > 0;
    if (!interrupted) complete_items = size;

    process = StartReplay(work, absl::StrCat("run", attempt + 1), flags);
    ASSERT_TRUE(process.ok()) << process.status();
    stub = MakeStub(process->port);
    EXPECT_EQ(TableSize(*stub), complete_items);
    EXPECT_THAT(process->Log(), HasSubstr("restored checkpoint"));
  }
  ASSERT_TRUE(interrupted) << "no checkpoint was caught mid-write";
  EXPECT_EQ(Metric(*process, "shoal_replay_inserted_items_total"),
            0);  // counters are per process

  // SIGTERM: exit 0 after a final checkpoint of what it holds now.
  Insert(*stub, next, /*n=*/10);
  const std::vector<std::string> before = ListCompleteCheckpoints(checkpoints);
  process->child->Signal(SIGTERM);
  EXPECT_EQ(process->child->Wait(absl::Now() + absl::Seconds(20)), 0)
      << process->Log();
  EXPECT_THAT(process->Log(), HasSubstr("final checkpoint"));
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
  const std::string log = work + "/bad.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      StartTestProcess({ReplayBinary(), "--config", config, "--port", "0",
                        "--host", "127.0.0.1"},
                       log);
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ((*process)->Wait(absl::Now() + absl::Seconds(10)), 2);
  // stdout and stderr together: one line, nothing else.
  const std::string output = ReadTestFile(log);
  std::vector<std::string> lines =
      absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << output;
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat(config, ":7:")));
  EXPECT_THAT(lines[0], HasSubstr("max_size"));
  fs::remove_all(work);
}

}  // namespace
}  // namespace shoal
