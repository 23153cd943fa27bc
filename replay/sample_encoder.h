// SampleEncoder: writes sampled items straight into the wire bytes of a
// v1::SampleResponse, so a sample is served without building protobuf
// messages. The output parses as the SampleResponse the message path
// (Table::Sample) would build, byte for byte: fields in number order,
// proto3 defaults left out, exactly as protobuf serialises them.
//
// A table stores an item's columns in one of two layouts (see Table):
//   fixed     the columns' raw bytes back to back, in signature order; every
//             column's dtype and shape is the signature's, so the Tensor
//             framing around each column is precomputed once here;
//   variable  a serialised v1::Item holding only its columns, copied as is.
//
// Thread-compatible: const methods may be called concurrently.
#ifndef SHOAL_REPLAY_SAMPLE_ENCODER_H_
#define SHOAL_REPLAY_SAMPLE_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "shoal/v1/replay.pb.h"

namespace shoal {

// Protobuf wire-format primitives (developers.google.com/protocol-buffers/
// docs/encoding). Every field number used here is < 16: one-byte tags.
namespace wire {

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2 };

inline constexpr uint8_t Tag(int field, WireType type) {
  return static_cast<uint8_t>((field << 3) | type);
}

// Bytes of `v` as a varint: 1..10.
inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes `v` as a varint at `p`; returns the end.
inline char* WriteVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Writes `v` little-endian at `p`; returns the end.
inline char* WriteFixed64(uint64_t v, char* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
  return p + 8;
}

// Reads a varint from [p, end) into *v; returns the end of it, or nullptr
// when it is cut short or longer than 10 bytes.
const char* ReadVarint(const char* p, const char* end, uint64_t* v);

}  // namespace wire

// The metadata of one sampled item, as SampledItem and Item carry it.
struct SampledItemFields {
  uint64_t key = 0;
  double priority = 0.0;
  double probability = 0.0;
  int64_t table_size = 0;
  int32_t times_sampled = 0;
  int64_t policy_version = 0;
  int32_t actor_index = 0;
  int32_t env_id = 0;
};

// Sampled items encoded back to back, each a complete `SampleResponse.items`
// entry (tag, length, SampledItem); ends[i] is the offset just past item i.
struct EncodedSamples {
  std::string bytes;
  std::vector<size_t> ends;

  int size() const { return static_cast<int>(ends.size()); }
};

class SampleEncoder {
 public:
  // For items of table `table`. `fixed`: the fixed layout, which REQUIRES
  // every extent of `signature` to be >= 0.
  SampleEncoder(absl::string_view table,
                const std::vector<v1::TensorSpec>& signature, bool fixed);

  // Appends one SampledItem with `fields` and columns `columns` (in the
  // table's layout) to `out`. O(columns bytes).
  void Append(const SampledItemFields& fields, absl::string_view columns,
              EncodedSamples* out) const;

  // An upper bound on what Append adds for an item whose stored columns
  // are `columns_bytes` long (ignored in the fixed layout). O(1).
  size_t MaxAppendedBytes(size_t columns_bytes) const;

  // Bytes per item in the fixed layout (0 for the variable one), framing
  // excluded; for reserving output.
  size_t fixed_columns_bytes() const { return fixed_columns_bytes_; }

  // A SampleResponse is ResponseHead, then some items' bytes, then
  // ResponseTail (its fields in number order; defaults left out).
  static std::string ResponseHead(uint64_t request_id);
  static std::string ResponseTail(bool end_of_request);

 private:
  // One fixed-layout column: its Item.columns framing (tag, length, dtype,
  // shape, data tag and length), then `data_bytes` raw bytes.
  struct Column {
    std::string framing;
    size_t data_bytes;
  };

  // Item.table: tag, length, name; empty for an empty name.
  std::string table_field_;
  bool fixed_;
  std::vector<Column> columns_;
  // Framing plus data of every column (fixed layout).
  size_t fixed_encoded_bytes_ = 0;
  size_t fixed_columns_bytes_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_SAMPLE_ENCODER_H_
