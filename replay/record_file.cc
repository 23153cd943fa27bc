#include "replay/record_file.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shoal {
namespace {

// A record longer than this is corruption, not data (protobuf's own cap).
constexpr uint32_t kMaxRecordBytes = uint32_t{1} << 31;

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<RecordWriter> RecordWriter::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return ErrnoError("cannot create", path);
  return RecordWriter(path, file);
}

RecordWriter::RecordWriter(RecordWriter&& other) noexcept
    : path_(std::move(other.path_)),
      file_(std::exchange(other.file_, nullptr)) {}

RecordWriter::~RecordWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status RecordWriter::Write(const google::protobuf::MessageLite& message) {
  scratch_.clear();
  if (!message.AppendToString(&scratch_)) {
    return absl::InternalError(
        absl::StrCat("cannot serialise a record for ", path_));
  }
  return WriteRaw(scratch_);
}

absl::Status RecordWriter::WriteRaw(const std::string& bytes) {
  const auto size = static_cast<uint32_t>(bytes.size());
  if (std::fwrite(&size, sizeof(size), 1, file_) != 1 ||
      (size > 0 && std::fwrite(bytes.data(), size, 1, file_) != 1)) {
    return ErrnoError("cannot write", path_);
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::Close() {
  std::FILE* file = std::exchange(file_, nullptr);
  if (std::fflush(file) != 0 || ::fsync(::fileno(file)) != 0) {
    std::fclose(file);
    return ErrnoError("cannot sync", path_);
  }
  if (std::fclose(file) != 0) return ErrnoError("cannot close", path_);
  return absl::OkStatus();
}

absl::StatusOr<RecordReader> RecordReader::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("no such file: ", path));
    }
    return ErrnoError("cannot open", path);
  }
  struct stat st;
  if (::fstat(::fileno(file), &st) != 0) {
    absl::Status error = ErrnoError("cannot stat", path);
    std::fclose(file);
    return error;
  }
  return RecordReader(path, file, static_cast<int64_t>(st.st_size));
}

RecordReader::RecordReader(RecordReader&& other) noexcept
    : path_(std::move(other.path_)),
      file_(std::exchange(other.file_, nullptr)),
      file_bytes_(other.file_bytes_),
      offset_(other.offset_) {}

RecordReader::~RecordReader() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status RecordReader::Read(google::protobuf::MessageLite* message) {
  uint32_t size;
  const size_t got = std::fread(&size, 1, sizeof(size), file_);
  if (got == 0 && std::feof(file_)) {
    return absl::OutOfRangeError(absl::StrCat("end of ", path_));
  }
  if (got != sizeof(size) || size >= kMaxRecordBytes) {
    return absl::DataLossError(absl::StrCat(
        path_, ": truncated or corrupt record header at offset ", offset_));
  }
  // Checked before allocating: a corrupt length must not cost gigabytes.
  const int64_t left = file_bytes_ - offset_ - int64_t{sizeof(size)};
  if (int64_t{size} > left) {
    return absl::DataLossError(
        absl::StrCat(path_, ": record at offset ", offset_, " claims ", size,
                     " bytes but the file has ", left, " left"));
  }
  scratch_.resize(size);
  if (size > 0 && std::fread(scratch_.data(), size, 1, file_) != 1) {
    return absl::DataLossError(
        absl::StrCat(path_, ": record at offset ", offset_, " is cut short"));
  }
  if (!message->ParseFromString(scratch_)) {
    return absl::DataLossError(
        absl::StrCat(path_, ": record at offset ", offset_, " does not parse"));
  }
  offset_ += sizeof(size) + size;
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("cannot open directory", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot sync directory", path);
  return absl::OkStatus();
}

}  // namespace shoal
