// ScalarLog: the learner's scalars on disk, in two forms under one logdir:
// `scalars.csv` (header "step,wall_time,name,value", one row per scalar,
// appended across restarts) and TensorBoard event files
// (TensorBoardWriter, one Event per Write).
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ScalarLog> log,
//                          ScalarLog::Create("/runs/exp1"));
//   SHOAL_RETURN_IF_ERROR(log->Write(step, absl::Now(), {{"loss", 0.3}}));
//
// Thread-compatible.
#ifndef SHOAL_LEARNER_SCALAR_LOG_H_
#define SHOAL_LEARNER_SCALAR_LOG_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "learner/tensorboard_writer.h"

namespace shoal {

class ScalarLog {
 public:
  // Creates `logdir`, opens (appends to) scalars.csv and a new event file.
  // INTERNAL naming the path on failure.
  static absl::StatusOr<std::unique_ptr<ScalarLog>> Create(
      const std::string& logdir);
  ~ScalarLog();

  ScalarLog(const ScalarLog&) = delete;
  ScalarLog& operator=(const ScalarLog&) = delete;

  // Appends every scalar to both files and flushes them.
  absl::Status Write(int64_t step, absl::Time wall_time,
                     const std::vector<std::pair<std::string, double>>& values);

 private:
  ScalarLog(std::string csv_path, std::FILE* csv,
            std::unique_ptr<TensorBoardWriter> tensorboard)
      : csv_path_(std::move(csv_path)),
        csv_(csv),
        tensorboard_(std::move(tensorboard)) {}

  const std::string csv_path_;
  std::FILE* const csv_;  // owned
  const std::unique_ptr<TensorBoardWriter> tensorboard_;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_SCALAR_LOG_H_
