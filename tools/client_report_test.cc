// The reports of shoalctl's client subcommands, from hand-made answers:
// tensor previews of every dtype, JSON that stays valid with non-finite
// values, sizes in binary units, and the aligned human tables (unbounded
// limits shown as "-"). Real answers are covered by client_commands_test.
#include "tools/client_report.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"

namespace shoal {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ClientReportTest, PreviewsShowTheFirstValuesOfEveryDtype) {
  v1::Tensor tensor;
  const bool flags[3] = {true, false, true};
  ASSERT_TRUE(EncodeTensor<bool>(flags, {3}, &tensor).ok());
  EXPECT_EQ(TensorPreview(tensor), "true, false, true");
  const std::vector<uint8_t> bytes(20, 7);
  ASSERT_TRUE(EncodeTensor<uint8_t>(bytes, {4, 5}, &tensor).ok());
  EXPECT_EQ(TensorPreview(tensor), "7, 7, 7, 7, 7, 7, 7, 7 ... (+12)");
  const std::vector<int32_t> ints = {-1, 2};
  ASSERT_TRUE(EncodeTensor<int32_t>(ints, {2}, &tensor).ok());
  EXPECT_EQ(TensorPreview(tensor), "-1, 2");
  const std::vector<double> doubles = {0.25, 1e-9};
  ASSERT_TRUE(EncodeTensor<double>(doubles, {2}, &tensor).ok());
  EXPECT_EQ(TensorPreview(tensor), "0.25, 1e-09");
  const std::vector<float> empty;
  ASSERT_TRUE(EncodeTensor<float>(empty, {0, 3}, &tensor).ok());
  EXPECT_EQ(TensorPreview(tensor), "");
}

TEST(ClientReportTest, MalformedTensorsAreReportedNotDecoded) {
  v1::Tensor tensor;
  const std::vector<float> values = {1, 2};
  ASSERT_TRUE(EncodeTensor<float>(values, {2}, &tensor).ok());
  tensor.set_data("x");
  EXPECT_EQ(TensorPreview(tensor), "<error>");
  const Json json = TensorJson("observation", tensor);
  EXPECT_EQ(json["name"], "observation");
  EXPECT_TRUE(json.contains("error"));
  EXPECT_FALSE(json.contains("values"));
}

TEST(ClientReportTest, NonFiniteValuesKeepTheJsonValid) {
  v1::Tensor tensor;
  const std::vector<float> values = {std::nanf(""), 1.5f,
                                     std::numeric_limits<float>::infinity()};
  ASSERT_TRUE(EncodeTensor<float>(values, {3}, &tensor).ok());
  const std::string text = TensorJson("reward", tensor).dump();
  const Json parsed = Json::parse(text);
  EXPECT_TRUE(parsed["values"][0].is_null());
  EXPECT_EQ(parsed["values"][1], 1.5);
  EXPECT_EQ(parsed["num_values"], 3);
  EXPECT_EQ(TensorPreview(tensor), "nan, 1.5, inf");
}

TEST(ClientReportTest, Float32ValuesAreWrittenInTheirShortestForm) {
  v1::Tensor tensor;
  const std::vector<float> tenths = {0.1f, 0.99f, 1.0f / 3};
  ASSERT_TRUE(EncodeTensor<float>(tenths, {3}, &tensor).ok());
  EXPECT_EQ(TensorJson("x", tensor)["values"].dump(), "[0.1,0.99,0.33333334]");
}

TEST(ClientReportTest, HumanBytesUseBinaryUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(int64_t{3} << 20), "3.0 MiB");
  EXPECT_EQ(HumanBytes(int64_t{5} << 30), "5.0 GiB");
}

TEST(ClientReportTest, InfoShowsUnboundedLimitsAsDashes) {
  v1::InfoResponse info;
  info.set_shard_index(2);
  v1::TableInfo* table = info.add_tables();
  table->set_name("any");
  table->set_sampler("prioritized");
  table->set_remover("fifo");
  table->set_max_size(10);
  table->set_size(4);
  table->set_bytes(2048);
  table->mutable_rate_limiter()->set_samples_per_insert(2);
  table->mutable_rate_limiter()->set_min_diff(
      std::numeric_limits<double>::lowest());
  table->mutable_rate_limiter()->set_max_diff(
      std::numeric_limits<double>::max());
  std::ostringstream out;
  PrintInfo("replay-2:7000", info, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("replay replay-2:7000, shard 2: 1 table\n"));
  EXPECT_THAT(text, HasSubstr("2.0 KiB"));
  EXPECT_THAT(text, HasSubstr("any        (any columns)"));
  EXPECT_THAT(text, Not(HasSubstr("e+308")));
  // Every line of a section is as wide as its widest cell allows, and no
  // line ends in spaces.
  EXPECT_THAT(text, Not(HasSubstr(" \n")));
  const Json json = InfoJson("replay-2:7000", info);
  EXPECT_EQ(json["tables"][0]["rate_limiter"]["max_diff"],
            std::numeric_limits<double>::max());
}

TEST(ClientReportTest, ParamsWithoutPublishTimeHaveUnknownAge) {
  AssembledParameters params;
  params.version = 3;
  params.total_bytes = 10;
  params.num_chunks = 1;
  std::ostringstream out;
  PrintParams("learner:7001", params, absl::Now(), out);
  EXPECT_THAT(out.str(), ContainsRegex("\nage +unknown\n"));
  EXPECT_TRUE(
      ParamsJson("learner:7001", params, absl::Now())["age_s"].is_null());
}

}  // namespace
}  // namespace shoal
