#include "replay/block_pool.h"

#include <algorithm>
#include <cstring>

namespace shoal {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

size_t RoundUp8(size_t n) { return (n + 7) & ~size_t{7}; }

}  // namespace

BlockPool::BlockPool(size_t block_size)
    : block_size_(RoundUp8(std::max<size_t>(block_size, sizeof(char*)))),
      chunk_bytes_(std::max(kChunkBytes, block_size_) / block_size_ *
                   block_size_) {}

char* BlockPool::Allocate() {
  if (free_list_ != nullptr) {
    char* block = free_list_;
    std::memcpy(&free_list_, block, sizeof(char*));
    return block;
  }
  if (chunks_.empty() || next_in_chunk_ + block_size_ > chunk_bytes_) {
    // new char[] leaves the pages untouched until blocks are written.
    chunks_.emplace_back(new char[chunk_bytes_]);
    next_in_chunk_ = 0;
  }
  char* block = chunks_.back().get() + next_in_chunk_;
  next_in_chunk_ += block_size_;
  return block;
}

void BlockPool::Free(char* block) {
  std::memcpy(block, &free_list_, sizeof(char*));
  free_list_ = block;
}

}  // namespace shoal
