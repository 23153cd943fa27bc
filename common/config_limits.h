// Limits that components enforce on values that come from the experiment
// config. The config decoder checks each one first, so that a file past a
// limit is refused by every binary with one "file:line: key: ..." line
// instead of by the one component that trips on it. Components keep their
// own checks (against these same constants where they can see them).
#ifndef SHOAL_COMMON_CONFIG_LIMITS_H_
#define SHOAL_COMMON_CONFIG_LIMITS_H_

#include <cstdint>

#include "common/tensor_codec.h"

namespace shoal {

// tables[].max_size: a key's slot field has 28 bits (replay/table.h), so
// Table::Create takes at most 2^28 - 1 items.
inline constexpr int64_t kMaxTableSize = (int64_t{1} << 28) - 1;

// tables[].signature: a column with no -1 extent takes a fixed number of
// bytes, and Table::Create refuses one over 2^31 - 1 bytes, or fixed
// columns over that together (a stored item's block sizes are 32-bit).
// A column has at most 64 extents (the tensor codec's rank limit).
inline constexpr int64_t kMaxSignatureBytes = (int64_t{1} << 31) - 1;
inline constexpr int64_t kMaxColumnRank = kMaxTensorRank;

// algorithm.batch_size: one shard may be asked for the whole batch, and a
// SampleRequest may ask for at most ReplayServiceOptions'
// max_samples_per_request (2^16) items.
inline constexpr int64_t kMaxSamplesPerRequest = int64_t{1} << 16;

// actor.num_actors and actor.num_envs (eval.episodes for an evaluation
// actor): items and episode reports carry actor_index and env_id, which the
// replay table stores as uint16 and refuses above 65535.
inline constexpr int64_t kMaxActors = int64_t{1} << 16;
inline constexpr int64_t kMaxEnvsPerActor = int64_t{1} << 16;

// algorithm.n_step (TransitionBuilder::Create) and
// algorithm.impala.unroll_length (UnrollBuilder::Create).
inline constexpr int64_t kMaxNStep = int64_t{1} << 20;
inline constexpr int64_t kMaxUnrollLength = int64_t{1} << 20;

}  // namespace shoal

#endif  // SHOAL_COMMON_CONFIG_LIMITS_H_
