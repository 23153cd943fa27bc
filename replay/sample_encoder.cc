#include "replay/sample_encoder.h"

#include <cstring>

#include "common/tensor_codec.h"

namespace shoal {
namespace wire {

const char* ReadVarint(const char* p, const char* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 70 && p < end; shift += 7) {
    const auto byte = static_cast<uint8_t>(*p++);
    result |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return p;
    }
  }
  return nullptr;
}

}  // namespace wire

namespace {

using wire::Tag;
using wire::VarintSize;
using wire::WriteFixed64;
using wire::WriteVarint;

uint64_t Bits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

// int32/int64 fields are sign-extended to 64 bits on the wire.
uint64_t Signed(int64_t v) { return static_cast<uint64_t>(v); }

size_t VarintFieldSize(uint64_t v) { return v == 0 ? 0 : 1 + VarintSize(v); }
size_t DoubleFieldSize(double v) { return Bits(v) == 0 ? 0 : 9; }

char* PutVarintField(int field, uint64_t v, char* p) {
  if (v == 0) return p;
  *p++ = static_cast<char>(Tag(field, wire::kVarint));
  return WriteVarint(v, p);
}

char* PutDoubleField(int field, double v, char* p) {
  const uint64_t bits = Bits(v);
  if (bits == 0) return p;
  *p++ = static_cast<char>(Tag(field, wire::kFixed64));
  return WriteFixed64(bits, p);
}

void AppendVarint(uint64_t v, std::string* out) {
  char buf[10];
  out->append(buf, WriteVarint(v, buf) - buf);
}

// Field numbers, from proto/shoal/v1/replay.proto and tensor.proto.
constexpr int kResponseRequestId = 1;
constexpr int kResponseItems = 2;
constexpr int kResponseEndOfRequest = 3;
constexpr int kSampledKey = 1;
constexpr int kSampledPriority = 2;
constexpr int kSampledProbability = 3;
constexpr int kSampledTableSize = 4;
constexpr int kSampledTimesSampled = 5;
constexpr int kSampledItem = 6;
constexpr int kItemTable = 1;
constexpr int kItemPriority = 2;
constexpr int kItemColumns = 3;
constexpr int kItemPolicyVersion = 4;
constexpr int kItemActorIndex = 5;
constexpr int kItemEnvId = 6;
constexpr int kTensorDType = 1;
constexpr int kTensorShape = 2;
constexpr int kTensorData = 3;

}  // namespace

SampleEncoder::SampleEncoder(absl::string_view table,
                             const std::vector<v1::TensorSpec>& signature,
                             bool fixed)
    : fixed_(fixed) {
  if (!table.empty()) {
    table_field_.push_back(
        static_cast<char>(Tag(kItemTable, wire::kLengthDelimited)));
    AppendVarint(table.size(), &table_field_);
    table_field_.append(table.data(), table.size());
  }
  if (!fixed_) return;
  for (const v1::TensorSpec& spec : signature) {
    int64_t n = DTypeSize(spec.dtype());
    size_t packed_shape = 0;
    for (int64_t d : spec.shape()) {
      n *= d;
      packed_shape += VarintSize(Signed(d));
    }
    const auto data_bytes = static_cast<size_t>(n);
    // The Tensor message: dtype, packed shape, data.
    std::string tensor;
    if (spec.dtype() != 0) {
      tensor.push_back(static_cast<char>(Tag(kTensorDType, wire::kVarint)));
      AppendVarint(Signed(spec.dtype()), &tensor);
    }
    if (spec.shape_size() > 0) {
      tensor.push_back(
          static_cast<char>(Tag(kTensorShape, wire::kLengthDelimited)));
      AppendVarint(packed_shape, &tensor);
      for (int64_t d : spec.shape()) AppendVarint(Signed(d), &tensor);
    }
    if (data_bytes > 0) {
      tensor.push_back(
          static_cast<char>(Tag(kTensorData, wire::kLengthDelimited)));
      AppendVarint(data_bytes, &tensor);
    }
    Column column;
    column.framing.push_back(
        static_cast<char>(Tag(kItemColumns, wire::kLengthDelimited)));
    AppendVarint(tensor.size() + data_bytes, &column.framing);
    column.framing += tensor;
    column.data_bytes = data_bytes;
    fixed_encoded_bytes_ += column.framing.size() + data_bytes;
    fixed_columns_bytes_ += data_bytes;
    columns_.push_back(std::move(column));
  }
}

size_t SampleEncoder::MaxAppendedBytes(size_t columns_bytes) const {
  // Every varint at its longest (10 bytes), every optional field present:
  // SampleResponse.items framing, SampledItem's five fields and its Item's
  // framing, then the Item's priority, policy_version, actor_index, env_id.
  constexpr size_t kMaxFraming =
      (1 + 10) + (1 + 10) + 2 * 9 + 2 * (1 + 10) + (1 + 10) + 9 + 3 * (1 + 10);
  return kMaxFraming + table_field_.size() +
         (fixed_ ? fixed_encoded_bytes_ : columns_bytes);
}

void SampleEncoder::Append(const SampledItemFields& fields,
                           absl::string_view columns,
                           EncodedSamples* out) const {
  const size_t columns_encoded = fixed_ ? fixed_encoded_bytes_ : columns.size();
  const size_t item_bytes = table_field_.size() +
                            DoubleFieldSize(fields.priority) + columns_encoded +
                            VarintFieldSize(Signed(fields.policy_version)) +
                            VarintFieldSize(Signed(fields.actor_index)) +
                            VarintFieldSize(Signed(fields.env_id));
  const size_t sampled_bytes = VarintFieldSize(fields.key) +
                               DoubleFieldSize(fields.priority) +
                               DoubleFieldSize(fields.probability) +
                               VarintFieldSize(Signed(fields.table_size)) +
                               VarintFieldSize(Signed(fields.times_sampled)) +
                               1 + VarintSize(item_bytes) + item_bytes;
  const size_t entry_bytes = 1 + VarintSize(sampled_bytes) + sampled_bytes;

  std::string& bytes = out->bytes;
  const size_t begin = bytes.size();
  bytes.resize(begin + entry_bytes);
  char* p = &bytes[begin];
  *p++ = static_cast<char>(Tag(kResponseItems, wire::kLengthDelimited));
  p = WriteVarint(sampled_bytes, p);
  p = PutVarintField(kSampledKey, fields.key, p);
  p = PutDoubleField(kSampledPriority, fields.priority, p);
  p = PutDoubleField(kSampledProbability, fields.probability, p);
  p = PutVarintField(kSampledTableSize, Signed(fields.table_size), p);
  p = PutVarintField(kSampledTimesSampled, Signed(fields.times_sampled), p);
  *p++ = static_cast<char>(Tag(kSampledItem, wire::kLengthDelimited));
  p = WriteVarint(item_bytes, p);
  std::memcpy(p, table_field_.data(), table_field_.size());
  p += table_field_.size();
  p = PutDoubleField(kItemPriority, fields.priority, p);
  if (fixed_) {
    const char* in = columns.data();
    for (const Column& column : columns_) {
      std::memcpy(p, column.framing.data(), column.framing.size());
      p += column.framing.size();
      std::memcpy(p, in, column.data_bytes);
      p += column.data_bytes;
      in += column.data_bytes;
    }
  } else if (!columns.empty()) {
    std::memcpy(p, columns.data(), columns.size());
    p += columns.size();
  }
  p = PutVarintField(kItemPolicyVersion, Signed(fields.policy_version), p);
  p = PutVarintField(kItemActorIndex, Signed(fields.actor_index), p);
  p = PutVarintField(kItemEnvId, Signed(fields.env_id), p);
  out->ends.push_back(begin + entry_bytes);
}

std::string SampleEncoder::ResponseHead(uint64_t request_id) {
  std::string head;
  if (request_id != 0) {
    head.push_back(static_cast<char>(Tag(kResponseRequestId, wire::kVarint)));
    AppendVarint(request_id, &head);
  }
  return head;
}

std::string SampleEncoder::ResponseTail(bool end_of_request) {
  std::string tail;
  if (end_of_request) {
    tail.push_back(
        static_cast<char>(Tag(kResponseEndOfRequest, wire::kVarint)));
    tail.push_back(1);
  }
  return tail;
}

}  // namespace shoal
