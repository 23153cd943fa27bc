#include "actor/eval_round.h"

#include <algorithm>

namespace shoal {

void EvalRound::Start(int64_t version) {
  std::fill(counted_.begin(), counted_.end(), false);
  episodes_ = 0;
  return_sum_ = 0.0;
  version_ = version;
  ++rounds_;
}

bool EvalRound::Record(int env, double episode_return) {
  if (env < 0 || static_cast<size_t>(env) >= counted_.size() || counted_[env]) {
    return false;
  }
  counted_[env] = true;
  ++episodes_;
  return_sum_ += episode_return;
  return true;
}

double EvalRound::mean_return() const {
  return episodes_ == 0 ? 0.0 : return_sum_ / static_cast<double>(episodes_);
}

}  // namespace shoal
