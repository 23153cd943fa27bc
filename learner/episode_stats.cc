#include "learner/episode_stats.h"

#include <algorithm>

namespace shoal {
namespace {

ReturnStats Summarise(int64_t episodes, const std::deque<double>& returns) {
  ReturnStats s;
  s.episodes = episodes;
  s.window_episodes = static_cast<int64_t>(returns.size());
  if (!returns.empty()) {
    double sum = 0.0;
    for (double r : returns) sum += r;
    s.mean_return = sum / static_cast<double>(returns.size());
  }
  return s;
}

}  // namespace

EpisodeStats::EpisodeStats(int window) : window_(std::max(1, window)) {}

void EpisodeStats::Record(const v1::Episode& episode) {
  absl::MutexLock lock(&mu_);
  Window& w = episode.eval() ? eval_ : train_;
  ++w.episodes;
  w.returns.push_back(episode.episode_return());
  if (static_cast<int>(w.returns.size()) > window_) w.returns.pop_front();
  ActorEpisodeStats& actor = actors_[episode.actor_index()];
  ++actor.episodes;
  actor.env_steps = std::max(actor.env_steps, episode.actor_env_steps());
}

EpisodeStatsSnapshot EpisodeStats::Snapshot() const {
  absl::MutexLock lock(&mu_);
  EpisodeStatsSnapshot s;
  s.train = Summarise(train_.episodes, train_.returns);
  s.eval = Summarise(eval_.episodes, eval_.returns);
  s.total_episodes = train_.episodes + eval_.episodes;
  s.actors = actors_;
  for (const auto& [index, actor] : actors_)
    s.total_env_steps += actor.env_steps;
  return s;
}

}  // namespace shoal
