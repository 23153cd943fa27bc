#include "replay/byte_budget.h"

namespace shoal {

bool ByteBudget::Acquire(int64_t bytes, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto fits = [this, bytes]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Fits(bytes); };
  if (!mu_.AwaitWithDeadline(absl::Condition(&fits), deadline)) return false;
  held_ += bytes;
  return true;
}

void ByteBudget::Take(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  held_ += bytes;
}

void ByteBudget::Release(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  held_ -= bytes;
}

int64_t ByteBudget::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

}  // namespace shoal
