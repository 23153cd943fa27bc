// Replays the reference recordings (Gymnasium classic control and
// PIMBRL's KS) through our envs.
//
// Every `.jsonl` file under the reference directory (recursively) is read;
// each line is one episode. For classic-control envs the test sets the
// recorded init_state, replays the recorded actions and compares every
// observation, reward and flag: within tolerance (obs 1e-6 relative with a
// 1e-5 absolute floor, reward 1e-9 relative), and bit for bit, which the
// reference README says is reachable with glibc libm and IEEE doubles. For
// KS (float32 PDE integrated by a different summation order than torch's
// BLAS) it checks one step from each recorded obs within 1e-4 absolute,
// and the 20-step roll-forward from init_state within 1e-3 absolute.
//
// The recordings are the repository's copy,
// $SHOAL_SOURCE_DIR/actor/envs/testdata/reference (tests/test_main.cc sets
// SHOAL_SOURCE_DIR to the source tree this was built from unless it is
// set), and, when $SHOAL_REFERENCE_DIR is set, every recording under that
// directory as well.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "nlohmann/json.hpp"

namespace shoal {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr double kObsRelTolerance = 1e-6;
constexpr double kObsAbsTolerance = 1e-5;
constexpr double kRewardRelTolerance = 1e-9;
constexpr double kRewardAbsTolerance = 1e-12;
constexpr double kKsOneStepTolerance = 1e-4;
constexpr double kKsRollTolerance = 1e-3;
// Failure messages printed per file before the rest are only counted.
constexpr int kMaxMessagesPerFile = 5;

// Recorded env id -> our registered name.
const std::map<std::string, std::string>& EnvNames() {
  static const auto* const kNames = new std::map<std::string, std::string>{
      {"CartPole-v1", "cartpole"},
      {"Pendulum-v1", "pendulum"},
      {"Acrobot-v1", "acrobot"},
      {"MountainCar-v0", "mountain_car"},
      {"MountainCarContinuous-v0", "mountain_car_continuous"},
      {"KS-PIMBRL", "ks"}};
  return *kNames;
}

struct RecordedStep {
  std::vector<double> obs;
  int64_t discrete_action = 0;
  std::vector<float> box_action;
  double reward = 0.0;
  std::vector<double> next_obs;
  bool terminated = false;
  bool truncated = false;
  bool done = false;  // KS only
};

struct Episode {
  std::string env;
  int64_t seed = 0;
  std::vector<double> init_state;
  std::vector<RecordedStep> steps;
};

// The repository's recordings, then $SHOAL_REFERENCE_DIR's if set.
std::vector<fs::path> ReferenceDirs() {
  const char* src = std::getenv("SHOAL_SOURCE_DIR");
  std::vector<fs::path> dirs = {fs::path(src != nullptr ? src : ".") / "actor" /
                                "envs" / "testdata" / "reference"};
  if (const char* extra = std::getenv("SHOAL_REFERENCE_DIR")) {
    dirs.push_back(extra);
  }
  return dirs;
}

std::vector<fs::path> JsonlFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end;
       !error && it != end; it.increment(error)) {
    if (it->is_regular_file() && it->path().extension() == ".jsonl") {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::vector<double>> Numbers(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("no array \"", key, "\""));
  }
  std::vector<double> out;
  for (const Json& v : *it) {
    if (!v.is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", key, "\" holds a non-number"));
    }
    out.push_back(v.get<double>());
  }
  return out;
}

bool Flag(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

absl::StatusOr<Episode> ParseEpisode(const std::string& line) {
  const Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("line is not a JSON object");
  }
  Episode episode;
  if (auto it = j.find("env"); it != j.end() && it->is_string()) {
    episode.env = it->get<std::string>();
  } else {
    return absl::InvalidArgumentError("no string \"env\"");
  }
  if (auto it = j.find("seed"); it != j.end() && it->is_number_integer()) {
    episode.seed = it->get<int64_t>();
  }
  absl::StatusOr<std::vector<double>> init = Numbers(j, "init_state");
  if (!init.ok()) return init.status();
  episode.init_state = *std::move(init);
  auto steps = j.find("steps");
  if (steps == j.end() || !steps->is_array()) {
    return absl::InvalidArgumentError("no array \"steps\"");
  }
  for (const Json& s : *steps) {
    RecordedStep step;
    absl::StatusOr<std::vector<double>> obs = Numbers(s, "obs");
    absl::StatusOr<std::vector<double>> next = Numbers(s, "next_obs");
    if (!obs.ok()) return obs.status();
    if (!next.ok()) return next.status();
    step.obs = *std::move(obs);
    step.next_obs = *std::move(next);
    auto action = s.find("action");
    if (action == s.end()) return absl::InvalidArgumentError("no \"action\"");
    if (action->is_number_integer()) {
      step.discrete_action = action->get<int64_t>();
    } else {
      absl::StatusOr<std::vector<double>> box = Numbers(s, "action");
      if (!box.ok()) return box.status();
      for (double a : *box) step.box_action.push_back(static_cast<float>(a));
    }
    auto reward = s.find("reward");
    if (reward == s.end() || !reward->is_number()) {
      return absl::InvalidArgumentError("no number \"reward\"");
    }
    step.reward = reward->get<double>();
    step.terminated = Flag(s, "terminated");
    step.truncated = Flag(s, "truncated");
    step.done = Flag(s, "done");
    episode.steps.push_back(std::move(step));
  }
  return episode;
}

Action ToAction(const RecordedStep& step) {
  Action action;
  action.discrete = step.discrete_action;
  action.box = step.box_action;
  return action;
}

// Tallies for one file.
struct Tally {
  int episodes = 0;
  int steps = 0;
  int steps_within_tolerance = 0;
  int steps_bit_exact = 0;
  int ks_roll_steps = 0;
  int ks_roll_within_tolerance = 0;
  double max_obs_error = 0.0;
  double max_reward_error = 0.0;
  double max_roll_error = 0.0;
  int messages = 0;
};

bool Near(double actual, double expected, double rel, double abs) {
  return std::fabs(actual - expected) <=
         std::max(rel * std::fabs(expected), abs);
}

// Compares one classic-control step; returns whether it was within
// tolerance and sets *bit_exact.
bool CompareClassicStep(const StepResult& result, const std::vector<float>& obs,
                        const RecordedStep& step, Tally* tally,
                        bool* bit_exact) {
  bool near = obs.size() == step.next_obs.size();
  *bit_exact = near;
  for (size_t i = 0; near && i < obs.size(); ++i) {
    const double actual = obs[i];
    const double error = std::fabs(actual - step.next_obs[i]);
    tally->max_obs_error = std::max(tally->max_obs_error, error);
    if (actual != step.next_obs[i]) *bit_exact = false;
    if (!Near(actual, step.next_obs[i], kObsRelTolerance, kObsAbsTolerance)) {
      near = false;
    }
  }
  tally->max_reward_error =
      std::max(tally->max_reward_error, std::fabs(result.reward - step.reward));
  if (result.reward != step.reward) *bit_exact = false;
  if (!Near(result.reward, step.reward, kRewardRelTolerance,
            kRewardAbsTolerance)) {
    near = false;
  }
  if (result.terminated != step.terminated ||
      result.truncated != step.truncated) {
    near = false;
    *bit_exact = false;
  }
  return near;
}

void ReplayClassic(const Episode& episode, Env& env, Tally* tally,
                   const std::string& where) {
  std::vector<float> obs(env.spec().observation_size());
  ASSERT_TRUE(env.SetState(episode.init_state, absl::MakeSpan(obs)).ok());
  if (!episode.steps.empty()) {
    const std::vector<double>& first = episode.steps[0].obs;
    EXPECT_TRUE(std::equal(obs.begin(), obs.end(), first.begin(), first.end()))
        << where << ": SetState(init_state) does not give the recorded obs";
  }
  for (size_t t = 0; t < episode.steps.size(); ++t) {
    const RecordedStep& step = episode.steps[t];
    absl::StatusOr<StepResult> result =
        env.Step(ToAction(step), absl::MakeSpan(obs));
    ++tally->steps;
    bool bit_exact = false;
    const bool near = result.ok() &&
                      CompareClassicStep(*result, obs, step, tally, &bit_exact);
    tally->steps_within_tolerance += near;
    tally->steps_bit_exact += bit_exact;
    if ((!near || !bit_exact) && tally->messages++ < kMaxMessagesPerFile) {
      ADD_FAILURE() << where << " step " << t << ": "
                    << (result.ok() ? (near ? "within tolerance, not bit-exact"
                                            : "out of tolerance")
                                    : result.status().ToString());
    }
    if (!result.ok()) return;
    // Resync from the recording so that one bad step is counted once.
    if (!near) return;
  }
  EXPECT_TRUE(episode.steps.empty() || episode.steps.back().terminated ||
              episode.steps.back().truncated)
      << where << ": recording ends before its episode does";
}

// Max |actual - expected| over the floats, +inf on a size mismatch.
double MaxAbsError(const std::vector<float>& actual,
                   const std::vector<double>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double error = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    error = std::max(error, std::fabs(actual[i] - expected[i]));
  }
  return error;
}

void ReplayKs(const Episode& episode, Env& env, Tally* tally,
              const std::string& where) {
  std::vector<float> obs(env.spec().observation_size());
  // One step from each recorded obs.
  for (size_t t = 0; t < episode.steps.size(); ++t) {
    const RecordedStep& step = episode.steps[t];
    ASSERT_TRUE(env.SetState(step.obs, absl::MakeSpan(obs)).ok());
    absl::StatusOr<StepResult> result =
        env.Step(ToAction(step), absl::MakeSpan(obs));
    ++tally->steps;
    bool near = result.ok();
    if (near) {
      const double obs_error = MaxAbsError(obs, step.next_obs);
      const double reward_error = std::fabs(result->reward - step.reward);
      tally->max_obs_error = std::max(tally->max_obs_error, obs_error);
      tally->max_reward_error = std::max(tally->max_reward_error, reward_error);
      near = obs_error <= kKsOneStepTolerance &&
             reward_error <= kKsOneStepTolerance &&
             (result->terminated || result->truncated) == step.done;
    }
    tally->steps_within_tolerance += near;
    if (!near && tally->messages++ < kMaxMessagesPerFile) {
      ADD_FAILURE() << where << " one step from obs " << t << ": "
                    << (result.ok() ? "out of tolerance"
                                    : result.status().ToString());
    }
  }
  // Roll forward from init_state.
  ASSERT_TRUE(env.SetState(episode.init_state, absl::MakeSpan(obs)).ok());
  for (size_t t = 0; t < episode.steps.size(); ++t) {
    const RecordedStep& step = episode.steps[t];
    absl::StatusOr<StepResult> result =
        env.Step(ToAction(step), absl::MakeSpan(obs));
    ++tally->ks_roll_steps;
    bool near = result.ok();
    if (near) {
      const double error = std::max(MaxAbsError(obs, step.next_obs),
                                    std::fabs(result->reward - step.reward));
      tally->max_roll_error = std::max(tally->max_roll_error, error);
      near = error <= kKsRollTolerance;
    }
    tally->ks_roll_within_tolerance += near;
    if (!near && tally->messages++ < kMaxMessagesPerFile) {
      ADD_FAILURE() << where << " roll-forward step " << t << ": "
                    << (result.ok() ? "out of tolerance"
                                    : result.status().ToString());
    }
    if (!result.ok()) return;
  }
}

TEST(ConformanceTest, ReplaysEveryReferenceRecording) {
  std::vector<fs::path> files;
  for (const fs::path& dir : ReferenceDirs()) {
    ASSERT_TRUE(fs::is_directory(dir))
        << "reference directory " << dir
        << " not found; check SHOAL_SOURCE_DIR and SHOAL_REFERENCE_DIR";
    const std::vector<fs::path> found = JsonlFiles(dir);
    ASSERT_FALSE(found.empty()) << "no .jsonl files under " << dir;
    files.insert(files.end(), found.begin(), found.end());
  }
  // Every env has a recording in the repository's copy.
  std::set<std::string> recorded;
  for (const fs::path& file : files) recorded.insert(file.stem().string());
  for (const auto& [recorded_name, ours] : EnvNames()) {
    EXPECT_TRUE(recorded.count(recorded_name))
        << "no recording of " << recorded_name << " (" << ours << ")";
  }

  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file);
    ASSERT_TRUE(in.good()) << "cannot open " << file;
    Tally tally;
    bool ks = false;
    std::string line;
    for (int line_number = 1; std::getline(in, line); ++line_number) {
      if (line.empty()) continue;
      const std::string where =
          absl::StrCat(file.filename().string(), ":", line_number);
      absl::StatusOr<Episode> episode = ParseEpisode(line);
      ASSERT_TRUE(episode.ok()) << where << ": " << episode.status();
      auto name = EnvNames().find(episode->env);
      ASSERT_NE(name, EnvNames().end())
          << where << ": unknown env \"" << episode->env << "\"";
      EnvOptions options;
      options.name = name->second;
      absl::StatusOr<std::unique_ptr<Env>> env = MakeEnv(options);
      ASSERT_TRUE(env.ok()) << env.status();
      ++tally.episodes;
      ks = name->second == "ks";
      if (ks) {
        ReplayKs(*episode, **env, &tally, where);
      } else {
        ReplayClassic(*episode, **env, &tally, where);
      }
    }
    std::cout << "[conformance] " << file.filename().string() << ": "
              << tally.episodes << " episodes, " << tally.steps_within_tolerance
              << "/" << tally.steps << " steps within tolerance";
    if (ks) {
      std::cout << " (one step from each obs), "
                << tally.ks_roll_within_tolerance << "/" << tally.ks_roll_steps
                << " roll-forward steps within " << kKsRollTolerance
                << " (max err " << tally.max_roll_error << ")";
    } else {
      std::cout << ", " << tally.steps_bit_exact << "/" << tally.steps
                << " bit-exact";
    }
    std::cout << "; max |obs err| " << tally.max_obs_error
              << ", max |reward err| " << tally.max_reward_error << "\n";
    EXPECT_EQ(tally.steps_within_tolerance, tally.steps);
    if (ks) {
      EXPECT_EQ(tally.ks_roll_within_tolerance, tally.ks_roll_steps);
    } else {
      EXPECT_EQ(tally.steps_bit_exact, tally.steps);
    }
  }
}

}  // namespace
}  // namespace shoal
