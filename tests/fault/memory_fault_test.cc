// A replay shard held at its max_bytes bound by three real actors inserting
// as fast as they can (about 300,000 items/s here), for 40 s: its resident
// memory stays within 10 % of what the bound allows and stays flat, and
// eviction carries the load. Once without checkpoints, once with one every
// second (replay.checkpoint_every_s = 1, as in the other fault tests).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "common/child_process.h"
#include "common/testing/test_util.h"
#include "tests/fault/fault_cluster.h"

namespace shoal {
namespace {

constexpr char kTable[] = "transitions";
// cartpole_dqn's items: observation (4 float32), action (int64), reward,
// discount (float32), next_observation (4 float32).
constexpr int64_t kPayloadBytes = 16 + 8 + 4 + 4 + 16;
constexpr int64_t kMaxBytes = 16 << 20;
// What a table may hold per item beyond the payload: its slot, selector
// entries and pool rounding. README "Benchmarks" states the goal (<= 64 B;
// table_memory_test measures 56.6 B).
constexpr int64_t kMetadataPerItem = 64;
constexpr absl::Duration kLoad = absl::Seconds(40);

struct Sample {
  double t = 0;  // seconds since the actors started
  int64_t rss = 0;
  int64_t bytes = 0;
  int64_t size = 0;
  int64_t evictions = 0;
};

// The bound. max_bytes counts column payload only (README: "max_bytes:
// payload bytes held at most"), so a full table of p-byte items holds
// max_bytes / p items and max_bytes * (1 + 64 / p) bytes with their
// metadata. For cartpole's 48-byte items that is 16 MiB + 21.3 MiB.
//
// The baseline: the shard's VmRSS after start-up (tables created, gRPC and
// /metrics servers up, one Info served) and before any client connects; the
// largest of three readings 200 ms apart.
//
// Checked over the 40 s: (1) every reading minus the baseline stays within
// 110 % of the bound; (2) once the table is full (bytes >= 95 % of
// max_bytes) resident memory is flat: no later reading exceeds the one at
// that moment by more than 10 % of the bound; (3) evictions keep rising
// after the table is full, and bytes never exceed max_bytes.
void RunAtMaxBytes(const std::vector<std::string>& replay_args) {
  const std::string dir = MakeTempDir("fault-memory-").value();
  const std::string config = dir + "/cartpole_min_size.yaml";
  ASSERT_TRUE(WriteTestFile(config, fault::MinSizeCartpoleYaml()).ok());
  const std::string set = absl::StrCat(
      "actor.num_actors=3;actor.num_envs=32;actor.items_per_insert=64;"
      "actor.initial_policy=uniform;network.hidden[0]=16;"
      "network.hidden[1]=16;tables[0].max_size=4000000;tables[0].max_bytes=",
      kMaxBytes);
  std::vector<std::string> args = {"--set=" + set};
  for (const std::string& a : replay_args) {
    args.push_back(absl::StrReplaceAll(a, {{"$DIR", dir}}));
  }
  absl::StatusOr<fault::ReplayProcess> replay =
      fault::StartReplayProcess(config, dir + "/replay.log", args);
  ASSERT_TRUE(replay.ok()) << replay.status();
  const pid_t pid = replay->process->pid();
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(
      fault::TableInfoAt(replay->address(), kTable, absl::Seconds(5)).ok());
  int64_t baseline = 0;
  for (int i = 0; i < 3; ++i) {
    baseline = std::max(baseline, ResidentBytes(pid));
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_GT(baseline, 0);
  const int64_t items_at_bound = kMaxBytes / kPayloadBytes;
  const int64_t bound = kMaxBytes + items_at_bound * kMetadataPerItem;

  // Three actors without a learner (uniform random actions), inserting as
  // fast as they step.
  std::vector<std::unique_ptr<ChildProcess>> actors;
  for (int i = 0; i < 3; ++i) {
    ChildProcessOptions options;
    options.name = absl::StrCat("actor-", i);
    options.argv = {fault::Binaries().actor, "--config=" + config,
                    "--set=" + set, absl::StrCat("--actor_index=", i),
                    "--replay=" + replay->address()};
    options.log_file = absl::StrCat(dir, "/actor-", i, ".log");
    auto actor = ChildProcess::Start(options);
    ASSERT_TRUE(actor.ok()) << actor.status();
    actors.push_back(*std::move(actor));
  }

  std::vector<Sample> samples;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < kLoad) {
    absl::SleepFor(absl::Seconds(1));
    Sample s;
    s.t = absl::ToDoubleSeconds(absl::Now() - start);
    s.rss = ResidentBytes(pid);
    absl::StatusOr<v1::TableInfo> info =
        fault::TableInfoAt(replay->address(), kTable, absl::Seconds(5));
    ASSERT_TRUE(info.ok()) << info.status();
    s.bytes = info->bytes();
    s.size = info->size();
    s.evictions = info->evictions();
    samples.push_back(s);
    for (const auto& actor : actors) {
      ASSERT_FALSE(actor->Poll().has_value()) << actor->LogTail();
    }
  }
  for (auto& actor : actors) actor->Kill();

  std::string series;
  for (const Sample& s : samples) {
    absl::StrAppend(&series,
                    absl::StrFormat("  t=%4.1fs rss-baseline=%6.1f MiB "
                                    "bytes=%5.1f MiB size=%7d evictions=%d\n",
                                    s.t, (s.rss - baseline) / 1048576.0,
                                    s.bytes / 1048576.0, s.size, s.evictions));
  }
  auto full = std::find_if(samples.begin(), samples.end(), [](const Sample& s) {
    return s.bytes >= kMaxBytes * 95 / 100;
  });
  ASSERT_NE(full, samples.end()) << "the table never filled:\n" << series;
  ASSERT_LT(full->t, absl::ToDoubleSeconds(kLoad) / 2)
      << "filled too late to watch it full:\n"
      << series;
  int64_t peak = 0;
  int64_t peak_after_full = 0;
  for (auto it = samples.begin(); it != samples.end(); ++it) {
    peak = std::max(peak, it->rss - baseline);
    if (it >= full) peak_after_full = std::max(peak_after_full, it->rss);
    EXPECT_LE(it->bytes, kMaxBytes);
  }
  EXPECT_LE(peak, bound * 11 / 10)
      << "baseline " << baseline / 1048576.0 << " MiB, bound "
      << bound / 1048576.0 << " MiB\n"
      << series;
  EXPECT_LE(peak_after_full - full->rss, bound / 10)
      << "resident memory grew after the table was full\n"
      << series;
  EXPECT_GT(samples.back().evictions, full->evictions) << series;
  std::printf(
      "[ fault    ] max_bytes %.0f MiB (bound with metadata %.1f MiB)%s: "
      "baseline %.1f MiB, peak above baseline %.1f MiB (%.2f of the bound), "
      "growth after full %.1f MiB, evictions %lld in %.0f s\n",
      kMaxBytes / 1048576.0, bound / 1048576.0,
      replay_args.empty() ? "" : ", checkpoints every 1 s",
      baseline / 1048576.0, peak / 1048576.0, static_cast<double>(peak) / bound,
      (peak_after_full - full->rss) / 1048576.0,
      static_cast<long long>(samples.back().evictions), samples.back().t);
}

TEST(MemoryFaultTest, ShardAtMaxBytesStaysWithinItsBoundUnderInserts) {
  RunAtMaxBytes({});
}

// The same with a checkpoint every second. A checkpoint walks the table in
// chunks instead of copying every item's metadata (which held 1.8-2x the
// bound here), and frees the blocks of evicted items as soon as the walk
// has written them, so the block pool does not grow while it writes.
TEST(MemoryFaultTest, CheckpointsAtMaxBytesStayWithinTheBoundUnderInserts) {
  RunAtMaxBytes({"--checkpoint_dir=$DIR/replay", "--checkpoint_every_s=1"});
}

}  // namespace
}  // namespace shoal
