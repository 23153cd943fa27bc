// Fault tests on a small real cluster (LocalCluster: 2 replay shards, the
// learner and 3 actors as child processes, cartpole_dqn.yaml with replay
// checkpoints every 1 s and learner checkpoints every 2 s). Each test
// trains, injects one fault with SIGKILL and a restart, and checks what the
// survivors report (/metrics, ReplayService.Info, logs, checkpoint files):
//
// - a replay shard killed and restarted 5 s later: writers reconnect or
//   fail over, the learner trains on, the shard reloads its newest
//   checkpoint, and every acknowledged item is stored exactly once except
//   the ones the checkpoint rule allows to lose;
// - an actor killed and replaced: the learner never stalls, the new actor
//   gets the current weights at once, and its items are stored;
// - the learner killed and restarted: it resumes from its checkpoint (step
//   and version go on), actors act meanwhile and take the new weights.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/testing/test_util.h"
#include "replay/replay_server.h"
#include "tests/fault/fault_cluster.h"

namespace shoal {
namespace {

using fault::FaultClusterOptions;
using fault::Metric;
using fault::SumMetric;
using fault::TableInfoAt;
using fault::ValuesOnLines;
using fault::WaitFor;
using ::testing::HasSubstr;

constexpr char kTable[] = "transitions";
constexpr char kSteps[] = "shoal_learner_steps_total";
constexpr char kVersion[] = "shoal_learner_parameter_version";
constexpr char kActorVersion[] = "shoal_actor_policy_version";
constexpr char kEnvSteps[] = "shoal_actor_env_steps_total";

// Names of the children that are not running, except `except`, each with
// the end of its log; "" when all run.
std::string DeadChildren(LocalCluster& cluster,
                         const std::set<std::string>& except = {}) {
  std::string dead;
  for (const ClusterChild& child : cluster.children()) {
    const std::string& name = child.process->name();
    if (except.count(name) > 0) continue;
    if (!child.process->running() || child.process->Poll().has_value()) {
      absl::StrAppend(&dead, name, " exited with ", child.process->exit_code(),
                      ":\n", child.process->LogTail(1500), "\n");
    }
  }
  return dead;
}

// Every child's log tail, for failure messages.
std::string Logs(LocalCluster& cluster) {
  std::string logs;
  for (const ClusterChild& child : cluster.children()) {
    absl::StrAppend(&logs, "--- ", child.process->name(), "\n",
                    child.process->LogTail(1200));
  }
  return logs;
}

// The learner's steps go up by at least one in every `window` during
// `span`; false (with what it saw in `trace`) otherwise.
bool LearnerKeepsStepping(LocalCluster& cluster, absl::Duration span,
                          absl::Duration window, std::string* trace) {
  const absl::Time end = absl::Now() + span;
  double last = Metric(cluster, "learner", kSteps);
  bool ok = true;
  while (absl::Now() < end) {
    absl::SleepFor(window);
    const double now = Metric(cluster, "learner", kSteps);
    absl::StrAppend(trace, now, " ");
    if (now <= last) ok = false;
    last = now;
  }
  return ok;
}

std::vector<std::string> ShardAddresses(const LocalCluster& cluster) {
  return absl::StrSplit(cluster.replay_addresses(), ',');
}

// Stops the cluster and expects every child to exit 0.
void StopCleanly(LocalCluster& cluster) {
  for (const ChildExit& exit : cluster.Stop()) {
    EXPECT_EQ(exit.exit_code, 0) << exit.name << ":\n"
                                 << ReadTestFile(exit.log_file).substr(0, 4000);
  }
}

// SIGKILL one of two shards mid-run; restart it 5 s later on the same port
// and checkpoint directory.
//
// What "acknowledged items are not lost beyond the checkpoint rule" means
// here, exactly. Let I_kill be the killed shard's lifetime insert count at
// the kill and R the count in the checkpoint it restarts from (the newest
// complete one: R <= I_kill). The I_kill - R items it stored after that
// checkpoint died with its memory; some of them had been acknowledged (the
// writer dropped them from its resend buffer: lost by design), the others
// were not and are resent. Every other acknowledged item is in a table:
// with A = items acknowledged to the actors (each counted once by its
// writer; read from each actor's final "stopped:" line after a clean
// flush) and S = lifetime inserts of both shards at the end (their final
// checkpoints), 0 <= A - S <= I_kill - R. "None twice": each shard's final
// checkpoint holds no item twice (items compared by actor, env and payload
// bytes; nothing is evicted in this test, so that is every item stored),
// and an item in both shards may only be one whose ack was lost when its
// writer failed over (replay_writer.h: failover is at-least-once); such
// items count once in S for the bound above.
//
// To know I_kill exactly, the actors are frozen (SIGSTOP) for the moment of
// the kill: no insert reaches the shard between its last Info and SIGKILL.
// They are thawed right after; their streams then see the shard gone.
TEST(ClusterFaultTest, KilledShardReloadsItsCheckpointAndAckedItemsStayOnce) {
  const std::string dir = MakeTempDir("fault-shard-").value();
  FaultClusterOptions options;
  // Keeps every item of the run (nothing evicted), so the final
  // checkpoints show every item stored: each env step takes 250 us (about
  // 4,000 items/s per actor), and a shard holds 400,000 items.
  options.extra_set = "tables[0].max_size=400000;env.step_cost_us=250";
  // The counts are exact only when every actor flushes at the end. With
  // cartpole_dqn's sample_to_insert_ratio limiter the actors' full resend
  // buffers (256 KiB each) drain at the learner's sampling pace, slower
  // than their 5 s flush bound on SIGTERM; min_size never holds inserts.
  options.min_size_limiter = true;
  auto started = fault::StartFaultCluster(dir, options);
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  const std::vector<std::string> shards = ShardAddresses(cluster);
  ASSERT_EQ(shards.size(), 2u);

  // Training, with items on both shards and a checkpoint of each.
  auto inserts = [&](int shard) -> int64_t {
    absl::StatusOr<v1::TableInfo> info =
        TableInfoAt(shards[shard], kTable, absl::Seconds(2));
    return info.ok() ? info->inserts() : -1;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return Metric(cluster, "learner", kSteps) > 100 && inserts(0) > 0 &&
               inserts(1) > 0 &&
               !ListCompleteCheckpoints(dir + "/replay-0").empty() &&
               !ListCompleteCheckpoints(dir + "/replay-1").empty();
      },
      absl::Seconds(60)))
      << Logs(cluster);
  const int victim = inserts(0) >= inserts(1) ? 0 : 1;
  const std::string name = absl::StrCat("replay-", victim);
  const std::string victim_dir = dir + "/" + name;

  // Kill half a second after one of its checkpoints, so that it has stored
  // items since (the next checkpoint is a second away). Freeze the writers,
  // read the exact count, kill, thaw.
  auto checkpoints = [&] {
    return ValuesOnLines(ReadTestFile(victim_dir + ".log"), "] checkpoint ",
                         "(")
        .size();
  };
  const size_t before = checkpoints();
  ASSERT_TRUE(WaitFor([&] { return checkpoints() > before; }, absl::Seconds(10),
                      absl::Milliseconds(20)));
  absl::SleepFor(absl::Milliseconds(500));
  for (int i = 0; i < options.actors; ++i) {
    cluster.child(absl::StrCat("actor-", i))->process->Signal(SIGSTOP);
  }
  absl::SleepFor(absl::Milliseconds(100));  // in-flight inserts land
  const int64_t inserts_at_kill = inserts(victim);
  const double steps_at_kill = Metric(cluster, "learner", kSteps);
  cluster.child(name)->process->Kill();
  for (int i = 0; i < options.actors; ++i) {
    cluster.child(absl::StrCat("actor-", i))->process->Signal(SIGCONT);
  }
  ASSERT_GT(inserts_at_kill, 0);
  absl::StatusOr<fault::CheckpointedTable> restored =
      fault::ReadNewestCheckpoint(victim_dir, kTable);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const int64_t restored_inserts = restored->header.inserts();
  ASSERT_GT(restored->header.num_items(), 0);
  ASSERT_LE(restored_inserts, inserts_at_kill);
  EXPECT_GT(inserts_at_kill, restored_inserts)
      << "nothing stored after the last checkpoint: the rule is untested";

  // Down for 5 s: nobody else dies, the learner trains on the other shard.
  std::string trace;
  EXPECT_TRUE(LearnerKeepsStepping(cluster, absl::Seconds(5),
                                   absl::Milliseconds(1250), &trace))
      << "learner steps while " << name << " was down: " << trace << "\n"
      << Logs(cluster);
  EXPECT_GT(Metric(cluster, "learner", kSteps), steps_at_kill);
  EXPECT_EQ(DeadChildren(cluster, {name}), "");

  // Restart: it loads that checkpoint (right after the restart it holds at
  // least its items; writers may already be back).
  ASSERT_TRUE(cluster.Restart(name).ok()) << Logs(cluster);
  absl::StatusOr<v1::TableInfo> back =
      TableInfoAt(shards[victim], kTable, absl::Seconds(5));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_GE(back->size(), restored->header.num_items());
  EXPECT_GE(back->inserts(), restored_inserts);
  EXPECT_THAT(ReadTestFile(victim_dir + ".log"),
              HasSubstr("restored checkpoint " + restored->path));

  // The run goes on: learner and writers make progress, nobody died.
  const double acked_after_restart =
      SumMetric(cluster, "actor-", "shoal_actor_items_acked_total");
  EXPECT_TRUE(
      LearnerKeepsStepping(cluster, absl::Seconds(6), absl::Seconds(2), &trace))
      << trace;
  EXPECT_GT(SumMetric(cluster, "actor-", "shoal_actor_items_acked_total"),
            acked_after_restart);
  EXPECT_EQ(DeadChildren(cluster), "");
  EXPECT_GE(
      SumMetric(cluster, "actor-", "shoal_actor_replay_reconnects_total") +
          SumMetric(cluster, "actor-", "shoal_actor_replay_failovers_total"),
      1);
  const double resent =
      SumMetric(cluster, "actor-", "shoal_actor_items_resent_total");
  const double duplicates =
      SumMetric(cluster, "replay-", "shoal_replay_duplicate_items_total");
  const double failovers =
      SumMetric(cluster, "actor-", "shoal_actor_replay_failovers_total");
  EXPECT_EQ(SumMetric(cluster, "actor-", "shoal_actor_items_rejected_total"),
            0);

  // Clean stop: actors flush, shards write final checkpoints.
  StopCleanly(cluster);
  int64_t acked = 0;
  for (int i = 0; i < options.actors; ++i) {
    const std::string log =
        ReadTestFile(absl::StrCat(dir, "/actor-", i, ".log"));
    EXPECT_THAT(log, ::testing::Not(HasSubstr("replay flush:")))
        << "actor-" << i << " did not flush: its count is not exact";
    const std::vector<int64_t> counts =
        ValuesOnLines(log, "stopped:", "items_acked=");
    ASSERT_EQ(counts.size(), 1u) << log;
    acked += counts[0];
  }
  int64_t stored = 0;
  int64_t in_both = 0;
  std::vector<absl::flat_hash_map<std::string, int>> seen(2);
  for (int s = 0; s < 2; ++s) {
    absl::StatusOr<fault::CheckpointedTable> final_table =
        fault::ReadNewestCheckpoint(absl::StrCat(dir, "/replay-", s), kTable);
    ASSERT_TRUE(final_table.ok()) << final_table.status();
    const v1::TableCheckpointHeader& h = final_table->header;
    EXPECT_EQ(h.evictions(), 0) << "raise max_size: the check needs all";
    EXPECT_EQ(h.num_items(), h.inserts() - h.evictions());
    stored += h.inserts();
    int twice = 0;
    for (const v1::CheckpointItem& item : final_table->items) {
      const std::string key = absl::StrCat(item.actor_index(), "/",
                                           item.env_id(), "/", item.payload());
      if (++seen[s][key] > 1) ++twice;
      if (s == 1 && seen[0].contains(key)) ++in_both;
    }
    EXPECT_EQ(twice, 0) << "replay-" << s << " stored items twice";
  }
  // Items in both shards: only after a failover, at most what was resent.
  if (failovers == 0) {
    EXPECT_EQ(in_both, 0);
  }
  EXPECT_LE(in_both, resent);
  const int64_t lost = acked - (stored - in_both);
  const int64_t allowed = inserts_at_kill - restored_inserts;
  EXPECT_GE(lost, 0) << "more items stored than acknowledged";
  EXPECT_LE(lost, allowed)
      << "acknowledged items lost beyond the checkpoint rule";
  std::printf(
      "[ fault    ] shard kill: acked %lld, stored %lld (in both shards "
      "%lld), lost %lld of the %lld stored after the last checkpoint; "
      "resent %.0f, duplicates dropped %.0f, failovers %.0f\n",
      static_cast<long long>(acked), static_cast<long long>(stored),
      static_cast<long long>(in_both), static_cast<long long>(lost),
      static_cast<long long>(allowed), resent, duplicates, failovers);
}

// SIGKILL actor-1 and start it again with the same index. The learner
// never stops stepping (the other actors feed it), the new actor acts with
// the learner's current weights within seconds of starting, and its items
// are stored: the shards drop none of them as replays of the old
// incarnation's sequence numbers.
TEST(ClusterFaultTest, ReplacedActorTakesCurrentWeightsAndItsItemsAreStored) {
  const std::string dir = MakeTempDir("fault-actor-").value();
  auto started = fault::StartFaultCluster(dir, FaultClusterOptions());
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  ASSERT_TRUE(WaitFor(
      [&] {
        return Metric(cluster, "learner", kVersion) >= 2 &&
               Metric(cluster, "actor-1", "shoal_actor_items_acked_total") >
                   500;
      },
      absl::Seconds(60)))
      << Logs(cluster);

  cluster.child("actor-1")->process->Kill();
  std::string trace;
  EXPECT_TRUE(
      LearnerKeepsStepping(cluster, absl::Seconds(2), absl::Seconds(1), &trace))
      << trace;
  const double duplicates_before =
      SumMetric(cluster, "replay-", "shoal_replay_duplicate_items_total");
  const double inserted_before =
      SumMetric(cluster, "replay-", "shoal_replay_inserted_items_total");
  ASSERT_TRUE(cluster.Restart("actor-1").ok()) << Logs(cluster);
  const absl::Time restarted = absl::Now();
  const double version_at_restart = Metric(cluster, "learner", kVersion);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Metric(cluster, "actor-1", kActorVersion) >= version_at_restart;
      },
      absl::Seconds(10), absl::Milliseconds(50)))
      << "the new actor-1 did not get version " << version_at_restart << "\n"
      << Logs(cluster);
  const absl::Duration to_weights = absl::Now() - restarted;
  EXPECT_TRUE(
      LearnerKeepsStepping(cluster, absl::Seconds(6), absl::Seconds(2), &trace))
      << trace;
  EXPECT_EQ(DeadChildren(cluster), "");

  // The new incarnation's items: acknowledged and stored, not dropped.
  const double new_acked =
      Metric(cluster, "actor-1", "shoal_actor_items_acked_total");
  const double resent =
      SumMetric(cluster, "actor-", "shoal_actor_items_resent_total");
  const double duplicates =
      SumMetric(cluster, "replay-", "shoal_replay_duplicate_items_total") -
      duplicates_before;
  const double inserted =
      SumMetric(cluster, "replay-", "shoal_replay_inserted_items_total") -
      inserted_before;
  EXPECT_GT(new_acked, 0);
  EXPECT_LE(duplicates, resent)
      << "the shards dropped " << duplicates
      << " items as replays since the restart; the new actor-1 had "
      << new_acked
      << " acknowledged: a restarted writer reuses its writer_id and "
         "sequence numbers from 1, which the shards already stored";
  EXPECT_GE(inserted, new_acked);
  std::printf(
      "[ fault    ] actor restart: weights after %s (version %.0f), new "
      "actor acked %.0f, stored since restart %.0f, dropped as replays "
      "%.0f\n",
      absl::FormatDuration(to_weights).c_str(), version_at_restart, new_acked,
      inserted, duplicates);
  StopCleanly(cluster);
}

// SIGKILL the learner and restart it 3 s later. It restores its newest
// complete checkpoint (at most learner.checkpoint_every_s = 2 s old; step
// and published version continue from there, not from 0),
// the actors keep stepping while it is away and move to its new versions.
//
// The table's rate limiter is min_size here: with cartpole_dqn's
// sample_to_insert_ratio, inserts block once samples stop (the learner is
// the only sampler) and the actors pause after their resend buffers fill;
// that is backpressure by design, and it would hide whether the actors
// keep acting.
TEST(ClusterFaultTest, RestartedLearnerResumesFromItsCheckpoint) {
  const std::string dir = MakeTempDir("fault-learner-").value();
  FaultClusterOptions options;
  options.min_size_limiter = true;
  auto started = fault::StartFaultCluster(dir, options);
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  const std::string learner_log = dir + "/learner.log";
  // Its checkpoints: <dir>/learner/ckpt-<20-digit step>, the newest last.
  auto checkpoints = [&] {
    std::vector<std::string> names;
    for (const auto& entry :
         std::filesystem::directory_iterator(dir + "/learner")) {
      const std::string name = entry.path().filename().string();
      if (absl::StartsWith(name, "ckpt-")) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return Metric(cluster, "learner", kVersion) >= 3 &&
               checkpoints().size() >= 2;
      },
      absl::Seconds(60)))
      << Logs(cluster);

  const double steps_before = Metric(cluster, "learner", kSteps);
  const double version_before = Metric(cluster, "learner", kVersion);
  const double env_steps_before = SumMetric(cluster, "actor-", kEnvSteps);
  cluster.child("learner")->process->Kill();
  const std::vector<std::string> at_kill = checkpoints();

  absl::SleepFor(absl::Seconds(3));
  EXPECT_GT(SumMetric(cluster, "actor-", kEnvSteps), env_steps_before)
      << "actors stopped acting while the learner was down";
  EXPECT_EQ(DeadChildren(cluster, {"learner"}), "");

  // It restores the newest complete checkpoint (the newest, or the one
  // before when the kill cut the newest short), whose directory names its
  // step; it does not start from 0.
  ASSERT_TRUE(cluster.Restart("learner").ok()) << Logs(cluster);
  const std::string log = ReadTestFile(learner_log);
  const std::vector<int64_t> restored_steps =
      ValuesOnLines(log, "] restored ", "(step ");
  const std::vector<int64_t> restored_versions =
      ValuesOnLines(log, "] restored ", "version ");
  ASSERT_EQ(restored_steps.size(), 1u) << log;
  ASSERT_EQ(restored_versions.size(), 1u) << log;
  const std::vector<int64_t> restored_from =
      ValuesOnLines(log, "] restored ", "/ckpt-");
  ASSERT_EQ(restored_from.size(), 1u) << log;
  const std::string restored_name =
      absl::StrFormat("ckpt-%020d", restored_from[0]);
  EXPECT_TRUE(restored_name == at_kill.back() ||
              restored_name == at_kill[at_kill.size() - 2])
      << restored_name
      << " is not one of the newest at the kill: " << at_kill.back();
  EXPECT_EQ(restored_steps[0], restored_from[0]);
  EXPECT_GT(restored_steps[0], 0);
  EXPECT_LE(restored_steps[0], steps_before);
  EXPECT_GT(restored_versions[0], 1);
  EXPECT_LE(restored_versions[0], version_before);
  // shoal_learner_steps_total reads 0 until the restarted learner's first step
  // (the gauge is set per step, not at restore); then it goes on from the
  // restored step.
  const double first_steps_reading = Metric(cluster, "learner", kSteps);
  ASSERT_TRUE(WaitFor([&] { return Metric(cluster, "learner", kSteps) > 0; },
                      absl::Seconds(20)));
  EXPECT_GE(Metric(cluster, "learner", kSteps), restored_steps[0]);
  EXPECT_GE(Metric(cluster, "learner", kVersion), restored_versions[0]);

  // It trains on past its old version, and every actor follows.
  EXPECT_TRUE(WaitFor(
      [&] { return Metric(cluster, "learner", kVersion) > version_before; },
      absl::Seconds(30)))
      << Logs(cluster);
  for (int i = 0; i < options.actors; ++i) {
    const std::string actor = absl::StrCat("actor-", i);
    EXPECT_TRUE(WaitFor(
        [&] { return Metric(cluster, actor, kActorVersion) > version_before; },
        absl::Seconds(15)))
        << actor << " stayed at version "
        << Metric(cluster, actor, kActorVersion)
        << " (before the kill: " << version_before << ")";
  }
  EXPECT_TRUE(
      WaitFor([&] { return Metric(cluster, "learner", kSteps) > steps_before; },
              absl::Seconds(30)));
  EXPECT_EQ(DeadChildren(cluster), "");
  std::printf(
      "[ fault    ] learner restart: killed at step %.0f version %.0f, "
      "restored step %lld version %lld (steps gauge right after the "
      "restart: %.0f)\n",
      steps_before, version_before, static_cast<long long>(restored_steps[0]),
      static_cast<long long>(restored_versions[0]), first_steps_reading);
  StopCleanly(cluster);
}

}  // namespace
}  // namespace shoal
