// One replay shard's state: its tables, and checkpoints of all of them to a
// directory. The gRPC layer (ReplayServiceImpl) and tests drive it.
//
// Checkpoints: `<dir>/ckpt-<20-digit unix ms>/shard.records` plus a `DONE`
// marker, written as temp dir -> fsync -> rename -> fsync dir -> DONE, so a
// process killed at any point leaves either the previous complete
// checkpoint or the new one (see proto/shoal/v1/replay_checkpoint.proto).
// On Create the newest complete checkpoint is loaded.
//
// Thread-safe. Tables are created once and never removed.
#ifndef SHOAL_REPLAY_REPLAY_SERVER_H_
#define SHOAL_REPLAY_REPLAY_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "shoal/v1/replay.pb.h"

#include "replay/table.h"

namespace shoal {

struct ReplayServerOptions {
  // Index of this shard; the top 16 bits of its keys.
  int shard_index = 0;
  // The tables, with unique names; at least one.
  std::vector<TableOptions> tables;
  // Where checkpoints go and come from; "" = none.
  std::string checkpoint_dir;
  // Complete checkpoints kept; older ones are deleted. >= 1.
  int keep_checkpoints = 2;
};

class ReplayServer {
 public:
  // Creates the tables and loads the newest complete checkpoint of
  // checkpoint_dir, if any (restored_from() tells which).
  static absl::StatusOr<std::unique_ptr<ReplayServer>> Create(
      ReplayServerOptions options);

  // The table named `name`, or nullptr.
  Table* FindTable(absl::string_view name) const;
  const std::vector<std::unique_ptr<Table>>& tables() const { return tables_; }
  int shard_index() const { return options_.shard_index; }

  // The checkpoint directory loaded at start; "" when none was.
  const std::string& restored_from() const { return restored_from_; }

  // Writes a checkpoint of every table. Inserts and samples go on while it
  // writes; concurrent calls run one after the other. FAILED_PRECONDITION
  // when no checkpoint_dir was given.
  absl::StatusOr<v1::CheckpointResponse> Checkpoint()
      ABSL_LOCKS_EXCLUDED(checkpoint_mu_);

  // Info of one table ("" = all). NOT_FOUND for an unknown name.
  absl::StatusOr<v1::InfoResponse> Info(absl::string_view table) const;

  // Empties one table ("" = all). NOT_FOUND for an unknown name.
  absl::Status Reset(absl::string_view table);

  // Wakes every blocked insert and sample with CANCELLED (shutdown).
  void Cancel();

 private:
  explicit ReplayServer(ReplayServerOptions options)
      : options_(std::move(options)) {}
  absl::Status LoadNewestCheckpoint();
  absl::Status LoadCheckpoint(const std::string& dir);
  void PruneCheckpoints(const std::string& keep_newest);

  // Constant after Create.
  const ReplayServerOptions options_;
  std::vector<std::unique_ptr<Table>> tables_;
  std::string restored_from_;

  // Serialises checkpoints.
  absl::Mutex checkpoint_mu_;
  int64_t last_checkpoint_ms_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
};

// Complete checkpoint directories under `dir`, oldest first.
std::vector<std::string> ListCompleteCheckpoints(const std::string& dir);

}  // namespace shoal

#endif  // SHOAL_REPLAY_REPLAY_SERVER_H_
