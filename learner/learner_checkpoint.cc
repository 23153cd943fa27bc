#include "learner/learner_checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include <fcntl.h>
#include <unistd.h>

namespace shoal {
namespace fs = std::filesystem;
namespace {

constexpr char kPrefix[] = "ckpt-";
constexpr size_t kDigits = 20;
constexpr char kTempSuffix[] = ".tmp";
constexpr char kAlgorithmFile[] = "algorithm.pt";
constexpr char kMetaFile[] = "learner.meta";
constexpr char kDone[] = "DONE";

bool IsCheckpointName(const std::string& name) {
  const size_t prefix = std::strlen(kPrefix);
  if (!absl::StartsWith(name, kPrefix) || name.size() != prefix + kDigits) {
    return false;
  }
  return std::all_of(name.begin() + prefix, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// fsync of a file or a directory.
absl::Status SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync", path);
  return absl::OkStatus();
}

absl::Status WriteSyncedFile(const std::string& path,
                             absl::string_view contents) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) return ErrnoError("cannot write", path);
  }
  return SyncPath(path);
}

}  // namespace

absl::StatusOr<LearnerCheckpointState> ReadLearnerMeta(const std::string& dir) {
  const std::string path = (fs::path(dir) / kMetaFile).string();
  std::ifstream in(path);
  if (!in) return absl::DataLossError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  LearnerCheckpointState state;
  state.path = dir;
  bool have_step = false, have_version = false;
  for (absl::string_view line :
       absl::StrSplit(buffer.str(), '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    int64_t value = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &value) || value < 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": malformed line '", line, "'"));
    }
    if (parts[0] == "step") {
      state.step = value;
      have_step = true;
    } else if (parts[0] == "version") {
      state.version = value;
      have_version = true;
    }
  }
  if (!have_step || !have_version) {
    return absl::DataLossError(
        absl::StrCat(path, ": needs both 'step' and 'version'"));
  }
  return state;
}

absl::StatusOr<std::unique_ptr<LearnerCheckpointer>>
LearnerCheckpointer::Create(LearnerCheckpointOptions options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("checkpoint dir must not be empty");
  }
  if (options.keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoints kept must be >= 1, got ", options.keep));
  }
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create checkpoint dir ",
                                            options.dir, ": ", ec.message()));
  }
  return std::unique_ptr<LearnerCheckpointer>(
      new LearnerCheckpointer(std::move(options)));
}

std::vector<std::string> LearnerCheckpointer::ListComplete() const {
  std::vector<std::string> found;
  std::error_code ec;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(options_.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (IsCheckpointName(name) && fs::exists(entry.path() / kDone, ec)) {
      found.push_back(entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());  // fixed width: sorts by step
  return found;
}

absl::StatusOr<std::string> LearnerCheckpointer::Save(Algorithm& algorithm,
                                                      int64_t version) {
  const int64_t step = algorithm.step();
  const std::string name = absl::StrFormat("%s%020d", kPrefix, step);
  const fs::path final_dir = fs::path(options_.dir) / name;
  std::error_code ec;
  if (fs::exists(final_dir / kDone, ec)) return final_dir.string();
  const fs::path temp_dir = fs::path(options_.dir) / (name + kTempSuffix);
  fs::remove_all(temp_dir, ec);
  fs::remove_all(final_dir, ec);  // an incomplete one of the same step
  fs::create_directories(temp_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", temp_dir.string(), ": ", ec.message()));
  }
  const std::string algorithm_file = (temp_dir / kAlgorithmFile).string();
  SHOAL_RETURN_IF_ERROR(algorithm.Save(algorithm_file));
  SHOAL_RETURN_IF_ERROR(SyncPath(algorithm_file));
  SHOAL_RETURN_IF_ERROR(WriteSyncedFile(
      (temp_dir / kMetaFile).string(),
      absl::StrCat("step ", step, "\nversion ", version, "\n")));
  SHOAL_RETURN_IF_ERROR(SyncPath(temp_dir.string()));
  fs::rename(temp_dir, final_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(
        "cannot rename to ", final_dir.string(), ": ", ec.message()));
  }
  SHOAL_RETURN_IF_ERROR(SyncPath(options_.dir));
  SHOAL_RETURN_IF_ERROR(WriteSyncedFile((final_dir / kDone).string(), ""));
  SHOAL_RETURN_IF_ERROR(SyncPath(final_dir.string()));
  Prune();
  return final_dir.string();
}

void LearnerCheckpointer::Prune() const {
  std::error_code ec;
  std::vector<std::string> complete = ListComplete();
  const std::string newest = complete.empty() ? "" : complete.back();
  // Debris of saves that were killed mid-write (older than the newest).
  for (const fs::directory_entry& entry :
       fs::directory_iterator(options_.dir, ec)) {
    const std::string path = entry.path().string();
    const std::string name = entry.path().filename().string();
    const bool temp =
        absl::EndsWith(name, kTempSuffix) &&
        IsCheckpointName(name.substr(0, name.size() - strlen(kTempSuffix)));
    const bool incomplete =
        IsCheckpointName(name) && !fs::exists(entry.path() / kDone, ec);
    if ((temp || incomplete) && path < newest) fs::remove_all(path, ec);
  }
  const int excess = static_cast<int>(complete.size()) - options_.keep;
  for (int i = 0; i < excess; ++i) fs::remove_all(complete[i], ec);
}

absl::StatusOr<std::optional<LearnerCheckpointState>>
LearnerCheckpointer::Restore(const AlgorithmFactory& make_algorithm,
                             std::unique_ptr<Algorithm>* algorithm) {
  std::error_code ec;
  std::vector<std::string> candidates;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(options_.dir, ec)) {
    if (IsCheckpointName(entry.path().filename().string())) {
      candidates.push_back(entry.path().string());
    }
  }
  std::sort(candidates.rbegin(), candidates.rend());  // newest first
  for (const std::string& dir : candidates) {
    if (!fs::exists(fs::path(dir) / kDone, ec)) {
      spdlog::warn("skipping checkpoint {}: incomplete (no {} marker)", dir,
                   kDone);
      continue;
    }
    absl::StatusOr<LearnerCheckpointState> state = ReadLearnerMeta(dir);
    if (!state.ok()) {
      spdlog::warn("skipping checkpoint {}: {}", dir,
                   state.status().ToString());
      continue;
    }
    SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Algorithm> fresh, make_algorithm());
    absl::Status loaded =
        fresh->Load((fs::path(dir) / kAlgorithmFile).string());
    if (loaded.ok() && fresh->step() != state->step) {
      loaded = absl::DataLossError(absl::StrCat(
          "algorithm step ", fresh->step(), " != metadata step ", state->step));
    }
    if (!loaded.ok()) {
      spdlog::warn("skipping checkpoint {}: {}", dir, loaded.ToString());
      continue;
    }
    *algorithm = std::move(fresh);
    return std::optional<LearnerCheckpointState>(*std::move(state));
  }
  return std::optional<LearnerCheckpointState>();
}

}  // namespace shoal
