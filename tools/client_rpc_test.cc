// AssembleParameters: chunks of one version joined back into Parameters,
// and every way a chunk stream can be broken refused with DATA_LOSS. The
// calls themselves run against real servers in client_commands_test.cc.
#include "tools/client_rpc.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/tensor_codec.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

v1::Parameters MakeParameters(int64_t version) {
  v1::Parameters parameters;
  parameters.set_version(version);
  for (const char* name : {"policy.0.weight", "policy.0.bias"}) {
    v1::NamedTensor* tensor = parameters.add_tensors();
    tensor->set_name(name);
    const std::vector<float> values(100, 0.25f);
    EncodeTensor<float>(values, {100}, tensor->mutable_tensor()).IgnoreError();
  }
  return parameters;
}

// `parameters` cut into `n` chunks, as a ParameterStore would.
std::vector<v1::ParametersChunk> Cut(const v1::Parameters& parameters, int n) {
  const std::string bytes = parameters.SerializeAsString();
  const size_t piece = bytes.size() / n + 1;
  std::vector<v1::ParametersChunk> chunks;
  for (int i = 0; i < n; ++i) {
    v1::ParametersChunk& chunk = chunks.emplace_back();
    chunk.set_version(parameters.version());
    chunk.set_chunk_index(i);
    chunk.set_num_chunks(n);
    chunk.set_total_bytes(static_cast<int64_t>(bytes.size()));
    chunk.set_published_unix_ms(1700000000000);
    chunk.set_learner_step(parameters.version() * 100);
    chunk.set_data(bytes.substr(std::min(bytes.size(), i * piece), piece));
  }
  return chunks;
}

TEST(AssembleParametersTest, JoinsChunksInOrder) {
  absl::StatusOr<AssembledParameters> assembled =
      AssembleParameters(Cut(MakeParameters(7), /*n=*/3));
  ASSERT_TRUE(assembled.ok()) << assembled.status();
  EXPECT_EQ(assembled->version, 7);
  EXPECT_EQ(assembled->learner_step, 700);
  EXPECT_EQ(assembled->num_chunks, 3);
  EXPECT_EQ(assembled->published_unix_ms, 1700000000000);
  EXPECT_EQ(assembled->total_bytes,
            static_cast<int64_t>(MakeParameters(7).ByteSizeLong()));
  ASSERT_EQ(assembled->parameters.tensors_size(), 2);
  EXPECT_EQ(assembled->parameters.tensors(1).name(), "policy.0.bias");
}

TEST(AssembleParametersTest, RefusesChunksOutOfOrder) {
  std::vector<v1::ParametersChunk> chunks = Cut(MakeParameters(7), 3);
  std::swap(chunks[1], chunks[2]);
  absl::StatusOr<AssembledParameters> assembled = AssembleParameters(chunks);
  EXPECT_EQ(assembled.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(assembled.status().message(), HasSubstr("chunk 1 is chunk 2"));
}

TEST(AssembleParametersTest, RefusesAMissingChunk) {
  std::vector<v1::ParametersChunk> chunks = Cut(MakeParameters(7), 3);
  chunks.pop_back();
  absl::StatusOr<AssembledParameters> assembled = AssembleParameters(chunks);
  EXPECT_EQ(assembled.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(assembled.status().message(), HasSubstr("has 3 chunks"));
  EXPECT_EQ(AssembleParameters({}).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(AssembleParametersTest, RefusesMixedVersionsAndWrongSizes) {
  std::vector<v1::ParametersChunk> mixed = Cut(MakeParameters(7), 2);
  mixed[1] = Cut(MakeParameters(8), 2)[1];
  EXPECT_EQ(AssembleParameters(mixed).status().code(),
            absl::StatusCode::kDataLoss);
  std::vector<v1::ParametersChunk> short_data = Cut(MakeParameters(7), 2);
  short_data[1].mutable_data()->pop_back();
  EXPECT_THAT(AssembleParameters(short_data).status().message(),
              HasSubstr("total_bytes says"));
}

}  // namespace
}  // namespace shoal
