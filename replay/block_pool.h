// Fixed-size memory blocks carved from 1 MiB chunks, with an intrusive free
// list: items of one table share a size when its signature has no wildcard
// extent, so they are stored contiguously with no per-item malloc header.
//
// Not thread-safe: the owning table calls it under its own mutex. Memory is
// returned to the system only when the pool is destroyed; freed blocks are
// reused first, so a table's footprint stays at its high-water mark.
#ifndef SHOAL_REPLAY_BLOCK_POOL_H_
#define SHOAL_REPLAY_BLOCK_POOL_H_

#include <cstddef>
#include <memory>
#include <vector>

namespace shoal {

class BlockPool {
 public:
  // REQUIRES: block_size > 0.
  explicit BlockPool(size_t block_size);

  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A block of block_size() bytes, aligned to 8. O(1) amortised.
  char* Allocate();
  // REQUIRES: `block` came from this pool's Allocate and is not free. O(1).
  void Free(char* block);

  size_t block_size() const { return block_size_; }

 private:
  const size_t block_size_;   // rounded up to a multiple of 8
  const size_t chunk_bytes_;  // >= 1 MiB, a whole number of blocks
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t next_in_chunk_ = 0;   // bytes used in chunks_.back()
  char* free_list_ = nullptr;  // first free block; each holds the next
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_BLOCK_POOL_H_
