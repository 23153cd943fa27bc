#include "learner/episode_stats.h"

#include <algorithm>
#include <limits>

namespace shoal {
namespace {

ReturnStats Summarise(int64_t episodes, const std::deque<double>& returns) {
  ReturnStats s;
  s.episodes = episodes;
  s.window_episodes = static_cast<int64_t>(returns.size());
  // Summing r / n keeps the mean finite for any finite returns.
  const double n = static_cast<double>(returns.size());
  for (double r : returns) s.mean_return += r / n;
  return s;
}

// a + b for a, b >= 0, saturating at INT64_MAX.
int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b
             ? std::numeric_limits<int64_t>::max()
             : a + b;
}

}  // namespace

EpisodeStats::EpisodeStats(int window, int max_actors)
    : window_(std::max(1, window)), max_actors_(std::max(1, max_actors)) {}

void EpisodeStats::Record(const v1::Episode& episode) {
  absl::MutexLock lock(&mu_);
  Window& w = episode.eval() ? eval_ : train_;
  w.episodes = SaturatingAdd(w.episodes, 1);
  w.returns.push_back(episode.episode_return());
  if (static_cast<int>(w.returns.size()) > window_) w.returns.pop_front();

  auto it = actors_.find(episode.actor_index());
  if (it != actors_.end()) {
    recency_.splice(recency_.begin(), recency_, it->second.recency);
  } else {
    if (static_cast<int>(actors_.size()) >= max_actors_) {
      actors_.erase(recency_.back());
      recency_.pop_back();
      ++evicted_actors_;
    }
    recency_.push_front(episode.actor_index());
    it = actors_.emplace(episode.actor_index(), Tracked{{}, recency_.begin()})
             .first;
  }
  ActorEpisodeStats& actor = it->second.stats;
  actor.episodes = SaturatingAdd(actor.episodes, 1);
  if (episode.actor_env_steps() > actor.env_steps) {
    total_env_steps_ = SaturatingAdd(
        total_env_steps_, episode.actor_env_steps() - actor.env_steps);
    actor.env_steps = episode.actor_env_steps();
  }
}

EpisodeStatsSnapshot EpisodeStats::Snapshot() const {
  absl::MutexLock lock(&mu_);
  EpisodeStatsSnapshot s;
  s.train = Summarise(train_.episodes, train_.returns);
  s.eval = Summarise(eval_.episodes, eval_.returns);
  s.total_episodes = SaturatingAdd(train_.episodes, eval_.episodes);
  s.total_env_steps = total_env_steps_;
  for (const auto& [index, tracked] : actors_) {
    s.actors.emplace_hint(s.actors.end(), index, tracked.stats);
  }
  s.evicted_actors = evicted_actors_;
  return s;
}

}  // namespace shoal
