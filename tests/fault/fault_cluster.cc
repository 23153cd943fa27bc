#include "tests/fault/fault_cluster.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/testing/test_util.h"
#include "replay/record_file.h"
#include "replay/replay_server.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal {
namespace fault {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

std::string SourceDir() { return Env("SHOAL_SOURCE_DIR"); }
std::string BinaryDir() { return Env("SHOAL_BINARY_DIR"); }

ClusterBinaries Binaries() {
  const std::string dir = BinaryDir();
  ClusterBinaries binaries;
  binaries.replay = dir + "/replay/shoal-replay";
  binaries.learner = dir + "/learner/shoal-learner";
  binaries.actor = dir + "/actor/shoal-actor";
  return binaries;
}

std::string FaultClusterSet(const FaultClusterOptions& options) {
  std::string set = absl::StrCat(
      "replay.shards=", options.shards, ";actor.num_actors=", options.actors,
      ";replay.checkpoint_every_s=1;learner.checkpoint_every_s=2"
      ";network.hidden[0]=64;network.hidden[1]=64;eval.episodes=0");
  if (!options.extra_set.empty()) absl::StrAppend(&set, ";", options.extra_set);
  return set;
}

std::string MinSizeCartpoleYaml() {
  const std::string yaml =
      ReadTestFile(SourceDir() + "/deploy/configs/cartpole_dqn.yaml");
  std::string out;
  for (absl::string_view line : absl::StrSplit(yaml, '\n')) {
    if (absl::StrContains(line, "samples_per_insert:") ||
        absl::StrContains(line, "error_buffer:")) {
      continue;
    }
    if (absl::StrContains(line, "kind: sample_to_insert_ratio")) {
      absl::StrAppend(&out, "      kind: min_size\n");
      continue;
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<LocalCluster>> StartFaultCluster(
    const std::string& run_dir, const FaultClusterOptions& options) {
  LocalClusterOptions cluster;
  cluster.config_file = SourceDir() + "/deploy/configs/cartpole_dqn.yaml";
  if (options.min_size_limiter) {
    cluster.config_file = run_dir + "/cartpole_min_size.yaml";
    std::ofstream(cluster.config_file) << MinSizeCartpoleYaml();
  }
  cluster.set = FaultClusterSet(options);
  cluster.run_dir = run_dir;
  cluster.binaries = Binaries();
  cluster.num_shards = options.shards;
  cluster.num_actors = options.actors;
  cluster.eval = false;
  cluster.stop_timeout = absl::Seconds(20);
  return LocalCluster::Start(std::move(cluster));
}

absl::StatusOr<MetricSamples> ScrapeAt(const std::string& host, int port,
                                       absl::Duration timeout) {
  const std::string where = absl::StrCat("GET ", host, ":", port, "/metrics: ");
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(where + std::strerror(errno));
  const timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    return absl::InvalidArgumentError(where + "not an IPv4 address");
  }
  const std::string request = absl::StrCat(
      "GET /metrics HTTP/1.0\r\nHost: ", host, "\r\nConnection: close\r\n\r\n");
  std::string response;
  bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size());
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[16384];
  while (ok && absl::Now() < deadline) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      ok = errno == EINTR;
      continue;
    }
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (!ok || !absl::StartsWith(response, "HTTP/1.") ||
      response.find(" 200 ") > response.find('\n') ||
      body == std::string::npos) {
    return absl::UnavailableError(where + "no HTTP 200 answer");
  }
  return ParseMetricsText(absl::string_view(response).substr(body + 4));
}

double Metric(LocalCluster& cluster, const std::string& child,
              absl::string_view series) {
  ClusterChild* c = cluster.child(child);
  if (c == nullptr || !c->process->running()) return -1;
  absl::StatusOr<MetricSamples> m =
      ScrapeMetrics(c->metrics_port, absl::Seconds(2));
  if (!m.ok() || !m->Has(series)) return -1;
  return m->Get(series);
}

double SumMetric(LocalCluster& cluster, absl::string_view prefix,
                 absl::string_view series) {
  double sum = 0;
  for (const ClusterChild& c : cluster.children()) {
    if (!absl::StartsWith(c.process->name(), prefix)) continue;
    const double value = Metric(cluster, c.process->name(), series);
    if (value > 0) sum += value;
  }
  return sum;
}

absl::StatusOr<v1::TableInfo> TableInfoAt(const std::string& address,
                                          absl::string_view table,
                                          absl::Duration timeout) {
  auto stub = v1::ReplayService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::InfoRequest request;
  request.set_table(std::string(table));
  v1::InfoResponse response;
  if (grpc::Status s = stub->Info(&context, request, &response); !s.ok()) {
    return FromGrpcStatus(s);
  }
  if (response.tables_size() != 1) {
    return absl::NotFoundError(absl::StrCat("no table ", table));
  }
  return response.tables(0);
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout,
             absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(poll);
  }
}

std::vector<int64_t> ValuesOnLines(absl::string_view text,
                                   absl::string_view marker,
                                   absl::string_view key) {
  std::vector<int64_t> values;
  const std::string needle(key);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StrContains(line, marker)) continue;
    const size_t at = line.find(needle);
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = line.substr(at + needle.size());
    rest = rest.substr(0, rest.find_first_not_of("-0123456789"));
    int64_t value = 0;
    if (absl::SimpleAtoi(rest, &value)) values.push_back(value);
  }
  return values;
}

absl::StatusOr<CheckpointedTable> ReadNewestCheckpoint(
    const std::string& dir, absl::string_view table) {
  const std::vector<std::string> complete = ListCompleteCheckpoints(dir);
  if (complete.empty()) {
    return absl::NotFoundError(absl::StrCat("no complete checkpoint in ", dir));
  }
  CheckpointedTable out;
  out.path = complete.back();
  SHOAL_ASSIGN_OR_RETURN(RecordReader reader,
                         RecordReader::Open(out.path + "/shard.records"));
  v1::CheckpointHeader header;
  SHOAL_RETURN_IF_ERROR(reader.Read(&header));
  for (int t = 0; t < header.num_tables(); ++t) {
    v1::TableCheckpointHeader table_header;
    SHOAL_RETURN_IF_ERROR(reader.Read(&table_header));
    const bool wanted = table_header.name() == table;
    for (int64_t i = 0; i < table_header.num_items(); ++i) {
      v1::CheckpointItem item;
      SHOAL_RETURN_IF_ERROR(reader.Read(&item));
      if (wanted) out.items.push_back(std::move(item));
    }
    if (wanted) {
      out.header = std::move(table_header);
      return out;
    }
  }
  return absl::NotFoundError(
      absl::StrCat(out.path, " has no table named ", table));
}

std::string ReplayProcess::address() const {
  return absl::StrCat("127.0.0.1:", port);
}

absl::StatusOr<ReplayProcess> StartReplayProcess(
    const std::string& config_file, const std::string& log_file,
    std::vector<std::string> args) {
  ReplayProcess replay;
  SHOAL_ASSIGN_OR_RETURN(replay.port, PickFreePort());
  ChildProcessOptions options;
  options.name = "replay";
  options.argv = {Binaries().replay, "--config=" + config_file,
                  "--host=127.0.0.1", absl::StrCat("--port=", replay.port),
                  "--metrics_port=0"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.log_file = log_file;
  SHOAL_ASSIGN_OR_RETURN(replay.process, ChildProcess::Start(options));
  SHOAL_ASSIGN_OR_RETURN(const int listening,
                         replay.process->WaitForPort(
                             "shoal-replay listening on ", absl::Seconds(30)));
  if (listening != replay.port) {
    return absl::InternalError(absl::StrCat("shoal-replay listens on ",
                                            listening, ", not ", replay.port));
  }
  SHOAL_ASSIGN_OR_RETURN(replay.metrics_port,
                         replay.process->WaitForPort("shoal-replay metrics on ",
                                                     absl::Seconds(30)));
  return replay;
}

}  // namespace fault
}  // namespace shoal
