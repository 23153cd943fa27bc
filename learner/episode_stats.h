// EpisodeStats: what the learner logs about the actors' finished episodes.
// Keeps a running mean of the last `window` returns, separately for
// training and evaluation actors, and per actor the episode count and the
// newest env-step count it reported (the max of actor_env_steps seen).
//
//   EpisodeStats stats(/*window=*/100, /*max_actors=*/4096);
//   stats.Record(episode);  // from LearnerServiceImpl::ReportEpisodes
//   EpisodeStatsSnapshot s = stats.Snapshot();
//   spdlog::info("return {:.1f} over {} episodes", s.train.mean_return,
//                s.train.window_episodes);
//
// Bounded: at most `max_actors` actor indices are tracked. A report from
// an untracked index when that many are tracked evicts the index that
// reported least recently, so hostile indices cost O(max_actors) memory,
// never more. The learner sizes max_actors to the configured actor count,
// so real actors are never evicted. total_env_steps grows by each tracked
// actor's increase of its max; an evicted actor that comes back counts
// again from 0. Every sum saturates at INT64_MAX instead of overflowing.
//
// Does not validate: the service records only episodes it validated.
// Thread-safe.
#ifndef SHOAL_LEARNER_EPISODE_STATS_H_
#define SHOAL_LEARNER_EPISODE_STATS_H_

#include <cstdint>
#include <deque>
#include <list>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shoal/v1/learner.pb.h"

namespace shoal {

// Returns of one kind of actor (training or evaluation).
struct ReturnStats {
  // Episodes recorded over the stats' life.
  int64_t episodes = 0;
  // Mean return over the last min(episodes, window) of them; 0 when none.
  double mean_return = 0.0;
  int64_t window_episodes = 0;
};

// Per actor index.
struct ActorEpisodeStats {
  int64_t episodes = 0;
  // Max actor_env_steps reported.
  int64_t env_steps = 0;
};

struct EpisodeStatsSnapshot {
  ReturnStats train;
  ReturnStats eval;
  int64_t total_episodes = 0;
  // Sum over actors of the growth of their env_steps (see above).
  int64_t total_env_steps = 0;
  // The tracked actors, at most max_actors of them.
  std::map<int32_t, ActorEpisodeStats> actors;
  // Actor indices evicted to make room, over the stats' life.
  int64_t evicted_actors = 0;
};

class EpisodeStats {
 public:
  // Actors tracked unless the caller says otherwise.
  static constexpr int kDefaultMaxActors = 4096;

  // `window` >= 1 returns are averaged and `max_actors` >= 1 indices are
  // tracked (smaller values count as 1).
  explicit EpisodeStats(int window, int max_actors = kDefaultMaxActors);

  EpisodeStats(const EpisodeStats&) = delete;
  EpisodeStats& operator=(const EpisodeStats&) = delete;

  // O(1) amortised, plus O(log actors).
  void Record(const v1::Episode& episode) ABSL_LOCKS_EXCLUDED(mu_);

  // A consistent copy. O(window + actors).
  EpisodeStatsSnapshot Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Window {
    int64_t episodes = 0;
    std::deque<double> returns;  // the newest `window_` returns
  };
  struct Tracked {
    ActorEpisodeStats stats;
    std::list<int32_t>::iterator recency;  // its place in recency_
  };

  // Constant after construction.
  const int window_;
  const int max_actors_;

  mutable absl::Mutex mu_;
  Window train_ ABSL_GUARDED_BY(mu_);
  Window eval_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, Tracked> actors_ ABSL_GUARDED_BY(mu_);
  // The keys of actors_, most recently reporting first.
  std::list<int32_t> recency_ ABSL_GUARDED_BY(mu_);
  int64_t total_env_steps_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t evicted_actors_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_EPISODE_STATS_H_
