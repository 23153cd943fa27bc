// EpisodeStats alone: return windows, per-actor counts, the bound on
// tracked actors (least recently reporting evicted first) and sums that
// saturate instead of overflowing.
#include "learner/episode_stats.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace shoal {
namespace {

v1::Episode MakeEpisode(int32_t actor, double ret, int64_t env_steps,
                        bool eval = false) {
  v1::Episode e;
  e.set_actor_index(actor);
  e.set_episode_return(ret);
  e.set_length(1);
  e.set_actor_env_steps(env_steps);
  e.set_eval(eval);
  return e;
}

TEST(EpisodeStatsTest, AveragesTheLastWindowOfReturnsPerKind) {
  EpisodeStats stats(/*window=*/2);
  stats.Record(MakeEpisode(0, 1.0, /*env_steps=*/10));
  stats.Record(MakeEpisode(0, 2.0, /*env_steps=*/20));
  stats.Record(MakeEpisode(1, 4.0, /*env_steps=*/5));
  stats.Record(MakeEpisode(0, 50.0, /*env_steps=*/30, /*eval=*/true));
  const EpisodeStatsSnapshot s = stats.Snapshot();
  EXPECT_EQ(s.train.episodes, 3);
  EXPECT_EQ(s.train.window_episodes, 2);
  EXPECT_DOUBLE_EQ(s.train.mean_return, 3.0);
  EXPECT_DOUBLE_EQ(s.eval.mean_return, 50.0);
  EXPECT_EQ(s.total_episodes, 4);
  EXPECT_EQ(s.actors.at(0).episodes, 3);
  EXPECT_EQ(s.actors.at(0).env_steps, 30);
  EXPECT_EQ(s.total_env_steps, 30 + 5);
}

TEST(EpisodeStatsTest, ManyDistinctActorsKeepTheMapBounded) {
  EpisodeStats stats(/*window=*/10, /*max_actors=*/8);
  for (int32_t i = 0; i < 10000; ++i) stats.Record(MakeEpisode(i, 1.0, 1));
  const EpisodeStatsSnapshot s = stats.Snapshot();
  EXPECT_EQ(s.actors.size(), 8u);
  EXPECT_EQ(s.evicted_actors, 10000 - 8);
  EXPECT_EQ(s.actors.begin()->first, 10000 - 8);  // the newest eight
  EXPECT_EQ(s.total_episodes, 10000);
}

TEST(EpisodeStatsTest, EvictsTheActorThatReportedLeastRecently) {
  EpisodeStats stats(/*window=*/10, /*max_actors=*/3);
  stats.Record(MakeEpisode(0, 1.0, 1));
  stats.Record(MakeEpisode(1, 1.0, 1));
  stats.Record(MakeEpisode(2, 1.0, 1));
  stats.Record(MakeEpisode(0, 1.0, 2));  // 0 is now the most recent
  stats.Record(MakeEpisode(3, 1.0, 1));  // evicts 1
  const EpisodeStatsSnapshot s = stats.Snapshot();
  ASSERT_EQ(s.actors.size(), 3u);
  EXPECT_EQ(s.actors.count(1), 0u);
  EXPECT_EQ(s.actors.at(0).episodes, 2);
  EXPECT_EQ(s.evicted_actors, 1);
}

TEST(EpisodeStatsTest, TotalEnvStepsSaturatesInsteadOfOverflowing) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EpisodeStats stats(/*window=*/10, /*max_actors=*/2);
  for (int32_t i = 0; i < 100; ++i) {
    stats.Record(MakeEpisode(i, 1.0, kMax - i));
  }
  EXPECT_EQ(stats.Snapshot().total_env_steps, kMax);
}

TEST(EpisodeStatsTest, MeanOfHugeFiniteReturnsStaysFinite) {
  constexpr double kBig = std::numeric_limits<double>::max();
  EpisodeStats stats(/*window=*/4);
  for (int i = 0; i < 4; ++i) stats.Record(MakeEpisode(0, kBig, 1));
  EXPECT_DOUBLE_EQ(stats.Snapshot().train.mean_return, kBig);
}

}  // namespace
}  // namespace shoal
