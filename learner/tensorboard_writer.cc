#include "learner/tensorboard_writer.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include <unistd.h>

namespace shoal {
namespace {

constexpr uint32_t kCastagnoli = 0x82f63b78u;  // reflected polynomial
constexpr uint32_t kMaskDelta = 0xa282ead8u;
constexpr char kFileVersion[] = "brain.Event:2";

// Protobuf wire types.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int k = 0; k < 8; ++k) {
      crc = (crc & 1u) ? (crc >> 1) ^ kCastagnoli : crc >> 1;
    }
    table[i] = crc;
  }
  return table;
}

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutTag(int field, int wire_type, std::string* out) {
  PutVarint(static_cast<uint64_t>(field) << 3 | wire_type, out);
}

void PutFixed(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

void PutBytesField(int field, absl::string_view bytes, std::string* out) {
  PutTag(field, kLengthDelimited, out);
  PutVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// Event fields 1 (wall_time) and 2 (step).
std::string EventHeader(double wall_time, int64_t step) {
  std::string out;
  uint64_t bits;
  std::memcpy(&bits, &wall_time, sizeof(bits));
  PutTag(1, kFixed64, &out);
  PutFixed(bits, 8, &out);
  if (step != 0) {
    PutTag(2, kVarint, &out);
    PutVarint(static_cast<uint64_t>(step), &out);
  }
  return out;
}

}  // namespace

uint32_t Crc32c(absl::string_view data) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc = kTable[(crc ^ c) & 0xffu] ^ (crc >> 8);
  }
  return crc ^ 0xffffffffu;
}

uint32_t MaskedCrc32c(absl::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

std::string EncodeScalarEvent(
    double wall_time, int64_t step,
    const std::vector<std::pair<std::string, float>>& values) {
  std::string summary;
  for (const auto& [tag, value] : values) {
    std::string v;
    PutBytesField(1, tag, &v);
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    PutTag(2, kFixed32, &v);
    PutFixed(bits, 4, &v);
    PutBytesField(1, v, &summary);
  }
  std::string out = EventHeader(wall_time, step);
  PutBytesField(5, summary, &out);
  return out;
}

std::string EncodeFileVersionEvent(double wall_time,
                                   absl::string_view file_version) {
  std::string out = EventHeader(wall_time, /*step=*/0);
  PutBytesField(3, file_version, &out);
  return out;
}

std::string FrameRecord(absl::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  PutFixed(data.size(), 8, &out);
  PutFixed(MaskedCrc32c(out), 4, &out);
  out.append(data.data(), data.size());
  PutFixed(MaskedCrc32c(data), 4, &out);
  return out;
}

absl::StatusOr<std::unique_ptr<TensorBoardWriter>> TensorBoardWriter::Create(
    const std::string& logdir) {
  std::error_code ec;
  std::filesystem::create_directories(logdir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create logdir ", logdir, ": ", ec.message()));
  }
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "localhost");
  const absl::Time now = absl::Now();
  // Writers this process opened: the file name's last part.
  static std::atomic<int64_t> opened{0};
  std::string path;
  std::FILE* file = nullptr;
  // "x": created, never opened if it exists (a pid reused within a second).
  for (int attempt = 0; file == nullptr && attempt < 100; ++attempt) {
    path =
        absl::StrCat(logdir, "/events.out.tfevents.", absl::ToUnixSeconds(now),
                     ".", host, ".", getpid(), ".", opened++);
    file = std::fopen(path.c_str(), "wbx");
    if (file == nullptr && errno != EEXIST) break;
  }
  if (file == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<TensorBoardWriter> writer(new TensorBoardWriter(path, file));
  absl::Status status = writer->WriteRecord(EncodeFileVersionEvent(
      absl::ToDoubleSeconds(now - absl::UnixEpoch()), kFileVersion));
  if (status.ok()) status = writer->Flush();
  if (!status.ok()) return status;
  return writer;
}

TensorBoardWriter::~TensorBoardWriter() { std::fclose(file_); }

absl::Status TensorBoardWriter::WriteScalars(
    int64_t step, const std::vector<std::pair<std::string, float>>& values,
    absl::Time wall_time) {
  return WriteRecord(EncodeScalarEvent(
      absl::ToDoubleSeconds(wall_time - absl::UnixEpoch()), step, values));
}

absl::Status TensorBoardWriter::WriteScalar(absl::string_view tag, int64_t step,
                                            float value, absl::Time wall_time) {
  return WriteScalars(step, {{std::string(tag), value}}, wall_time);
}

absl::Status TensorBoardWriter::Flush() {
  if (std::fflush(file_) != 0) {
    return absl::InternalError(
        absl::StrCat("flushing ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status TensorBoardWriter::WriteRecord(absl::string_view data) {
  const std::string record = FrameRecord(data);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    return absl::InternalError(
        absl::StrCat("writing ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace shoal
