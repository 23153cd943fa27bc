// Helpers for tests of replay clients: items that carry a unique id, the
// YAML of a shard config for ShardProcess, and reading every item of a
// table back. Not for production use; nothing here is fast.
#ifndef SHOAL_REPLAY_TESTING_TESTING_H_
#define SHOAL_REPLAY_TESTING_TESTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shoal/v1/replay.pb.h"

#include "replay/table.h"

namespace shoal {

// The signature of id items: one int64 scalar column "id".
std::vector<v1::TensorSpec> IdSignature();

// An item of `table` whose only column, "id", holds `id`.
v1::Item MakeIdItem(absl::string_view table, int64_t id, double priority = 1.0);

// The id of an item made by MakeIdItem; INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ItemId(const v1::Item& item);

// A table "ids" of id items that gives back each item exactly once, in
// insertion order: fifo sampler and remover, max_times_sampled 1,
// min_size 1.
TableOptions MakeFifoIdTable(int shard_index);

// An experiment YAML with that table (max_size items) and `shards` replay
// shards, for shoal-replay --config.
std::string FifoIdTableYaml(int shards, int64_t max_size = 100000);

// Reads every item of `table` at `address` over SampleStream, expecting a
// table made by MakeFifoIdTable (so each item comes once): asks Info for
// the size, samples that many and returns their ids, sorted.
absl::StatusOr<std::vector<int64_t>> DrainIds(const std::string& address,
                                              absl::string_view table,
                                              absl::Time deadline);

}  // namespace shoal

#endif  // SHOAL_REPLAY_TESTING_TESTING_H_
