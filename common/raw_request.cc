#include "common/raw_request.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/wire_format_lite.h"

#include "common/quote.h"

namespace shoal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

// Nesting a diagnosis follows at most (protobuf's own recursion limit).
constexpr int kMaxDepth = 100;

// The path and value of the first string field under `bytes` that is not
// UTF-8, if any; nullopt also when the bytes are not a well-formed message
// (then nothing more precise than "does not parse" can be said).
std::optional<std::string> FindBadUtf8(absl::string_view bytes,
                                       const Descriptor& type,
                                       const std::string& path, int depth) {
  if (depth > kMaxDepth) return std::nullopt;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  absl::flat_hash_map<int, int> seen;  // occurrences per repeated field
  while (uint32_t tag = in.ReadTag()) {
    const FieldDescriptor* field =
        type.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool delimited = WireFormatLite::GetTagWireType(tag) ==
                           WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    const bool string_field =
        field != nullptr && field->type() == FieldDescriptor::TYPE_STRING;
    const bool message_field =
        field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE;
    if (!delimited || !(string_field || message_field)) {
      if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;
      continue;
    }
    uint32_t length;
    std::string value;
    if (!in.ReadVarint32(&length) ||
        !in.ReadString(&value, static_cast<int>(length))) {
      return std::nullopt;
    }
    std::string where =
        path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (field->is_repeated()) {
      absl::StrAppend(&where, "[", seen[field->number()]++, "]");
    }
    if (string_field) {
      if (!google::protobuf::internal::IsStructurallyValidUTF8(value)) {
        return absl::StrCat(where, ": not valid UTF-8: ", Quote(value));
      }
    } else if (std::optional<std::string> inner =
                   FindBadUtf8(value, *field->message_type(), where, depth + 1);
               inner.has_value()) {
      return inner;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string DescribeUnparsable(absl::string_view bytes,
                               const Descriptor& type) {
  if (std::optional<std::string> bad =
          FindBadUtf8(bytes, type, std::string(), 0);
      bad.has_value()) {
    return *bad;
  }
  return absl::StrCat("the message does not parse (truncated, or not a ",
                      type.name(), "?)");
}

absl::Status ParseRequest(grpc::ByteBuffer* bytes,
                          google::protobuf::Message* out) {
  grpc::ByteBuffer kept = *bytes;  // Deserialize consumes; slices are shared
  if (grpc::SerializationTraits<google::protobuf::Message>::Deserialize(bytes,
                                                                        out)
          .ok()) {
    return absl::OkStatus();
  }
  std::vector<grpc::Slice> slices;
  std::string flat;
  if (kept.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      flat.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("malformed ", out->GetDescriptor()->name(), ": ",
                   DescribeUnparsable(flat, *out->GetDescriptor())));
}

absl::Status SerializeResponse(const google::protobuf::Message& message,
                               grpc::ByteBuffer* out) {
  bool own_buffer = false;
  return FromGrpcStatus(
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(
          message, out, &own_buffer));
}

}  // namespace shoal
