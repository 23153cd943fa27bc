// shoalctl's learner-side subcommands against a real LearnerService on a
// loopback port: `params` reports the version, learner step, size, tensors
// and age of what the learner published (put back together from several
// chunks), fails with NOT_FOUND before the first publish, and the built
// shoalctl binary prints the same as JSON; `health` of the learner.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/grpc.h"
#include "gtest/gtest.h"

#include "common/grpc_server.h"
#include "common/tensor_codec.h"
#include "learner/learner_service.h"
#include "learner/parameter_store.h"
#include "nlohmann/json.hpp"
#include "tools/client_commands.h"
#include <sys/wait.h>

namespace shoal {
namespace {

// Keeps gRPC initialised for the whole binary; otherwise the end of each
// test's last server and channel shuts gRPC down, which can take 10 s.
[[maybe_unused]] const bool kGrpcInitialised = [] {
  grpc_init();
  return true;
}();

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::json;

// Small chunks, so that a version comes in several.
constexpr int64_t kChunkBytes = 1000;

// Version `version`: policy.0.weight [8, 64] and policy.0.bias [8], float32.
v1::Parameters MakeParameters(int64_t version) {
  v1::Parameters parameters;
  parameters.set_version(version);
  v1::NamedTensor* weight = parameters.add_tensors();
  weight->set_name("policy.0.weight");
  const std::vector<float> weights(8 * 64, 0.5f);
  EncodeTensor<float>(weights, {8, 64}, weight->mutable_tensor()).IgnoreError();
  v1::NamedTensor* bias = parameters.add_tensors();
  bias->set_name("policy.0.bias");
  const std::vector<float> biases(8, -1.0f);
  EncodeTensor<float>(biases, {8}, bias->mutable_tensor()).IgnoreError();
  return parameters;
}

// A LearnerService with a ParameterStore on a free loopback port.
class TestLearner {
 public:
  TestLearner() {
    ParameterStoreOptions options;
    options.max_chunk_bytes = kChunkBytes;
    store_ = *ParameterStore::Create(options);
    service_ = std::make_unique<LearnerServiceImpl>(store_.get(),
                                                    /*stats=*/nullptr);
    absl::StatusOr<std::unique_ptr<GrpcServer>> server =
        GrpcServer::Start(ServerOptions(), {service_.get()});
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
  }
  ~TestLearner() {
    if (server_ != nullptr) server_->Shutdown(absl::Now());
  }

  std::string address() const { return server_->address(); }
  ParameterStore& store() { return *store_; }

 private:
  std::unique_ptr<ParameterStore> store_;
  std::unique_ptr<LearnerServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
};

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

Outcome Params(const std::string& address, bool json = false) {
  ClientFlags flags;
  flags.timeout = absl::Seconds(10);
  flags.json = json;
  std::ostringstream out;
  std::ostringstream err;
  Outcome outcome;
  outcome.code = ParamsCommand(flags, address, out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

// The value cell of the row "<key>  <value>" of a key-value report.
std::string ValueOf(const std::string& report, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    std::vector<std::string> cells =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (cells.size() == 2 && cells[0] == key) {
      return std::string(absl::StripLeadingAsciiWhitespace(cells[1]));
    }
  }
  return "";
}

TEST(ParamsCommandTest, PrintsThePublishedVersionStepTensorsAndAge) {
  TestLearner learner;
  ASSERT_TRUE(
      learner.store().Publish(MakeParameters(7), /*learner_step=*/700).ok());
  const Outcome params = Params(learner.address());
  ASSERT_EQ(params.code, 0) << params.err;
  EXPECT_EQ(params.err, "");
  EXPECT_EQ(ValueOf(params.out, "version"), "7");
  EXPECT_EQ(ValueOf(params.out, "learner_step"), "700");
  EXPECT_EQ(ValueOf(params.out, "tensors"), "2");
  EXPECT_THAT(ValueOf(params.out, "total_bytes"), HasSubstr(" chunks)"));
  double age = -1;
  const std::string age_text = ValueOf(params.out, "age");
  ASSERT_TRUE(absl::SimpleAtod(age_text.substr(0, age_text.find(' ')), &age))
      << params.out;
  EXPECT_GE(age, 0.0);
  EXPECT_LT(age, 60.0);
  EXPECT_THAT(params.out, HasSubstr("policy.0.weight  float32  [8, 64]"));
}

TEST(ParamsCommandTest, JsonCarriesWhatTheStorePublished) {
  TestLearner learner;
  ASSERT_TRUE(learner.store().Publish(MakeParameters(3), 30).ok());
  ASSERT_TRUE(learner.store().Publish(MakeParameters(4), 40).ok());
  const Outcome params = Params(learner.address(), /*json=*/true);
  ASSERT_EQ(params.code, 0) << params.err;
  const Json json = Json::parse(params.out);
  const std::shared_ptr<const PublishedParameters> latest =
      learner.store().Latest();
  EXPECT_EQ(json["version"], 4);
  EXPECT_EQ(json["learner_step"], 40);
  EXPECT_EQ(json["total_bytes"], latest->total_bytes);
  EXPECT_EQ(json["num_chunks"], latest->chunks.size());
  EXPECT_GT(json["num_chunks"].get<int>(), 1);
  EXPECT_EQ(json["num_tensors"], 2);
  EXPECT_EQ(json["published_unix_ms"], latest->published_unix_ms);
  EXPECT_GE(json["age_s"].get<double>(), 0.0);
  EXPECT_EQ(json["tensors"][1]["name"], "policy.0.bias");
  EXPECT_EQ(json["tensors"][1]["shape"], Json::array({8}));
}

TEST(ParamsCommandTest, BeforeTheFirstPublishFailsWithNotFound) {
  TestLearner learner;
  const Outcome params = Params(learner.address());
  EXPECT_EQ(params.code, 1);
  EXPECT_EQ(params.out, "");
  EXPECT_THAT(params.err, StartsWith("shoalctl params: NOT_FOUND: "));
}

TEST(ParamsCommandTest, LearnerHealthIsServing) {
  TestLearner learner;
  ClientFlags flags;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(HealthCommand(flags, learner.address(), out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "SERVING\n");
}

// The built binary, with the flags an operator types.
TEST(ParamsCommandTest, ShoalctlBinaryPrintsParamsAsJson) {
  const char* binary_dir = std::getenv("SHOAL_BINARY_DIR");
  ASSERT_NE(binary_dir, nullptr);
  const std::string binary = absl::StrCat(binary_dir, "/tools/shoalctl");
  ASSERT_TRUE(fs::exists(binary)) << binary << " is not built";
  TestLearner learner;
  ASSERT_TRUE(learner.store().Publish(MakeParameters(9), 900).ok());
  const std::string command = absl::StrCat(
      binary, " params --learner ", learner.address(), " --json --timeout_s=5");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[256];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) {
    out.append(buffer, n);
  }
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const Json json = Json::parse(out);
  EXPECT_EQ(json["version"], 9);
  EXPECT_EQ(json["learner_step"], 900);
}

}  // namespace
}  // namespace shoal
