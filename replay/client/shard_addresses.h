// The replay shards a client talks to, and how keys and writers map onto
// them.
//
// `replay.addresses` is either a "host:port,host:port" list (position i is
// shard i) or ONE "host:port" whose host is a DNS name resolving to several
// addresses (a Kubernetes headless service): each address is then a shard,
// sorted for determinism. A name that resolves to IPv4 addresses uses only
// those (so "localhost:7000" is one shard, not 127.0.0.1 plus ::1).
//
// Thread-safe (free functions).
#ifndef SHOAL_REPLAY_CLIENT_SHARD_ADDRESSES_H_
#define SHOAL_REPLAY_CLIENT_SHARD_ADDRESSES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoal {

struct ShardAddresses {
  // "host:port" of each shard.
  std::vector<std::string> addresses;
  // True when one DNS name was resolved: positions then need not match the
  // shards' own indices (ShardedSampler orders them by Info().shard_index).
  bool resolved = false;
};

// Parses or resolves `addresses`. INVALID_ARGUMENT for an empty list, an
// empty entry or an entry without ":port"; NOT_FOUND when a name does not
// resolve (getaddrinfo's message included). A single IP literal, or a name
// resolving to one address, is one shard. Blocks on DNS.
absl::StatusOr<ShardAddresses> ResolveShardAddresses(
    absl::string_view addresses);

// Index of the shard that owns `key`: its top 16 bits.
inline int ShardOfKey(uint64_t key) { return static_cast<int>(key >> 48); }

// splitmix64 of `x`: a stable hash (the same on every platform and run)
// that spreads consecutive writer ids over shards.
uint64_t StableHash(uint64_t x);

}  // namespace shoal

#endif  // SHOAL_REPLAY_CLIENT_SHARD_ADDRESSES_H_
