#include "tools/run_monitor.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shoal {
namespace {

// Rates are taken over about this window of ticks.
constexpr double kRateWindowS = 5.0;
// Scrapes give up after this.
constexpr absl::Duration kScrapeTimeout = absl::Milliseconds(500);

std::string WithCommas(int64_t value) {
  std::string digits = absl::StrCat(value < 0 ? -value : value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<size_t>(i), ",");
  }
  return value < 0 ? "-" + digits : digits;
}

// 950, 9.5k, 95k, 950k, 9.5M: three significant figures at most. The
// thresholds sit where rounding would carry (999.6 is "1.0k", not "1000").
std::string Compact(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude < 999.5) return absl::StrFormat("%.0f", value);
  const bool mega = magnitude >= 999.5e3;
  const double scaled = value / (mega ? 1e6 : 1e3);
  const char* suffix = mega ? "M" : "k";
  return std::fabs(scaled) < 9.95 ? absl::StrFormat("%.1f%s", scaled, suffix)
                                  : absl::StrFormat("%.0f%s", scaled, suffix);
}

nlohmann::json EvalJson(const EvalPoint& e) {
  return {{"elapsed_s", e.elapsed_s},
          {"env_steps", e.env_steps},
          {"learner_steps", e.learner_steps},
          {"policy_version", e.policy_version},
          {"mean_return", e.mean_return}};
}

}  // namespace

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "none";
    case StopReason::kEvalReturn:
      return "eval_return";
    case StopReason::kEnvSteps:
      return "env_steps";
    case StopReason::kWallTime:
      return "wall_time";
  }
  return "none";
}

ClusterMetrics ScrapeCluster(const LocalCluster& cluster) {
  ClusterMetrics metrics;
  for (const ClusterChild& child : cluster.children()) {
    if (child.metrics_port < 0 || child.role == ChildRole::kReplay) continue;
    absl::StatusOr<MetricSamples> samples =
        ScrapeMetrics(child.metrics_port, kScrapeTimeout);
    if (!samples.ok()) continue;
    switch (child.role) {
      case ChildRole::kActor:
        metrics.actors.push_back(*std::move(samples));
        break;
      case ChildRole::kLearner:
        metrics.learner = *std::move(samples);
        break;
      case ChildRole::kEval:
        metrics.eval = *std::move(samples);
        break;
      case ChildRole::kSync:  // acts and learns: both roles' metrics
        metrics.actors.push_back(*samples);
        metrics.learner = *std::move(samples);
        break;
      case ChildRole::kReplay:
        break;
    }
  }
  return metrics;
}

RunMonitor::RunMonitor(const StopConfig& stop, const std::string& run_dir,
                       absl::Time start)
    : stop_(stop), start_(start) {
  if (run_dir.empty()) return;
  progress_csv_.open(run_dir + "/progress.csv");
  progress_csv_ << "elapsed_s,env_steps,env_steps_per_s,learner_steps,"
                   "learner_steps_per_s,eval_return,policy_lag_mean,"
                   "policy_lag_max,replay_size\n";
  evals_csv_.open(run_dir + "/evals.csv");
  evals_csv_ << "elapsed_s,env_steps,learner_steps,policy_version,"
                "mean_return\n";
}

RunSnapshot RunMonitor::Observe(const ClusterMetrics& metrics, absl::Time now) {
  RunSnapshot s = last_;  // a child that did not answer keeps its values
  s.elapsed_s = absl::ToDoubleSeconds(now - start_);
  if (!metrics.actors.empty()) {
    int64_t steps = 0;
    for (const MetricSamples& actor : metrics.actors) {
      steps += static_cast<int64_t>(actor.Get("shoal_actor_env_steps_total"));
    }
    s.env_steps = std::max(steps, last_.env_steps);
  }
  if (metrics.learner.has_value()) {
    const MetricSamples& l = *metrics.learner;
    s.learner_steps = static_cast<int64_t>(l.Get("shoal_learner_steps_total"));
    s.policy_lag_mean = l.Get("shoal_learner_policy_lag{stat=\"mean\"}");
    s.policy_lag_max = l.Get("shoal_learner_policy_lag{stat=\"max\"}");
    s.replay_size = static_cast<int64_t>(l.Get("shoal_learner_replay_size"));
  }
  if (metrics.eval.has_value()) {
    const int64_t rounds = static_cast<int64_t>(
        metrics.eval->Get("shoal_actor_eval_rounds_total"));
    if (rounds > last_.eval_rounds) {
      s.eval_rounds = rounds;
      s.eval_return = metrics.eval->Get("shoal_actor_eval_return");
      s.eval_version = static_cast<int64_t>(
          metrics.eval->Get("shoal_actor_eval_policy_version"));
      const EvalPoint point = {s.elapsed_s, s.env_steps, s.learner_steps,
                               s.eval_version, *s.eval_return};
      evals_.push_back(point);
      if (!best_.has_value() || point.mean_return > best_->mean_return) {
        best_ = point;
      }
      if (evals_csv_.is_open()) {
        evals_csv_ << absl::StrFormat("%.2f,%d,%d,%d,%.4f\n", point.elapsed_s,
                                      point.env_steps, point.learner_steps,
                                      point.policy_version, point.mean_return)
                   << std::flush;
      }
      if (stop_.eval_return.has_value() &&
          point.mean_return >= *stop_.eval_return &&
          !first_at_target_.has_value()) {
        first_at_target_ = point;
      }
    }
  }
  marks_.push_back({s.elapsed_s, s.env_steps, s.learner_steps});
  while (marks_.size() > 2 &&
         s.elapsed_s - marks_[1].elapsed_s >= kRateWindowS) {
    marks_.pop_front();
  }
  const Mark& from = marks_.front();
  const double span = s.elapsed_s - from.elapsed_s;
  if (span > 0) {
    s.env_steps_per_s =
        static_cast<double>(s.env_steps - from.env_steps) / span;
    s.learner_steps_per_s =
        static_cast<double>(s.learner_steps - from.learner_steps) / span;
  }
  if (progress_csv_.is_open()) {
    progress_csv_ << absl::StrFormat(
                         "%.2f,%d,%.1f,%d,%.1f,%s,%.2f,%.0f,%d\n", s.elapsed_s,
                         s.env_steps, s.env_steps_per_s, s.learner_steps,
                         s.learner_steps_per_s,
                         s.eval_return.has_value()
                             ? absl::StrFormat("%.4f", *s.eval_return)
                             : std::string(),
                         s.policy_lag_mean, s.policy_lag_max, s.replay_size)
                  << std::flush;
  }
  last_ = s;

  if (first_at_target_.has_value()) {
    stop_reason_ = StopReason::kEvalReturn;
    target_reached_ = true;
  } else if (stop_.env_steps > 0 && s.env_steps >= stop_.env_steps) {
    stop_reason_ = StopReason::kEnvSteps;
  } else if (stop_.wall_time_s > 0 &&
             s.elapsed_s >= static_cast<double>(stop_.wall_time_s)) {
    stop_reason_ = StopReason::kWallTime;
  }
  if (stop_reason_ != StopReason::kNone && !stop_.eval_return.has_value()) {
    target_reached_ = true;  // a budget was the target
  }
  return s;
}

nlohmann::json RunMonitor::Summary() const {
  const RunSnapshot& s = last_;
  nlohmann::json evals = nlohmann::json::array();
  for (const EvalPoint& e : evals_) evals.push_back(EvalJson(e));
  nlohmann::json summary = {
      {"stop_reason", StopReasonName(stop_reason_)},
      {"target_reached", target_reached_},
      {"elapsed_s", s.elapsed_s},
      {"env_steps", s.env_steps},
      {"learner_steps", s.learner_steps},
      {"env_steps_per_s",
       s.elapsed_s > 0 ? static_cast<double>(s.env_steps) / s.elapsed_s : 0.0},
      {"learner_steps_per_s",
       s.elapsed_s > 0 ? static_cast<double>(s.learner_steps) / s.elapsed_s
                       : 0.0},
      {"policy_lag_mean", s.policy_lag_mean},
      {"policy_lag_max", s.policy_lag_max},
      {"replay_size", s.replay_size},
      {"eval_rounds", static_cast<int64_t>(evals_.size())},
      {"eval_return", s.eval_return.has_value() ? nlohmann::json(*s.eval_return)
                                                : nlohmann::json()},
      {"best_eval", best_.has_value() ? EvalJson(*best_) : nlohmann::json()},
      {"target_eval_return", stop_.eval_return.has_value()
                                 ? nlohmann::json(*stop_.eval_return)
                                 : nlohmann::json()},
      {"evals", evals}};
  if (first_at_target_.has_value()) {
    summary["seconds_to_target"] = first_at_target_->elapsed_s;
    summary["env_steps_to_target"] = first_at_target_->env_steps;
  }
  return summary;
}

std::string FormatProgress(const RunSnapshot& s) {
  return absl::StrFormat(
      "[%5.0fs] env %s (%s/s) | learner %s (%.0f/s) | eval %s | lag %.1f/%.0f "
      "| replay %s",
      s.elapsed_s, WithCommas(s.env_steps),
      WithCommas(static_cast<int64_t>(std::lround(s.env_steps_per_s))),
      WithCommas(s.learner_steps), s.learner_steps_per_s,
      s.eval_return.has_value() ? absl::StrFormat("%.1f", *s.eval_return)
                                : std::string("-"),
      s.policy_lag_mean, s.policy_lag_max, WithCommas(s.replay_size));
}

std::optional<double> BudgetSpent(const StopConfig& stop,
                                  const RunSnapshot& snapshot) {
  std::optional<double> spent;
  if (stop.wall_time_s > 0) {
    spent = snapshot.elapsed_s / static_cast<double>(stop.wall_time_s);
  }
  if (stop.env_steps > 0) {
    const double steps = static_cast<double>(snapshot.env_steps) /
                         static_cast<double>(stop.env_steps);
    spent = std::max(spent.value_or(0.0), steps);
  }
  if (spent.has_value()) spent = std::clamp(*spent, 0.0, 1.0);
  return spent;
}

std::string FormatProgressBar(const StopConfig& stop,
                              const RunSnapshot& snapshot, int bar_width,
                              int columns) {
  std::string line;
  if (std::optional<double> spent = BudgetSpent(stop, snapshot);
      spent.has_value() && bar_width > 0) {
    const int filled = static_cast<int>(std::floor(*spent * bar_width));
    line = absl::StrFormat("[%s%s] %3.0f%% ", std::string(filled, '#'),
                           std::string(bar_width - filled, '.'),
                           std::floor(*spent * 100.0));
  }
  const RunSnapshot& s = snapshot;
  // The figures users watch first come first: a narrow terminal cuts the
  // tail.
  absl::StrAppendFormat(
      &line,
      "%.0fs eval %s | env %s %s/s | learn %s %s/s | lag %.0f/%.0f "
      "| replay %s",
      s.elapsed_s,
      s.eval_return.has_value() ? absl::StrFormat("%.1f", *s.eval_return)
                                : std::string("-"),
      Compact(static_cast<double>(s.env_steps)), Compact(s.env_steps_per_s),
      Compact(static_cast<double>(s.learner_steps)),
      Compact(s.learner_steps_per_s), s.policy_lag_mean, s.policy_lag_max,
      Compact(static_cast<double>(s.replay_size)));
  if (columns > 0 && line.size() > static_cast<size_t>(columns)) {
    line.resize(static_cast<size_t>(columns));
  }
  return line;
}

}  // namespace shoal
