// RunMonitor: what `shoalctl run` knows about a running experiment. Each
// tick it scrapes every child's /metrics into a RunSnapshot (env steps
// summed over the training actors, learner steps, the evaluation actor's
// latest round, policy lag, replay size), keeps the evaluation history and
// decides when the config's stop condition holds. It also writes
// progress.csv (one row per tick) and evals.csv (one row per evaluation
// round) in the run directory and makes summary.json's content.
//
//   RunMonitor monitor(config.stop, run_dir, absl::Now());
//   while (...) {
//     RunSnapshot s = monitor.Tick(*cluster, absl::Now());
//     std::cout << FormatProgress(s);
//     if (monitor.stop_reason() != StopReason::kNone) break;
//   }
//
// Thread-compatible.
#ifndef SHOAL_TOOLS_RUN_MONITOR_H_
#define SHOAL_TOOLS_RUN_MONITOR_H_

#include <cstdint>
#include <deque>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "common/config.h"
#include "nlohmann/json.hpp"
#include "tools/local_cluster.h"
#include "tools/metrics_scrape.h"

namespace shoal {

struct RunSnapshot {
  double elapsed_s = 0.0;
  int64_t env_steps = 0;  // training actors, summed
  double env_steps_per_s = 0.0;
  int64_t learner_steps = 0;
  double learner_steps_per_s = 0.0;
  int64_t eval_rounds = 0;
  std::optional<double> eval_return;  // the latest round's mean
  int64_t eval_version = 0;
  double policy_lag_mean = 0.0;
  double policy_lag_max = 0.0;
  int64_t replay_size = 0;
};

// One evaluation round as seen by the monitor.
struct EvalPoint {
  double elapsed_s = 0.0;
  int64_t env_steps = 0;
  int64_t learner_steps = 0;
  int64_t policy_version = 0;
  double mean_return = 0.0;
};

enum class StopReason { kNone, kEvalReturn, kEnvSteps, kWallTime };
const char* StopReasonName(StopReason reason);

// The scraped metrics of every child, by role.
struct ClusterMetrics {
  std::vector<MetricSamples> actors;
  std::optional<MetricSamples> learner;
  std::optional<MetricSamples> eval;
};

// Scrapes every child; a child that does not answer is left out.
ClusterMetrics ScrapeCluster(const LocalCluster& cluster);

class RunMonitor {
 public:
  // Writes progress.csv and evals.csv under `run_dir` ("" = no files).
  RunMonitor(const StopConfig& stop, const std::string& run_dir,
             absl::Time start);

  // Folds one scrape taken at `now` in, records a new evaluation round and
  // updates the stop decision.
  RunSnapshot Observe(const ClusterMetrics& metrics, absl::Time now);

  StopReason stop_reason() const { return stop_reason_; }
  // True once the target was reached: stop.eval_return when set, else the
  // env-step or time budget.
  bool target_reached() const { return target_reached_; }
  const std::vector<EvalPoint>& evals() const { return evals_; }
  const RunSnapshot& last() const { return last_; }

  // summary.json's content.
  nlohmann::json Summary() const;

 private:
  const StopConfig stop_;
  const absl::Time start_;
  std::ofstream progress_csv_;
  std::ofstream evals_csv_;
  // (elapsed_s, env_steps, learner_steps) of recent ticks, for rates.
  struct Mark {
    double elapsed_s;
    int64_t env_steps;
    int64_t learner_steps;
  };
  std::deque<Mark> marks_;
  RunSnapshot last_;
  std::vector<EvalPoint> evals_;
  std::optional<EvalPoint> best_;
  std::optional<EvalPoint> first_at_target_;
  StopReason stop_reason_ = StopReason::kNone;
  bool target_reached_ = false;
};

// One line: "[  42s] env 123,456 (2,950/s) | learner ...".
std::string FormatProgress(const RunSnapshot& snapshot);

// How much of the run's budget is spent, in [0, 1]: the larger of
// elapsed / stop.wall_time_s and env_steps / stop.env_steps; nullopt when
// neither budget is set (the run ends only at its target).
std::optional<double> BudgetSpent(const StopConfig& stop,
                                  const RunSnapshot& snapshot);

// A terminal's progress line, redrawn in place: a bar of `bar_width` cells
// for the budget spent (left out without a budget), then FormatProgress's
// figures with counts in k/M, cut to `columns` characters (0 = no limit) so
// that it never wraps:
//   "[###.......]  35% 42s eval 276.6 | env 123k 2.9k/s | learn 9.2k ..."
std::string FormatProgressBar(const StopConfig& stop,
                              const RunSnapshot& snapshot, int bar_width,
                              int columns);

}  // namespace shoal

#endif  // SHOAL_TOOLS_RUN_MONITOR_H_
