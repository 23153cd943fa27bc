// LearnerCheckpointer: the learner's checkpoints, one directory each.
//
//   <dir>/ckpt-<20-digit learner step>/
//       algorithm.pt   Algorithm::Save (networks, optimisers, step, RNG)
//       learner.meta   "step <n>\nversion <v>\n" (v = published version)
//       DONE           written last: only a directory with DONE is complete
//
// Save writes into `ckpt-<step>.tmp`, fsyncs every file and the directory,
// renames it to its final name, fsyncs the parent and then writes DONE, so a
// process killed at any point leaves the previous complete checkpoint (and
// maybe debris that the next Save removes). The newest `keep` complete
// checkpoints are kept.
//
// Restore loads the newest complete checkpoint into a fresh algorithm from
// `make_algorithm`: a checkpoint without DONE, with bad metadata, or whose
// Load fails is skipped with a warning (never half-loaded: the failed
// algorithm is thrown away) and the next older one is tried.
//
//   SHOAL_ASSIGN_OR_RETURN(auto ckpt, LearnerCheckpointer::Create({dir}));
//   SHOAL_ASSIGN_OR_RETURN(std::optional<LearnerCheckpointState> restored,
//                          ckpt->Restore(make_algorithm, &algorithm));
//   SHOAL_ASSIGN_OR_RETURN(std::string path, ckpt->Save(*algorithm, version));
//
// Thread-compatible: one thread saves or restores at a time, and the
// algorithm is not updated meanwhile.
#ifndef SHOAL_LEARNER_LEARNER_CHECKPOINT_H_
#define SHOAL_LEARNER_LEARNER_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "learner/algorithms/algorithm.h"

namespace shoal {

// What a checkpoint records besides the algorithm.
struct LearnerCheckpointState {
  int64_t step = 0;     // Algorithm::step() when saved.
  int64_t version = 0;  // newest published parameter version.
  std::string path;     // the checkpoint directory.
};

struct LearnerCheckpointOptions {
  std::string dir;  // created when missing; required.
  int keep = 2;     // complete checkpoints kept; >= 1.
};

using AlgorithmFactory =
    std::function<absl::StatusOr<std::unique_ptr<Algorithm>>()>;

class LearnerCheckpointer {
 public:
  // Creates options.dir. INVALID_ARGUMENT for an empty dir or keep < 1,
  // INTERNAL naming the dir when it cannot be created.
  static absl::StatusOr<std::unique_ptr<LearnerCheckpointer>> Create(
      LearnerCheckpointOptions options);

  LearnerCheckpointer(const LearnerCheckpointer&) = delete;
  LearnerCheckpointer& operator=(const LearnerCheckpointer&) = delete;

  // Writes `algorithm` at its step() with `version` (class comment) and
  // prunes old ones. A complete checkpoint of the same step is kept as it
  // is. Returns the checkpoint directory; INTERNAL naming the path on I/O
  // errors (then no new complete checkpoint exists).
  absl::StatusOr<std::string> Save(Algorithm& algorithm, int64_t version);

  // Loads the newest loadable complete checkpoint into a new algorithm from
  // `make_algorithm` and moves it into `*algorithm`; returns its state.
  // nullopt (and `*algorithm` untouched) when there is none. Errors only
  // when `make_algorithm` fails.
  absl::StatusOr<std::optional<LearnerCheckpointState>> Restore(
      const AlgorithmFactory& make_algorithm,
      std::unique_ptr<Algorithm>* algorithm);

  // Complete checkpoint directories (with DONE), oldest first.
  std::vector<std::string> ListComplete() const;

  const std::string& dir() const { return options_.dir; }

 private:
  explicit LearnerCheckpointer(LearnerCheckpointOptions options)
      : options_(std::move(options)) {}
  void Prune() const;

  const LearnerCheckpointOptions options_;
};

// Reads a learner.meta file; DATA_LOSS naming it when malformed.
absl::StatusOr<LearnerCheckpointState> ReadLearnerMeta(const std::string& dir);

}  // namespace shoal

#endif  // SHOAL_LEARNER_LEARNER_CHECKPOINT_H_
