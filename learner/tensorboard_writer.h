// TensorBoardWriter: scalar summaries in TensorBoard's event-file format,
// written natively (no TensorFlow, no protobuf schema).
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<TensorBoardWriter> tb,
//                          TensorBoardWriter::Create("/runs/exp1"));
//   SHOAL_RETURN_IF_ERROR(tb->WriteScalar("loss", /*step=*/10, 0.5));
//   SHOAL_RETURN_IF_ERROR(tb->Flush());
//
// The file is `<logdir>/events.out.tfevents.<unix_s>.<hostname>.<pid>.<n>`
// (TensorBoard's own pattern; n counts the writers this process opened),
// always a new file: it is created exclusively, never appended to, so a
// learner restarted within the same second on the same logdir (even with a
// reused pid) starts a file of its own. It is a sequence
// of TFRecords: uint64 length (little endian), uint32 masked CRC32C of those
// 8 bytes, the data, uint32 masked CRC32C of the data. Each record's data is
// a serialised tensorflow `Event` {double wall_time = 1; int64 step = 2;
// string file_version = 3 | Summary summary = 5}, Summary {repeated Value
// value = 1}, Value {string tag = 1; float simple_value = 2}, hand-encoded
// in protobuf wire format. The first record has file_version
// "brain.Event:2".
//
// Thread-compatible: one thread writes at a time.
#ifndef SHOAL_LEARNER_TENSORBOARD_WRITER_H_
#define SHOAL_LEARNER_TENSORBOARD_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace shoal {

// CRC32C (Castagnoli, reflected polynomial 0x82f63b78) of `data`.
// Table-driven, O(size).
uint32_t Crc32c(absl::string_view data);

// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t MaskedCrc32c(absl::string_view data);

// The serialised Event with one scalar per entry of `values` (one Summary).
std::string EncodeScalarEvent(
    double wall_time, int64_t step,
    const std::vector<std::pair<std::string, float>>& values);

// The serialised Event {wall_time, file_version}.
std::string EncodeFileVersionEvent(double wall_time,
                                   absl::string_view file_version);

// `data` framed as one TFRecord.
std::string FrameRecord(absl::string_view data);

class TensorBoardWriter {
 public:
  // Creates `logdir` if needed and opens a new event file in it, whose
  // first record is the file_version event. INTERNAL naming the path when
  // it cannot.
  static absl::StatusOr<std::unique_ptr<TensorBoardWriter>> Create(
      const std::string& logdir);
  ~TensorBoardWriter();

  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Appends one Event holding every (tag, value) of `values` at `step`.
  // Buffered: Flush() makes it visible. INTERNAL on a write error.
  absl::Status WriteScalars(
      int64_t step, const std::vector<std::pair<std::string, float>>& values,
      absl::Time wall_time = absl::Now());
  absl::Status WriteScalar(absl::string_view tag, int64_t step, float value,
                           absl::Time wall_time = absl::Now());

  absl::Status Flush();

  // The event file written.
  const std::string& path() const { return path_; }

 private:
  TensorBoardWriter(std::string path, std::FILE* file)
      : path_(std::move(path)), file_(file) {}
  absl::Status WriteRecord(absl::string_view data);

  const std::string path_;
  std::FILE* const file_;  // owned
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_TENSORBOARD_WRITER_H_
