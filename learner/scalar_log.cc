#include "learner/scalar_log.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "common/status_macros.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<ScalarLog>> ScalarLog::Create(
    const std::string& logdir) {
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<TensorBoardWriter> tensorboard,
                         TensorBoardWriter::Create(logdir));
  const std::string path = absl::StrCat(logdir, "/scalars.csv");
  std::FILE* csv = std::fopen(path.c_str(), "a");
  if (csv == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  std::fseek(csv, 0, SEEK_END);
  if (std::ftell(csv) == 0) std::fputs("step,wall_time,name,value\n", csv);
  return std::unique_ptr<ScalarLog>(
      new ScalarLog(path, csv, std::move(tensorboard)));
}

ScalarLog::~ScalarLog() { std::fclose(csv_); }

absl::Status ScalarLog::Write(
    int64_t step, absl::Time wall_time,
    const std::vector<std::pair<std::string, double>>& values) {
  const double seconds = absl::ToDoubleSeconds(wall_time - absl::UnixEpoch());
  std::vector<std::pair<std::string, float>> floats;
  floats.reserve(values.size());
  for (const auto& [name, value] : values) {
    absl::FPrintF(csv_, "%d,%.3f,%s,%.9g\n", step, seconds, name, value);
    floats.emplace_back(name, static_cast<float>(value));
  }
  if (std::fflush(csv_) != 0) {
    return absl::InternalError(
        absl::StrCat("writing ", csv_path_, ": ", std::strerror(errno)));
  }
  SHOAL_RETURN_IF_ERROR(tensorboard_->WriteScalars(step, floats, wall_time));
  return tensorboard_->Flush();
}

}  // namespace shoal
