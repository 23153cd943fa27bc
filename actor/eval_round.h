// EvalRound: the evaluation actor's bookkeeping for one round of
// evaluation. A round starts with every env reset; the first episode each
// env finishes counts, later ones (of envs that finished early and
// auto-reset) do not, so a round of K envs is the mean of exactly K
// episodes, all from fresh starts, as in Gymnasium-style `evaluate_policy`.
//
//   EvalRound round(num_envs);
//   round.Start(version);
//   ... after each step, for every env i that finished an episode:
//   if (round.Record(i, episode_return)) report it;
//   if (round.complete()) log round.mean_return();
//
// Thread-compatible.
#ifndef SHOAL_ACTOR_EVAL_ROUND_H_
#define SHOAL_ACTOR_EVAL_ROUND_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace shoal {

class EvalRound {
 public:
  // `num_envs` >= 1 episodes make a round.
  explicit EvalRound(int num_envs) : counted_(num_envs, false) {}

  // Begins a round (the envs were just reset) acting with `version`.
  void Start(int64_t version);
  // True when env `env`'s episode counts: its first in this round.
  bool Record(int env, double episode_return);

  bool complete() const { return episodes_ == counted_.size(); }
  // Mean return of the episodes counted so far; 0 when none.
  double mean_return() const;
  int episodes() const { return static_cast<int>(episodes_); }
  // The policy version when the round started.
  int64_t version() const { return version_; }
  // Rounds started so far.
  int64_t rounds() const { return rounds_; }

 private:
  std::vector<bool> counted_;
  size_t episodes_ = 0;
  double return_sum_ = 0.0;
  int64_t version_ = 0;
  int64_t rounds_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_EVAL_ROUND_H_
