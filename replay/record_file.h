// Length-prefixed protobuf records in a file: each record is a
// little-endian uint32 byte count followed by the serialised message.
// RecordWriter::Close fsyncs, so a closed file is durable.
//
// Thread-compatible: one thread uses a writer or reader at a time.
#ifndef SHOAL_REPLAY_RECORD_FILE_H_
#define SHOAL_REPLAY_RECORD_FILE_H_

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"

namespace shoal {

class RecordWriter {
 public:
  // Creates (truncates) `path`.
  static absl::StatusOr<RecordWriter> Open(const std::string& path);
  RecordWriter(RecordWriter&& other) noexcept;
  RecordWriter& operator=(RecordWriter&&) = delete;
  ~RecordWriter();  // closes without fsync if Close was not called

  absl::Status Write(const google::protobuf::MessageLite& message);
  // Writes a record whose bytes are already serialised.
  absl::Status WriteRaw(const std::string& bytes);
  // Flushes and fsyncs the file, then closes it.
  absl::Status Close();

 private:
  RecordWriter(std::string path, std::FILE* file)
      : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::FILE* file_;
  std::string scratch_;
};

class RecordReader {
 public:
  static absl::StatusOr<RecordReader> Open(const std::string& path);
  RecordReader(RecordReader&& other) noexcept;
  RecordReader& operator=(RecordReader&&) = delete;
  ~RecordReader();

  // Parses the next record into `message`. DATA_LOSS naming the file and
  // offset when the file ends mid-record or the bytes do not parse;
  // OUT_OF_RANGE at a clean end of file.
  absl::Status Read(google::protobuf::MessageLite* message);

 private:
  RecordReader(std::string path, std::FILE* file, int64_t file_bytes)
      : path_(std::move(path)), file_(file), file_bytes_(file_bytes) {}
  std::string path_;
  std::FILE* file_;
  // Size of the file when opened: a record claiming more is corrupt.
  int64_t file_bytes_;
  int64_t offset_ = 0;
  std::string scratch_;
};

// fsyncs the directory `path`, making renames and creations in it durable.
absl::Status SyncDirectory(const std::string& path);

}  // namespace shoal

#endif  // SHOAL_REPLAY_RECORD_FILE_H_
