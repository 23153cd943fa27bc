// A cluster spread over network namespaces, as if on six hosts: each
// replay shard, the learner and each actor runs in a namespace of its own,
// all joined by a bridge (in a seventh namespace, the "switch"), with
// addresses of this test's own (10.77.N.0/24, N from the pid). Then one
// actor's switch port goes down for 10 s and comes back, like a pulled
// cable: the actor buffers within its bound and pauses, the rest of the
// cluster trains on, and after the heal its data flows again with no item
// lost or stored twice.
//
// The test makes and removes its namespaces itself (removed even when an
// assertion fails), and is skipped where `ip netns add` is refused (no root,
// no CAP_SYS_ADMIN, a kernel without network namespaces).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "common/child_process.h"
#include "common/testing/test_util.h"
#include "tests/fault/fault_cluster.h"
#include <sys/wait.h>
#include <unistd.h>

namespace shoal {
namespace {

using fault::ScrapeAt;
using fault::WaitFor;

struct CommandResult {
  int status = -1;
  std::string output;
};

// Runs `command` with /bin/sh, stderr folded into the output.
CommandResult Sh(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    result.output += buffer;
  }
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Namespaces and links of one test run. Member i gets
// - namespace "shoalf<pid>-<name>", with lo up;
// - eth0 = 10.77.N.(10+i)/24, a veth whose other end is a port of the
//   bridge br0 in namespace "shoalf<pid>-sw" (Cut/Heal set that port down
//   and up);
// - mgmt = 10.78.N.(4i+2)/30, a veth to this (the test's) namespace, where
//   its peer has 10.78.N.(4i+1): the test reads /metrics over it, also
//   while eth0 is cut. Only the test uses it: every server listens on, and
//   every client dials, the 10.77 addresses.
// The test's namespace also has a bridge port, 10.77.N.254, for Info.
// The destructor removes everything.
class NetnsLab {
 public:
  static absl::StatusOr<std::unique_ptr<NetnsLab>> Create(
      const std::vector<std::string>& members) {
    RemoveLeftovers();
    std::unique_ptr<NetnsLab> lab(new NetnsLab(members));
    const std::string sw = lab->Ns("sw");
    if (CommandResult r = Sh("ip netns add " + sw); r.status != 0) {
      return absl::UnavailableError(r.output);
    }
    lab->namespaces_.push_back(sw);
    std::vector<std::string> commands = {
        absl::StrCat("ip -n ", sw, " link add br0 type bridge"),
        absl::StrCat("ip -n ", sw, " link set br0 up")};
    for (size_t i = 0; i < members.size(); ++i) {
      const std::string ns = lab->Ns(members[i]);
      const std::string port = lab->SwitchPort(i);
      const std::string mgmt = absl::StrCat("fm", getpid(), "_", i);
      lab->namespaces_.push_back(ns);
      lab->root_links_.push_back(mgmt);
      for (const std::string& c : std::vector<std::string>{
               absl::StrCat("ip netns add ", ns),
               absl::StrCat("ip -n ", ns, " link set lo up"),
               absl::StrCat("ip link add ", port, " netns ", sw,
                            " type veth peer name eth0 netns ", ns),
               absl::StrCat("ip -n ", sw, " link set ", port, " master br0 up"),
               absl::StrCat("ip -n ", ns, " addr add ", lab->Ip(i),
                            "/24 dev eth0"),
               absl::StrCat("ip -n ", ns, " link set eth0 up"),
               absl::StrCat("ip link add ", mgmt,
                            " type veth peer name mgmt netns ", ns),
               absl::StrCat("ip addr add ", lab->Net(78, 4 * i + 1), "/30 dev ",
                            mgmt),
               absl::StrCat("ip link set ", mgmt, " up"),
               absl::StrCat("ip -n ", ns, " addr add ", lab->MgmtIp(i),
                            "/30 dev mgmt"),
               absl::StrCat("ip -n ", ns, " link set mgmt up")}) {
        commands.push_back(c);
      }
    }
    const std::string root_port = absl::StrCat("fr", getpid());
    lab->root_links_.push_back(root_port);
    for (const std::string& c : std::vector<std::string>{
             absl::StrCat("ip link add ", root_port,
                          " type veth peer name rootport netns ", sw),
             absl::StrCat("ip -n ", sw, " link set rootport master br0 up"),
             absl::StrCat("ip addr add ", lab->Net(77, 254), "/24 dev ",
                          root_port),
             absl::StrCat("ip link set ", root_port, " up")}) {
      commands.push_back(c);
    }
    for (const std::string& c : commands) {
      if (CommandResult r = Sh(c); r.status != 0) {
        return absl::InternalError(absl::StrCat(c, ": ", r.output));
      }
    }
    return lab;
  }

  ~NetnsLab() {
    for (const std::string& link : root_links_) Sh("ip link del " + link);
    for (const std::string& ns : namespaces_) Sh("ip netns del " + ns);
  }

  std::string Ns(const std::string& member) const {
    return absl::StrCat("shoalf", getpid(), "-", member);
  }
  std::string Ns(size_t i) const { return Ns(members_[i]); }
  // 10.77.N.(10+i): where member i listens and is dialled.
  std::string Ip(size_t i) const { return Net(77, 10 + i); }
  std::string MgmtIp(size_t i) const { return Net(78, 4 * i + 2); }

  // Sets member i's switch port down (Cut) or up (Heal).
  absl::Status Cut(size_t i) { return SetPort(i, "down"); }
  absl::Status Heal(size_t i) { return SetPort(i, "up"); }

 private:
  // Deletes the namespaces of earlier runs whose process is gone (killed
  // before its destructor ran); their veths go with them.
  static void RemoveLeftovers() {
    const CommandResult list = Sh("ip netns list");
    for (absl::string_view line : absl::StrSplit(list.output, '\n')) {
      if (!absl::StartsWith(line, "shoalf")) continue;
      const std::string name(line.substr(0, line.find(' ')));
      const int pid = std::atoi(name.c_str() + 6);
      if (pid > 0 && access(absl::StrCat("/proc/", pid).c_str(), F_OK) != 0) {
        Sh("ip netns del " + name);
      }
    }
  }

  explicit NetnsLab(std::vector<std::string> members)
      : members_(std::move(members)), net_(20 + getpid() % 200) {}

  std::string Net(int prefix, size_t host) const {
    return absl::StrCat("10.", prefix, ".", net_, ".", host);
  }
  std::string SwitchPort(size_t i) const {
    return absl::StrCat("fs", getpid(), "_", i);
  }
  absl::Status SetPort(size_t i, const std::string& state) {
    const std::string c = absl::StrCat("ip -n ", Ns("sw"), " link set ",
                                       SwitchPort(i), " ", state);
    CommandResult r = Sh(c);
    return r.status == 0 ? absl::OkStatus()
                         : absl::InternalError(c + ": " + r.output);
  }

  const std::vector<std::string> members_;
  const int net_;
  std::vector<std::string> namespaces_;
  std::vector<std::string> root_links_;
};

// A shoal binary started inside namespace `ns` (ip netns exec execs it, so
// the child is the binary itself), with its metrics port.
struct NsProcess {
  std::unique_ptr<ChildProcess> process;
  int metrics_port = -1;
};

absl::StatusOr<NsProcess> StartInNs(const std::string& ns,
                                    const std::string& name,
                                    const std::string& program,
                                    std::vector<std::string> args,
                                    const std::string& dir) {
  ChildProcessOptions options;
  options.name = name;
  options.argv = {"/usr/sbin/ip", "netns", "exec", ns};
  if (access(options.argv[0].c_str(), X_OK) != 0) options.argv[0] = "/sbin/ip";
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.log_file = absl::StrCat(dir, "/", name, ".log");
  NsProcess started;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start(options);
  if (!child.ok()) return child.status();
  started.process = *std::move(child);
  absl::StatusOr<int> port =
      started.process->WaitForPort(program + " metrics on ", absl::Seconds(60));
  if (!port.ok()) return port.status();
  started.metrics_port = *port;
  return started;
}

double MetricAt(const std::string& host, int port, absl::string_view series) {
  absl::StatusOr<MetricSamples> m = ScrapeAt(host, port, absl::Seconds(2));
  return m.ok() ? m->Get(series, -1) : -1;
}

// The switch port of actor-0 goes down for 10 s. While it is down, actor-0
// fills its resend buffer and pauses stepping (unacked bytes never above
// max_unacked_bytes), the learner keeps training on the other actors'
// items, and nothing crashes. After the heal, actor-0's items are
// acknowledged again and it steps on. How the stream comes back depends on
// what noticed the cut: 10 s is less than gRPC keepalive needs to declare
// the connection dead (20 s ping interval + 10 s timeout, and the servers
// refuse pings more often than every 10 s), so usually TCP's own
// retransmission (with its exponential backoff) carries the same stream on
// once the link is back and nothing needs resending; when the stream did
// break, the writer reconnects with backoff and resends what was
// unacknowledged (items_resent rises). Either way the shards drop no more
// replays than were resent, and no actor flush fails at the end.
TEST(NetnsFaultTest, ActorCutOffForTenSecondsBuffersWithinBoundAndCarriesOn) {
  if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  const std::vector<std::string> members = {"r0", "r1", "l", "a0", "a1", "a2"};
  absl::StatusOr<std::unique_ptr<NetnsLab>> made = NetnsLab::Create(members);
  if (!made.ok() && absl::IsUnavailable(made.status())) {
    GTEST_SKIP() << "ip netns add refused here: " << made.status().message();
  }
  ASSERT_TRUE(made.ok()) << made.status();
  NetnsLab& lab = **made;
  const std::string dir = MakeTempDir("fault-netns-").value();
  // min_size, so that the actors' final flush is not paced by the learner
  // (see cluster_fault_test); each env step takes 250 us (about 4,000 items/s
  // per actor), so six processes share two cores.
  const std::string config = dir + "/cartpole_min_size.yaml";
  ASSERT_TRUE(WriteTestFile(config, fault::MinSizeCartpoleYaml()).ok());
  fault::FaultClusterOptions cluster_options;
  cluster_options.extra_set = "env.step_cost_us=250";
  const std::string set = "--set=" + fault::FaultClusterSet(cluster_options);
  const ClusterBinaries bin = fault::Binaries();
  const std::string replay =
      absl::StrCat(lab.Ip(0), ":7000,", lab.Ip(1), ":7000");
  const std::string learner = absl::StrCat(lab.Ip(2), ":7001");

  // Declared after the lab: destroyed (killed) before it.
  std::vector<NsProcess> shards;
  for (int i = 0; i < 2; ++i) {
    auto p = StartInNs(
        lab.Ns(i), absl::StrCat("replay-", i), "shoal-replay",
        {bin.replay, "--config=" + config, set, "--host=" + lab.Ip(i),
         "--port=7000", absl::StrCat("--shard_index=", i), "--metrics_port=0",
         absl::StrCat("--checkpoint_dir=", dir, "/replay-", i)},
        dir);
    ASSERT_TRUE(p.ok()) << p.status();
    shards.push_back(*std::move(p));
  }
  auto learner_process = StartInNs(
      lab.Ns(2), "learner", "shoal-learner",
      {bin.learner, "--config=" + config, set, "--host=" + lab.Ip(2),
       "--port=7001", "--replay=" + replay, "--metrics_port=0",
       "--checkpoint_dir=" + dir + "/learner", "--logdir=" + dir + "/tb"},
      dir);
  ASSERT_TRUE(learner_process.ok()) << learner_process.status();
  std::vector<NsProcess> actors;
  for (int i = 0; i < 3; ++i) {
    auto p = StartInNs(lab.Ns(3 + i), absl::StrCat("actor-", i), "shoal-actor",
                       {bin.actor, "--config=" + config, set,
                        absl::StrCat("--actor_index=", i), "--replay=" + replay,
                        "--learner=" + learner, "--metrics_port=0"},
                       dir);
    ASSERT_TRUE(p.ok()) << p.status();
    actors.push_back(*std::move(p));
  }
  auto actor0 = [&](absl::string_view series) {
    return MetricAt(lab.MgmtIp(3), actors[0].metrics_port, series);
  };
  auto learner_steps = [&] {
    return MetricAt(lab.Ip(2), learner_process->metrics_port,
                    "shoal_learner_steps_total");
  };
  auto sum_actors = [&](absl::string_view series) {
    double sum = 0;
    for (int i = 0; i < 3; ++i) {
      sum += std::max(
          0.0, MetricAt(lab.MgmtIp(3 + i), actors[i].metrics_port, series));
    }
    return sum;
  };
  auto sum_shards = [&](absl::string_view series) {
    double sum = 0;
    for (int i = 0; i < 2; ++i) {
      sum += std::max(0.0, MetricAt(lab.Ip(i), shards[i].metrics_port, series));
    }
    return sum;
  };
  auto everyone_runs = [&]() -> std::string {
    std::string dead;
    for (NsProcess* p : {&shards[0], &shards[1], &*learner_process, &actors[0],
                         &actors[1], &actors[2]}) {
      if (p->process->Poll().has_value()) {
        absl::StrAppend(&dead, p->process->name(), ":\n",
                        p->process->LogTail(1500));
      }
    }
    return dead;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return learner_steps() > 100 &&
               actor0("shoal_actor_items_acked_total") > 1000;
      },
      absl::Seconds(60)))
      << everyone_runs() << "\n"
      << actors[0].process->LogTail() << learner_process->process->LogTail();

  const double max_unacked =
      262144;  // cartpole_dqn.yaml actor.max_unacked_bytes
  const double acked_before = actor0("shoal_actor_items_acked_total");
  const double resent_before = actor0("shoal_actor_items_resent_total");
  const double reconnects_before =
      actor0("shoal_actor_replay_reconnects_total");
  const double steps_before = learner_steps();
  ASSERT_TRUE(lab.Cut(3).ok());
  const absl::Time cut = absl::Now();
  double max_seen_unacked = 0;
  double env_steps_mid = -1;
  double acked_at_heal = 0;
  while (absl::Now() - cut < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(500));
    max_seen_unacked =
        std::max(max_seen_unacked, actor0("shoal_actor_unacked_bytes"));
    if (absl::Now() - cut > absl::Seconds(4) && env_steps_mid < 0) {
      env_steps_mid = actor0("shoal_actor_env_steps_total");
    }
  }
  const double env_steps_end = actor0("shoal_actor_env_steps_total");
  acked_at_heal = actor0("shoal_actor_items_acked_total");
  const double steps_at_heal = learner_steps();
  ASSERT_TRUE(lab.Heal(3).ok());
  const absl::Time healed = absl::Now();

  EXPECT_GT(max_seen_unacked, 0);
  EXPECT_LE(max_seen_unacked, max_unacked);
  // Paused: no more steps in the second half of the cut than one batch.
  EXPECT_LE(env_steps_end - env_steps_mid, 8 * 2)
      << "actor-0 kept stepping with its link down (" << env_steps_mid << " -> "
      << env_steps_end << ")";
  EXPECT_GT(steps_at_heal, steps_before) << "the learner stalled";
  EXPECT_EQ(everyone_runs(), "");

  // Back: acks flow again and it steps on.
  EXPECT_TRUE(WaitFor(
      [&] {
        return actor0("shoal_actor_items_acked_total") > acked_at_heal + 1000 &&
               actor0("shoal_actor_env_steps_total") > env_steps_end + 100;
      },
      absl::Seconds(30)))
      << actors[0].process->LogTail();
  const absl::Duration to_recover = absl::Now() - healed;
  const double resent =
      actor0("shoal_actor_items_resent_total") - resent_before;
  const double reconnects =
      actor0("shoal_actor_replay_reconnects_total") - reconnects_before;
  if (reconnects > 0) {
    EXPECT_GT(resent, 0);
  }
  EXPECT_GT(actor0("shoal_actor_items_acked_total"), acked_before);
  EXPECT_LE(sum_shards("shoal_replay_duplicate_items_total"),
            sum_actors("shoal_actor_items_resent_total"));
  EXPECT_EQ(sum_actors("shoal_actor_items_rejected_total"), 0);
  EXPECT_EQ(everyone_runs(), "");
  std::printf(
      "[ fault    ] netns cut 10 s: max unacked %.0f of %.0f bytes, "
      "reconnects %.0f, resent %.0f, acks flowing %s after the heal; learner "
      "%.0f -> %.0f steps during the cut\n",
      max_seen_unacked, max_unacked, reconnects, resent,
      absl::FormatDuration(to_recover).c_str(), steps_before, steps_at_heal);

  // Clean stop: actors flush within their 5 s, then learner, then shards.
  for (NsProcess& a : actors) a.process->Signal(SIGTERM);
  for (NsProcess& a : actors) {
    EXPECT_EQ(a.process->Wait(absl::Now() + absl::Seconds(20)), 0)
        << a.process->LogTail();
    EXPECT_EQ(ReadTestFile(a.process->log_file()).find("replay flush:"),
              std::string::npos)
        << a.process->LogTail();
  }
  learner_process->process->Signal(SIGTERM);
  EXPECT_EQ(learner_process->process->Wait(absl::Now() + absl::Seconds(20)), 0);
  for (NsProcess& s : shards) s.process->Signal(SIGTERM);
  for (NsProcess& s : shards) {
    EXPECT_EQ(s.process->Wait(absl::Now() + absl::Seconds(20)), 0);
  }
}

}  // namespace
}  // namespace shoal
