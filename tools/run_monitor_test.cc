#include "tools/run_monitor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

MetricSamples Actor(int64_t env_steps) {
  return ParseMetricsText(
      absl::StrCat("shoal_actor_env_steps_total ", env_steps, "\n"));
}

MetricSamples Eval(int64_t rounds, double mean_return) {
  return ParseMetricsText(absl::StrCat("shoal_actor_eval_rounds_total ", rounds,
                                       "\nshoal_actor_eval_return ",
                                       mean_return, "\n"));
}

TEST(RunMonitorTest, SumsActorsAndStopsAtTheFirstRoundAtTheTarget) {
  StopConfig stop;
  stop.eval_return = 100.0;
  const absl::Time start = absl::UnixEpoch();
  RunMonitor monitor(stop, "", start);

  ClusterMetrics metrics;
  metrics.actors = {Actor(300), Actor(200)};
  metrics.eval = Eval(1, 50.0);
  RunSnapshot s = monitor.Observe(metrics, start + absl::Seconds(2));
  EXPECT_EQ(s.env_steps, 500);
  EXPECT_EQ(monitor.stop_reason(), StopReason::kNone);

  // An actor that does not answer leaves the total where it was.
  metrics.actors = {Actor(400)};
  metrics.eval = Eval(2, 120.0);
  s = monitor.Observe(metrics, start + absl::Seconds(4));
  EXPECT_EQ(s.env_steps, 500);
  EXPECT_EQ(monitor.stop_reason(), StopReason::kEvalReturn);
  EXPECT_TRUE(monitor.target_reached());
  const nlohmann::json summary = monitor.Summary();
  EXPECT_DOUBLE_EQ(summary["seconds_to_target"].get<double>(), 4.0);
  EXPECT_EQ(summary["env_steps_to_target"].get<int64_t>(), 500);
  EXPECT_EQ(summary["eval_rounds"].get<int64_t>(), 2);
}

TEST(RunMonitorTest, AnEnvStepBudgetEndsTheRunWithoutATarget) {
  StopConfig stop;
  stop.env_steps = 1000;
  const absl::Time start = absl::UnixEpoch();
  RunMonitor monitor(stop, "", start);
  ClusterMetrics metrics;
  metrics.actors = {Actor(999)};
  monitor.Observe(metrics, start + absl::Seconds(1));
  EXPECT_EQ(monitor.stop_reason(), StopReason::kNone);
  metrics.actors = {Actor(1000)};
  monitor.Observe(metrics, start + absl::Seconds(2));
  EXPECT_EQ(monitor.stop_reason(), StopReason::kEnvSteps);
  EXPECT_TRUE(monitor.target_reached());  // the budget was the target
}

TEST(BudgetSpentTest, IsTheLargerShareOfTheBudgetsAndAbsentWithoutOne) {
  RunSnapshot s;
  s.elapsed_s = 30;
  s.env_steps = 5000;
  StopConfig stop;
  EXPECT_FALSE(BudgetSpent(stop, s).has_value());
  stop.eval_return = 475.0;
  EXPECT_FALSE(BudgetSpent(stop, s).has_value());
  stop.wall_time_s = 120;
  EXPECT_DOUBLE_EQ(*BudgetSpent(stop, s), 0.25);
  stop.env_steps = 10000;
  EXPECT_DOUBLE_EQ(*BudgetSpent(stop, s), 0.5);
  s.elapsed_s = 500;  // past the budget: a full bar, no more
  EXPECT_DOUBLE_EQ(*BudgetSpent(stop, s), 1.0);
}

TEST(FormatProgressBarTest, DrawsTheBudgetThenCompactFiguresCutToTheWidth) {
  RunSnapshot s;
  s.elapsed_s = 42;
  s.env_steps = 123456;
  s.env_steps_per_s = 2949.6;
  s.learner_steps = 9231;
  s.learner_steps_per_s = 697.2;
  s.eval_return = 276.58;
  s.policy_lag_mean = 53.8;
  s.policy_lag_max = 133;
  s.replay_size = 1500000;
  StopConfig stop;
  stop.wall_time_s = 120;
  const std::string line = FormatProgressBar(stop, s, 10, 0);
  EXPECT_EQ(line,
            "[###.......]  35% 42s eval 276.6 | env 123k 2.9k/s | "
            "learn 9.2k 697/s | lag 54/133 | replay 1.5M");

  const std::string cut = FormatProgressBar(stop, s, 10, 40);
  EXPECT_EQ(cut, line.substr(0, 40));

  // Counts just below a unit round up into it instead of to "1000k".
  s.env_steps = 999950;
  s.env_steps_per_s = 999.6;
  s.learner_steps = 9960;
  EXPECT_THAT(FormatProgressBar(stop, s, 10, 0),
              HasSubstr("env 1.0M 1.0k/s | learn 10k 697/s"));

  stop.wall_time_s = 0;  // no budget: no bar
  s.env_steps = 123456;
  s.env_steps_per_s = 2949.6;
  s.learner_steps = 9231;
  s.eval_return.reset();
  EXPECT_THAT(FormatProgressBar(stop, s, 10, 0),
              StartsWith("42s eval - | env 123k 2.9k/s | learn 9.2k 697/s |"));
}

}  // namespace
}  // namespace shoal
