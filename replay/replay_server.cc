#include "replay/replay_server.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

#include "common/logging.h"
#include "common/quote.h"
#include "common/status_macros.h"
#include "replay/record_file.h"

namespace shoal {
namespace fs = std::filesystem;
namespace {

constexpr char kPrefix[] = "ckpt-";
constexpr char kTempSuffix[] = ".tmp";
constexpr char kRecords[] = "shard.records";
constexpr char kDone[] = "DONE";
constexpr int kFormatVersion = 1;

bool IsCheckpointName(const std::string& name) {
  if (!absl::StartsWith(name, kPrefix) || name.size() != 5 + 20) return false;
  return std::all_of(name.begin() + 5, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

absl::Status FsError(absl::string_view what, const fs::path& path,
                     const std::error_code& ec) {
  return absl::InternalError(
      absl::StrCat(what, " ", path.string(), ": ", ec.message()));
}

}  // namespace

std::vector<std::string> ListCompleteCheckpoints(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (IsCheckpointName(name) && fs::exists(entry.path() / kDone, ec)) {
      found.push_back(entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());  // fixed-width names sort by time
  return found;
}

absl::StatusOr<std::unique_ptr<ReplayServer>> ReplayServer::Create(
    ReplayServerOptions options) {
  if (options.tables.empty()) {
    return absl::InvalidArgumentError(
        "a replay shard needs at least one table");
  }
  if (options.keep_checkpoints < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keep_checkpoints must be >= 1, got ", options.keep_checkpoints));
  }
  absl::flat_hash_set<std::string> names;
  for (const TableOptions& table : options.tables) {
    if (!names.insert(table.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("table name '", table.name, "' is used twice"));
    }
  }
  auto server = std::unique_ptr<ReplayServer>(new ReplayServer(options));
  for (TableOptions table : options.tables) {
    table.shard_index = options.shard_index;
    SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Table> created,
                           Table::Create(std::move(table)));
    server->tables_.push_back(std::move(created));
  }
  if (!options.checkpoint_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.checkpoint_dir, ec);
    if (ec) return FsError("cannot create", options.checkpoint_dir, ec);
    SHOAL_RETURN_IF_ERROR(server->LoadNewestCheckpoint());
  }
  return server;
}

Table* ReplayServer::FindTable(absl::string_view name) const {
  for (const std::unique_ptr<Table>& table : tables_) {
    if (table->name() == name) return table.get();
  }
  return nullptr;
}

absl::Status ReplayServer::LoadNewestCheckpoint() {
  const std::vector<std::string> complete =
      ListCompleteCheckpoints(options_.checkpoint_dir);
  if (complete.empty()) {
    spdlog::info("no checkpoint in {}: starting empty",
                 options_.checkpoint_dir);
    return absl::OkStatus();
  }
  SHOAL_RETURN_IF_ERROR(LoadCheckpoint(complete.back()));
  restored_from_ = complete.back();
  return absl::OkStatus();
}

absl::Status ReplayServer::LoadCheckpoint(const std::string& dir) {
  const std::string path = (fs::path(dir) / kRecords).string();
  SHOAL_ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path));
  v1::CheckpointHeader header;
  SHOAL_RETURN_IF_ERROR(reader.Read(&header));
  if (header.format_version() != kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": format version ", header.format_version(),
                     " is not ", kFormatVersion));
  }
  if (header.shard_index() != options_.shard_index) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": written by shard ", header.shard_index(), ", this is shard ",
        options_.shard_index, " (wrong --checkpoint_dir?)"));
  }
  int64_t total = 0;
  for (int t = 0; t < header.num_tables(); ++t) {
    v1::TableCheckpointHeader table_header;
    SHOAL_RETURN_IF_ERROR(reader.Read(&table_header));
    Table* table = FindTable(table_header.name());
    if (table == nullptr) {
      spdlog::warn(
          "checkpoint {} has table '{}', which the config lacks: "
          "skipping its {} items",
          dir, table_header.name(), table_header.num_items());
      v1::CheckpointItem skipped;
      for (int64_t i = 0; i < table_header.num_items(); ++i) {
        SHOAL_RETURN_IF_ERROR(reader.Read(&skipped));
      }
    } else {
      SHOAL_RETURN_IF_ERROR(table->RestoreCheckpoint(table_header, &reader));
    }
    total += table_header.num_items();
  }
  v1::CheckpointFooter footer;
  SHOAL_RETURN_IF_ERROR(reader.Read(&footer));
  if (footer.total_items() != total) {
    return absl::DataLossError(absl::StrCat(path, ": footer counts ",
                                            footer.total_items(),
                                            " items, records hold ", total));
  }
  spdlog::info("restored checkpoint {} ({} items in {} tables)", dir, total,
               header.num_tables());
  return absl::OkStatus();
}

absl::StatusOr<v1::CheckpointResponse> ReplayServer::Checkpoint() {
  if (options_.checkpoint_dir.empty()) {
    return absl::FailedPreconditionError(
        "this shard has no --checkpoint_dir to checkpoint to");
  }
  absl::MutexLock lock(&checkpoint_mu_);
  // Names must grow even when two checkpoints fall in one millisecond.
  const int64_t now_ms =
      std::max(absl::ToUnixMillis(absl::Now()), last_checkpoint_ms_ + 1);
  last_checkpoint_ms_ = now_ms;
  const std::string name = absl::StrFormat("%s%020d", kPrefix, now_ms);
  const fs::path final_dir = fs::path(options_.checkpoint_dir) / name;
  const fs::path temp_dir =
      fs::path(options_.checkpoint_dir) / (name + kTempSuffix);
  std::error_code ec;
  fs::remove_all(temp_dir, ec);
  fs::create_directories(temp_dir, ec);
  if (ec) return FsError("cannot create", temp_dir, ec);

  SHOAL_ASSIGN_OR_RETURN(RecordWriter writer,
                         RecordWriter::Open((temp_dir / kRecords).string()));
  v1::CheckpointHeader header;
  header.set_format_version(kFormatVersion);
  header.set_shard_index(options_.shard_index);
  header.set_created_unix_ms(now_ms);
  header.set_num_tables(static_cast<int32_t>(tables_.size()));
  SHOAL_RETURN_IF_ERROR(writer.Write(header));
  int64_t total = 0;
  for (const std::unique_ptr<Table>& table : tables_) {
    SHOAL_ASSIGN_OR_RETURN(int64_t written, table->WriteCheckpoint(&writer));
    total += written;
  }
  v1::CheckpointFooter footer;
  footer.set_total_items(total);
  SHOAL_RETURN_IF_ERROR(writer.Write(footer));
  SHOAL_RETURN_IF_ERROR(writer.Close());
  SHOAL_RETURN_IF_ERROR(SyncDirectory(temp_dir.string()));

  fs::rename(temp_dir, final_dir, ec);
  if (ec) return FsError("cannot rename to", final_dir, ec);
  SHOAL_RETURN_IF_ERROR(SyncDirectory(options_.checkpoint_dir));
  SHOAL_ASSIGN_OR_RETURN(RecordWriter done,
                         RecordWriter::Open((final_dir / kDone).string()));
  SHOAL_RETURN_IF_ERROR(done.Close());
  SHOAL_RETURN_IF_ERROR(SyncDirectory(final_dir.string()));
  PruneCheckpoints(final_dir.string());

  v1::CheckpointResponse response;
  response.set_path(final_dir.string());
  response.set_items(total);
  return response;
}

void ReplayServer::PruneCheckpoints(const std::string& keep_newest) {
  std::error_code ec;
  // Leftovers of checkpoints that were killed mid-write.
  for (const fs::directory_entry& entry :
       fs::directory_iterator(options_.checkpoint_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool temp = absl::EndsWith(name, kTempSuffix) &&
                      IsCheckpointName(name.substr(0, name.size() - 4));
    const bool incomplete = IsCheckpointName(name) &&
                            !fs::exists(entry.path() / kDone, ec) &&
                            entry.path().string() != keep_newest;
    if (temp || incomplete) fs::remove_all(entry.path(), ec);
  }
  std::vector<std::string> complete =
      ListCompleteCheckpoints(options_.checkpoint_dir);
  const int excess =
      static_cast<int>(complete.size()) - options_.keep_checkpoints;
  for (int i = 0; i < excess; ++i) fs::remove_all(complete[i], ec);
}

absl::StatusOr<v1::InfoResponse> ReplayServer::Info(
    absl::string_view table) const {
  v1::InfoResponse response;
  response.set_shard_index(options_.shard_index);
  for (const std::unique_ptr<Table>& t : tables_) {
    if (table.empty() || t->name() == table) *response.add_tables() = t->Info();
  }
  if (!table.empty() && response.tables_size() == 0) {
    return absl::NotFoundError(
        absl::StrCat("table: no table named ", Quote(table)));
  }
  return response;
}

absl::Status ReplayServer::Reset(absl::string_view table) {
  if (!table.empty() && FindTable(table) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("table: no table named ", Quote(table)));
  }
  for (const std::unique_ptr<Table>& t : tables_) {
    if (table.empty() || t->name() == table) t->Reset();
  }
  return absl::OkStatus();
}

void ReplayServer::Cancel() {
  for (const std::unique_ptr<Table>& table : tables_) table->Cancel();
}

}  // namespace shoal
