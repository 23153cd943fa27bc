#include "replay/sample_encoder.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

#include "replay/table.h"

namespace shoal {
namespace {

v1::TensorSpec MakeSpec(const std::string& name, v1::DType dtype,
                        std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(name);
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// A table sampling in insertion order, so two tables given the same inserts
// sample the same items.
std::unique_ptr<Table> MakeFifoTable(std::vector<v1::TensorSpec> signature) {
  TableOptions options;
  options.name = "transitions";
  options.signature = std::move(signature);
  options.sampler = SelectorKind::kFifo;
  options.max_size = 100;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  options.shard_index = 3;
  absl::StatusOr<std::unique_ptr<Table>> table = Table::Create(options);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

v1::Tensor MakeTensor(v1::DType dtype, std::vector<int64_t> shape,
                      std::string data) {
  v1::Tensor tensor;
  tensor.set_dtype(dtype);
  tensor.mutable_shape()->Assign(shape.begin(), shape.end());
  tensor.set_data(std::move(data));
  return tensor;
}

// Item i: metadata that is zero for some i (proto3 leaves zeros out).
v1::Item MakeItem(int i, std::vector<v1::Tensor> columns) {
  v1::Item item;
  item.set_table("transitions");
  item.set_priority(i % 3 == 0 ? 0.0 : 0.25 * i);
  item.set_policy_version(i % 2 == 0 ? 0 : int64_t{1} << 40);
  item.set_actor_index(i % 4 == 0 ? 0 : 300 + i);
  item.set_env_id(i % 5 == 0 ? 0 : i);
  for (v1::Tensor& column : columns) *item.add_columns() = std::move(column);
  return item;
}

// Inserts `items` into two identical tables, samples `n` from one with
// Table::Sample and from the other with Table::SampleEncoded, and checks
// that the encoded bytes are the message path's SampleResponse, byte for
// byte, and parse back to it.
void ExpectEncodedMatchesMessages(const std::vector<v1::TensorSpec>& signature,
                                  const std::vector<v1::Item>& items, int n) {
  std::unique_ptr<Table> by_message = MakeFifoTable(signature);
  std::unique_ptr<Table> by_bytes = MakeFifoTable(signature);
  for (size_t i = 0; i < items.size(); ++i) {
    for (Table* table : {by_message.get(), by_bytes.get()}) {
      ASSERT_TRUE(table->Validate(items[i], "item").ok());
      ASSERT_TRUE(table
                      ->Insert(items[i], /*writer_id=*/1, /*sequence=*/i + 1,
                               absl::InfiniteFuture())
                      .ok());
    }
  }
  v1::SampleResponse expected;
  expected.set_request_id(77);
  expected.set_end_of_request(true);
  ASSERT_TRUE(
      by_message->Sample(n, absl::InfiniteFuture(), expected.mutable_items())
          .ok());
  EncodedSamples samples;
  ASSERT_TRUE(
      by_bytes->SampleEncoded(n, absl::InfiniteFuture(), &samples).ok());
  ASSERT_EQ(samples.size(), n);
  EXPECT_EQ(samples.ends.back(), samples.bytes.size());

  const std::string bytes = SampleEncoder::ResponseHead(77) + samples.bytes +
                            SampleEncoder::ResponseTail(true);
  EXPECT_EQ(bytes, expected.SerializeAsString());
  v1::SampleResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, expected))
      << parsed.DebugString() << "\nvs\n"
      << expected.DebugString();
  // Each item on its own parses as the message path's item.
  size_t begin = 0;
  for (int i = 0; i < n; ++i) {
    v1::SampleResponse one;
    ASSERT_TRUE(one.ParseFromString(
        samples.bytes.substr(begin, samples.ends[i] - begin)));
    ASSERT_EQ(one.items_size(), 1);
    EXPECT_EQ(one.items(0).SerializeAsString(),
              expected.items(i).SerializeAsString());
    begin = samples.ends[i];
  }
}

TEST(WireTest, VarintsRoundTrip) {
  const uint64_t values[] = {0,
                             1,
                             127,
                             128,
                             300,
                             16383,
                             16384,
                             uint64_t{1} << 35,
                             uint64_t{1} << 63,
                             std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    char buf[10];
    const char* end = wire::WriteVarint(v, buf);
    EXPECT_EQ(static_cast<size_t>(end - buf), wire::VarintSize(v)) << v;
    uint64_t read = 0;
    EXPECT_EQ(wire::ReadVarint(buf, end, &read), end) << v;
    EXPECT_EQ(read, v);
    // Cut one byte short, it does not parse.
    EXPECT_EQ(wire::ReadVarint(buf, end - 1, &read), nullptr) << v;
  }
  EXPECT_EQ(wire::VarintSize(127), 1u);
  EXPECT_EQ(wire::VarintSize(128), 2u);
  EXPECT_EQ(wire::VarintSize(std::numeric_limits<uint64_t>::max()), 10u);
}

TEST(WireTest, Fixed64IsLittleEndian) {
  char buf[8];
  EXPECT_EQ(wire::WriteFixed64(0x0807060504030201, buf), buf + 8);
  EXPECT_EQ(std::string(buf, 8), std::string("\1\2\3\4\5\6\7\10", 8));
}

TEST(SampleEncoderTest, ResponseHeadAndTailLeaveDefaultsOut) {
  EXPECT_EQ(SampleEncoder::ResponseHead(0), "");
  EXPECT_EQ(SampleEncoder::ResponseTail(false), "");
  v1::SampleResponse response;
  response.set_request_id(300);
  response.set_end_of_request(true);
  EXPECT_EQ(
      SampleEncoder::ResponseHead(300) + SampleEncoder::ResponseTail(true),
      response.SerializeAsString());
}

TEST(SampleEncoderTest, FixedLayoutMatchesMessagePath) {
  // Several columns, a scalar, a zero-byte column and a 200-byte one (a
  // two-byte length).
  const std::vector<v1::TensorSpec> signature = {
      MakeSpec("observation", v1::DTYPE_FLOAT32, {2, 3}),
      MakeSpec("action", v1::DTYPE_INT64, {}),
      MakeSpec("nothing", v1::DTYPE_UINT8, {0}),
      MakeSpec("pixels", v1::DTYPE_UINT8, {200})};
  std::vector<v1::Item> items;
  for (int i = 0; i < 12; ++i) {
    items.push_back(MakeItem(
        i, {MakeTensor(v1::DTYPE_FLOAT32, {2, 3}, std::string(24, 'a' + i)),
            MakeTensor(v1::DTYPE_INT64, {}, std::string(8, 'b' + i)),
            MakeTensor(v1::DTYPE_UINT8, {0}, ""),
            MakeTensor(v1::DTYPE_UINT8, {200}, std::string(200, 'c' + i))}));
  }
  ExpectEncodedMatchesMessages(signature, items, /*n=*/20);
}

TEST(SampleEncoderTest, VariableLayoutMatchesMessagePath) {
  const std::vector<v1::TensorSpec> signature = {
      MakeSpec("observation", v1::DTYPE_FLOAT32, {-1, 2}),
      MakeSpec("action", v1::DTYPE_INT32, {})};
  std::vector<v1::Item> items;
  for (int i = 0; i < 10; ++i) {
    items.push_back(MakeItem(
        i, {MakeTensor(v1::DTYPE_FLOAT32, {i, 2}, std::string(8 * i, 'x')),
            MakeTensor(v1::DTYPE_INT32, {}, std::string(4, 'y'))}));
  }
  ExpectEncodedMatchesMessages(signature, items, /*n=*/15);
}

TEST(SampleEncoderTest, AnySignatureMatchesMessagePath) {
  std::vector<v1::Item> items;
  for (int i = 0; i < 6; ++i) {
    std::vector<v1::Tensor> columns;
    for (int c = 0; c <= i % 3; ++c) {
      columns.push_back(
          MakeTensor(v1::DTYPE_UINT8, {c + 1}, std::string(c + 1, 'z')));
    }
    items.push_back(MakeItem(i, std::move(columns)));
  }
  ExpectEncodedMatchesMessages(/*signature=*/{}, items, /*n=*/6);
}

}  // namespace
}  // namespace shoal
