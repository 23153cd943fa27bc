// shoalctl's client subcommands against real replay shards on loopback
// ports (plaintext, bearer tokens and mutual TLS): what each prints, as a
// human report and as JSON, and the exit codes for success, server errors,
// unreachable servers and bad flags. The learner side (params) runs in
// tests/integration/shoalctl_client_test.cc, which can link LibTorch.
#include "tools/client_commands.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/grpc.h"
#include "gtest/gtest.h"

#include "common/grpc_server.h"
#include "common/tensor_codec.h"
#include "common/testing/test_util.h"
#include "nlohmann/json.hpp"
#include "replay/replay_server.h"
#include "replay/replay_service.h"
#include "tools/client_report.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace shoal {
namespace {

// Keeps gRPC initialised for the whole binary; otherwise the end of each
// test's last server and channel shuts gRPC down, which can take 10 s.
[[maybe_unused]] const bool kGrpcInitialised = [] {
  grpc_init();
  return true;
}();

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int kObservationSize = 10;

v1::TensorSpec MakeSpec(const std::string& name, v1::DType dtype,
                        std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(name);
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// "transitions": observation float32[10], action int64 scalar, done bool.
TableOptions MakeTransitionsTable() {
  TableOptions options;
  options.name = "transitions";
  options.signature = {
      MakeSpec("observation", v1::DTYPE_FLOAT32, {kObservationSize}),
      MakeSpec("action", v1::DTYPE_INT64, {}),
      MakeSpec("done", v1::DTYPE_BOOL, {})};
  options.max_size = 1000;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  options.shard_index = 1;
  return options;
}

// Item `id`: observation id + 0.5 * k, action id, done when id is odd.
v1::Item MakeTransition(int64_t id) {
  v1::Item item;
  item.set_table("transitions");
  item.set_priority(1.0);
  std::vector<float> observation(kObservationSize);
  for (int k = 0; k < kObservationSize; ++k) observation[k] = id + 0.5f * k;
  EncodeTensor<float>(observation, {kObservationSize}, item.add_columns())
      .IgnoreError();
  const int64_t action[1] = {id};
  EncodeTensor<int64_t>(action, {}, item.add_columns()).IgnoreError();
  const bool done[1] = {id % 2 == 1};
  EncodeTensor<bool>(done, {}, item.add_columns()).IgnoreError();
  return item;
}

// A replay shard (table "transitions", shard 1) served on a free loopback
// port with `grpc_options` (tokens, TLS).
class TestReplay {
 public:
  static std::unique_ptr<TestReplay> Start(
      ServerOptions grpc_options = ServerOptions(),
      std::string checkpoint_dir = "") {
    auto replay = std::unique_ptr<TestReplay>(new TestReplay);
    ReplayServerOptions options;
    options.shard_index = 1;
    options.tables = {MakeTransitionsTable()};
    options.checkpoint_dir = std::move(checkpoint_dir);
    absl::StatusOr<std::unique_ptr<ReplayServer>> server =
        ReplayServer::Create(std::move(options));
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    replay->server_ = *std::move(server);
    replay->service_ = std::make_unique<ReplayServiceImpl>(
        replay->server_.get(), ReplayServiceOptions(), nullptr);
    absl::StatusOr<std::unique_ptr<GrpcServer>> grpc =
        GrpcServer::Start(grpc_options, {replay->service_.get()});
    EXPECT_TRUE(grpc.ok()) << grpc.status();
    if (!grpc.ok()) return nullptr;
    replay->grpc_ = *std::move(grpc);
    replay->address_ = replay->grpc_->address();
    return replay;
  }
  ~TestReplay() { Stop(); }

  // Inserts items 0 .. n-1.
  void Insert(int n) {
    Table* table = server_->FindTable("transitions");
    for (int i = 0; i < n; ++i) {
      const v1::Item item = MakeTransition(i);
      ASSERT_TRUE(table->Validate(item, "item").ok());
      ASSERT_TRUE(table
                      ->Insert(item, /*writer_id=*/1, /*sequence=*/i + 1,
                               absl::Now() + absl::Seconds(5))
                      .ok());
    }
  }

  // Shuts down; nothing listens on address() afterwards.
  void Stop() {
    if (grpc_ == nullptr) return;
    server_->Cancel();
    grpc_->Shutdown(absl::Now() + absl::Milliseconds(200));
    grpc_.reset();
  }

  std::string address() const { return address_; }
  GrpcServer& grpc() { return *grpc_; }

 private:
  TestReplay() = default;

  std::unique_ptr<ReplayServer> server_;
  std::unique_ptr<ReplayServiceImpl> service_;
  std::unique_ptr<GrpcServer> grpc_;
  // Kept after Stop(), for tests of a closed port.
  std::string address_;
};

// What one command printed and returned.
struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

template <typename Command>
Outcome Run(Command command) {
  std::ostringstream out;
  std::ostringstream err;
  Outcome outcome;
  outcome.code = command(out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

ClientFlags MakeFlags(bool json = false) {
  ClientFlags flags;
  flags.timeout = absl::Seconds(10);
  flags.json = json;
  return flags;
}

Outcome Info(const ClientFlags& flags, const std::string& address) {
  return Run([&](std::ostream& out, std::ostream& err) {
    return InfoCommand(flags, address, out, err);
  });
}

Outcome Sample(const ClientFlags& flags, const std::string& address,
               const std::string& table, int n) {
  return Run([&](std::ostream& out, std::ostream& err) {
    return SampleCommand(flags, address, table, n, out, err);
  });
}

Outcome Checkpoint(const ClientFlags& flags, const std::string& address) {
  return Run([&](std::ostream& out, std::ostream& err) {
    return CheckpointCommand(flags, address, out, err);
  });
}

Outcome Health(const ClientFlags& flags, const std::string& address) {
  return Run([&](std::ostream& out, std::ostream& err) {
    return HealthCommand(flags, address, out, err);
  });
}

// The whitespace-separated cells of the first line of `text` that starts
// with `first`.
std::vector<std::string> RowStartingWith(const std::string& text,
                                         const std::string& first) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> cells =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (!cells.empty() && cells[0] == first) return cells;
  }
  return {};
}

// A file holding `contents` in a fresh temporary directory.
std::string WriteTempFile(const std::string& name,
                          const std::string& contents) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoalctl_client");
  EXPECT_TRUE(dir.ok()) << dir.status();
  const std::string path = dir.value_or("/nonexistent") + "/" + name;
  EXPECT_TRUE(WriteTestFile(path, contents).ok());
  return path;
}

ServerOptions WithTokens() {
  ServerOptions options;
  options.tokens_file = WriteTempFile("tokens",
                                      "reader reader-token\n"
                                      "learner learner-token\n"
                                      "admin admin-token\n");
  options.method_roles = ShoalMethodRoles();
  return options;
}

TEST(InfoCommandTest, PrintsEveryTableWithItsSize) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  replay->Insert(3);
  const Outcome info = Info(MakeFlags(), replay->address());
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_EQ(info.err, "");
  EXPECT_THAT(info.out, StartsWith(absl::StrCat("replay ", replay->address(),
                                                ", shard 1: 1 table")));
  // TABLE SIZE MAX_SIZE ... SAMPLER ... RATE_LIMITER ... SIGNATURE rows.
  const std::vector<std::string> row = RowStartingWith(info.out, "TABLE");
  ASSERT_GE(row.size(), 3u);
  EXPECT_EQ(row[1], "SIZE");
  const std::vector<std::string> contents =
      RowStartingWith(info.out, "transitions");
  ASSERT_GE(contents.size(), 3u) << info.out;
  EXPECT_EQ(contents[1], "3");
  EXPECT_EQ(contents[2], "1000");
  EXPECT_THAT(info.out, HasSubstr("uniform"));
  EXPECT_THAT(info.out, HasSubstr("RATE_LIMITER"));
  EXPECT_THAT(info.out, HasSubstr("observation  float32  [10]"));
}

TEST(InfoCommandTest, JsonIsOneObjectWithEveryCounter) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  replay->Insert(3);
  const Outcome info = Info(MakeFlags(/*json=*/true), replay->address());
  ASSERT_EQ(info.code, 0) << info.err;
  const Json json = Json::parse(info.out);
  EXPECT_EQ(json["replay"], replay->address());
  EXPECT_EQ(json["shard_index"], 1);
  ASSERT_EQ(json["tables"].size(), 1u);
  const Json& table = json["tables"][0];
  EXPECT_EQ(table["name"], "transitions");
  EXPECT_EQ(table["size"], 3);
  EXPECT_EQ(table["max_size"], 1000);
  EXPECT_EQ(table["inserts"], 3);
  EXPECT_EQ(table["sampler"], "uniform");
  EXPECT_GT(table["bytes"].get<int64_t>(), 0);
  EXPECT_EQ(table["rate_limiter"]["min_size_to_sample"], 1);
  EXPECT_EQ(table["rate_limiter"]["inserts"], 3);
  ASSERT_EQ(table["signature"].size(), 3u);
  EXPECT_EQ(table["signature"][0]["name"], "observation");
  EXPECT_EQ(table["signature"][0]["shape"], Json::array({kObservationSize}));
}

TEST(SampleCommandTest, PrintsEachItemWithItsColumns) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  replay->Insert(3);
  const Outcome sample =
      Sample(MakeFlags(), replay->address(), "transitions", /*n=*/2);
  ASSERT_EQ(sample.code, 0) << sample.err;
  EXPECT_THAT(sample.out, StartsWith("2 items of table transitions"));
  EXPECT_THAT(sample.out, HasSubstr("item 1 of 2: key "));
  EXPECT_THAT(sample.out, HasSubstr("item 2 of 2: key "));
  // Uniform sampling is with replacement: an item may come twice.
  EXPECT_THAT(sample.out, ContainsRegex(", times_sampled [12]\n"));
  const std::vector<std::string> observation =
      RowStartingWith(sample.out, "observation");
  ASSERT_GE(observation.size(), 4u) << sample.out;
  EXPECT_EQ(observation[1], "float32");
  EXPECT_EQ(observation[2], "[10]");
  EXPECT_THAT(sample.out, HasSubstr("... (+2)"));
  EXPECT_THAT(RowStartingWith(sample.out, "action"), ::testing::SizeIs(4));
  EXPECT_THAT(RowStartingWith(sample.out, "done"), ::testing::SizeIs(4));
}

TEST(SampleCommandTest, JsonHoldsNItemsWithNamedDecodedColumns) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  replay->Insert(3);
  const Outcome sample = Sample(MakeFlags(/*json=*/true), replay->address(),
                                "transitions", /*n=*/5);
  ASSERT_EQ(sample.code, 0) << sample.err;
  const Json json = Json::parse(sample.out);
  EXPECT_EQ(json["table"], "transitions");
  ASSERT_EQ(json["items"].size(), 5u);
  for (const Json& item : json["items"]) {
    EXPECT_EQ(item["shard"], 1);
    EXPECT_GE(item["times_sampled"].get<int>(), 1);
    ASSERT_EQ(item["columns"].size(), 3u);
    const Json& observation = item["columns"][0];
    const Json& action = item["columns"][1];
    const Json& done = item["columns"][2];
    EXPECT_EQ(observation["name"], "observation");
    EXPECT_EQ(observation["dtype"], "float32");
    EXPECT_EQ(observation["num_values"], kObservationSize);
    ASSERT_EQ(observation["values"].size(), size_t{kPreviewValues});
    const int64_t id = action["values"][0].get<int64_t>();
    EXPECT_EQ(observation["values"][1].get<double>(), id + 0.5);
    EXPECT_EQ(action["name"], "action");
    EXPECT_EQ(action["shape"], Json::array());
    EXPECT_EQ(done["values"][0].get<bool>(), id % 2 == 1);
  }
}

TEST(SampleCommandTest, UnknownTableFailsWithTheServersMessage) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  const Outcome sample =
      Sample(MakeFlags(), replay->address(), "no_such_table", /*n=*/1);
  EXPECT_EQ(sample.code, 1);
  EXPECT_EQ(sample.out, "");
  EXPECT_THAT(sample.err, StartsWith("shoalctl sample: NOT_FOUND: "));
  EXPECT_THAT(sample.err, HasSubstr("no_such_table"));
  EXPECT_THAT(sample.err, HasSubstr("(tables: transitions)"));
  EXPECT_EQ(std::count(sample.err.begin(), sample.err.end(), '\n'), 1);
}

TEST(SampleCommandTest, EmptyTableFailsAtTheDeadlineNamingTheTable) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  ClientFlags flags = MakeFlags();
  flags.timeout = absl::Seconds(1);
  const Outcome sample =
      Sample(flags, replay->address(), "transitions", /*n=*/1);
  EXPECT_EQ(sample.code, 1);
  EXPECT_THAT(sample.err, StartsWith("shoalctl sample: DEADLINE_EXCEEDED: "));
  EXPECT_THAT(sample.err, HasSubstr("transitions"));
}

TEST(CheckpointCommandTest, PrintsThePathOfTheWrittenCheckpoint) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoalctl_checkpoint");
  ASSERT_TRUE(dir.ok()) << dir.status();
  std::unique_ptr<TestReplay> replay = TestReplay::Start(ServerOptions(), *dir);
  ASSERT_NE(replay, nullptr);
  replay->Insert(4);
  const Outcome json = Checkpoint(MakeFlags(/*json=*/true), replay->address());
  ASSERT_EQ(json.code, 0) << json.err;
  const Json parsed = Json::parse(json.out);
  const std::string path = parsed["path"];
  EXPECT_THAT(path, StartsWith(*dir));
  EXPECT_TRUE(fs::is_directory(path)) << path;
  EXPECT_EQ(parsed["items"], 4);

  const Outcome human = Checkpoint(MakeFlags(), replay->address());
  ASSERT_EQ(human.code, 0) << human.err;
  const std::vector<std::string> row = RowStartingWith(human.out, "path");
  ASSERT_EQ(row.size(), 2u) << human.out;
  EXPECT_TRUE(fs::is_directory(row[1])) << row[1];
}

TEST(CheckpointCommandTest, ShardWithoutCheckpointDirFails) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  const Outcome checkpoint = Checkpoint(MakeFlags(), replay->address());
  EXPECT_EQ(checkpoint.code, 1);
  EXPECT_THAT(checkpoint.err,
              StartsWith("shoalctl checkpoint: FAILED_PRECONDITION: "));
}

TEST(HealthCommandTest, RunningServerIsServing) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  const Outcome health = Health(MakeFlags(), replay->address());
  EXPECT_EQ(health.code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
  const Outcome json = Health(MakeFlags(/*json=*/true), replay->address());
  EXPECT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(Json::parse(json.out)["status"], "SERVING");
}

TEST(HealthCommandTest, DrainingServerIsNotServingAndExitsOne) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  replay->grpc().SetServing(false);
  const Outcome health = Health(MakeFlags(), replay->address());
  EXPECT_EQ(health.code, 1);
  EXPECT_EQ(health.out, "NOT_SERVING\n");
}

TEST(HealthCommandTest, ClosedPortFailsQuicklyWithUnavailable) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  const std::string address = replay->address();
  replay->Stop();
  const absl::Time start = absl::Now();
  const Outcome health = Health(MakeFlags(), address);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(health.code, 1);
  EXPECT_EQ(health.out, "");
  EXPECT_THAT(health.err, StartsWith("shoalctl health: UNAVAILABLE: "));
  const Outcome info = Info(MakeFlags(), address);
  EXPECT_EQ(info.code, 1);
  EXPECT_THAT(info.err, StartsWith("shoalctl info: UNAVAILABLE: "));
}

// A port that accepts TCP connections and never speaks HTTP/2: the
// command waits for the server until its deadline (not gRPC's 100 ms
// reconnect backoff, which would fail a slow handshake at once).
TEST(HealthCommandTest, SilentServerFailsAtTheDeadline) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ASSERT_EQ(
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
      0);
  ASSERT_EQ(listen(listener, /*backlog=*/16), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ClientFlags flags = MakeFlags();
  flags.timeout = absl::Seconds(1);
  const absl::Time start = absl::Now();
  const Outcome health =
      Health(flags, absl::StrCat("127.0.0.1:", ntohs(address.sin_port)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
  EXPECT_EQ(health.code, 1);
  EXPECT_THAT(health.err, StartsWith("shoalctl health: DEADLINE_EXCEEDED: "));
  close(listener);
}

TEST(ClientAuthTest, MissingTokenIsUnauthenticated) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start(WithTokens());
  ASSERT_NE(replay, nullptr);
  const Outcome info = Info(MakeFlags(), replay->address());
  EXPECT_EQ(info.code, 1);
  EXPECT_THAT(info.err, StartsWith("shoalctl info: UNAUTHENTICATED: "));
  // Health needs no token.
  EXPECT_EQ(Health(MakeFlags(), replay->address()).code, 0);
}

TEST(ClientAuthTest, TokenFileGivesTheRolesRights) {
  std::unique_ptr<TestReplay> replay = TestReplay::Start(WithTokens());
  ASSERT_NE(replay, nullptr);
  replay->Insert(1);
  ClientFlags reader = MakeFlags();
  reader.token_file = WriteTempFile("token", "reader-token\n");
  const Outcome info = Info(reader, replay->address());
  EXPECT_EQ(info.code, 0) << info.err;
  const Outcome checkpoint = Checkpoint(reader, replay->address());
  EXPECT_EQ(checkpoint.code, 1);
  EXPECT_THAT(checkpoint.err,
              StartsWith("shoalctl checkpoint: PERMISSION_DENIED: "));
  ClientFlags learner = MakeFlags();
  learner.token_file = WriteTempFile("token", "learner-token\n");
  const Outcome sample =
      Sample(learner, replay->address(), "transitions", /*n=*/1);
  EXPECT_EQ(sample.code, 0) << sample.err;
}

TEST(ClientAuthTest, UnreadableTokenFileIsABadArgument) {
  ClientFlags flags = MakeFlags();
  flags.token_file = "/nonexistent/shoalctl.token";
  const Outcome info = Info(flags, "127.0.0.1:1");
  EXPECT_EQ(info.code, 2);
  EXPECT_THAT(info.err, StartsWith("shoalctl info: NOT_FOUND: "));
  EXPECT_THAT(info.err, HasSubstr("/nonexistent/shoalctl.token"));
}

TEST(ClientAuthTest, InfoWorksOverMutualTls) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoalctl_tls");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<TestCertificates> certs = MakeTestCertificates(*dir);
  ASSERT_TRUE(certs.ok()) << certs.status();
  ServerOptions options;
  options.tls = {certs->server_cert, certs->server_key, certs->ca_cert};
  std::unique_ptr<TestReplay> replay = TestReplay::Start(options);
  ASSERT_NE(replay, nullptr);
  ClientFlags flags = MakeFlags();
  flags.tls_ca = certs->ca_cert;
  flags.tls_cert = certs->client_cert;
  flags.tls_key = certs->client_key;
  const Outcome info = Info(flags, replay->address());
  EXPECT_EQ(info.code, 0) << info.err;
  EXPECT_EQ(Health(flags, replay->address()).code, 0);
  // Plaintext against a TLS server fails, quickly.
  const Outcome plain = Info(MakeFlags(), replay->address());
  EXPECT_EQ(plain.code, 1);
}

// The real binary, as a container health check runs it.
TEST(ShoalctlBinaryTest, HealthOfARunningShardSaysServing) {
  const char* binary_dir = std::getenv("SHOAL_BINARY_DIR");
  ASSERT_NE(binary_dir, nullptr);
  const std::string binary = absl::StrCat(binary_dir, "/tools/shoalctl");
  ASSERT_TRUE(fs::exists(binary)) << binary << " is not built";
  std::unique_ptr<TestReplay> replay = TestReplay::Start();
  ASSERT_NE(replay, nullptr);
  const std::string command =
      absl::StrCat(binary, " health ", replay->address(), " --timeout_s=5");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[256];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe))
    out.append(buffer, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(out, "SERVING\n");
}

}  // namespace
}  // namespace shoal
