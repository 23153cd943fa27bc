// soak_bench: one real shoal-replay process under a long steady load: 64
// insert streams (each on its own connection, one batch in flight, like 64
// actors) and 4 samplers, for --duration_s (300 by default). The table is
// bounded by max_bytes, so after the first seconds every insert evicts.
//
// Every --report_every_s (10) it prints one JSON line for the interval:
//   {"bench": "soak", "t_s", "insert_items_per_s", "insert_MB_per_s",
//    "sample_items_per_s", "insert_ack_p50_ms", "insert_ack_p99_ms",
//    "rss_MiB", "table_MiB", "table_size", "evictions"}
// and at the end one summary line:
//   {"bench": "soak_summary", ..., "throughput_ratio", "throughput_limit",
//    "rss_ratio", "rss_limit", "pass"}
// where throughput_ratio is the insert rate of the last window over that of
// the first (limit >= 0.9: no slowdown over time) and rss_ratio the shard's
// resident memory at the end over that at the end of the first window
// (limit <= 1.1: flat). A window is the first / last minute, or half the
// run when it is shorter than two minutes.
//
// Not a test:
//   build/tests/soak_bench --duration_s=60
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/child_process.h"
#include "common/process.h"
#include "common/testing/test_util.h"
#include <unistd.h>

ABSL_FLAG(int, duration_s, 300, "Seconds of load.");
ABSL_FLAG(int, report_every_s, 10, "Seconds between report lines.");
ABSL_FLAG(int, streams, 64, "Concurrent insert streams.");
ABSL_FLAG(int, samplers, 4, "Concurrent sample streams.");
ABSL_FLAG(int, item_bytes, 1024, "Payload bytes per item.");
ABSL_FLAG(int, batch, 16, "Items per InsertRequest.");
ABSL_FLAG(int, sample_batch, 256, "Items per SampleRequest.");
ABSL_FLAG(int64_t, max_bytes, 128 << 20, "The table's max_bytes bound.");
ABSL_FLAG(int, checkpoint_every_s, 0,
          "Shard checkpoints every N s (0 = none; they go to a temp dir).");
ABSL_FLAG(std::string, replay_binary, "",
          "shoal-replay; default: <this binary's dir>/../replay/shoal-replay.");

namespace shoal {
namespace {

constexpr char kTable[] = "soak";

std::string SelfDir() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return ".";
  std::string self(path, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/'));
}

std::string ConfigYaml(int item_bytes, int64_t max_bytes) {
  return absl::StrCat(R"(experiment: soak
tables:
  - name: soak
    sampler: {kind: uniform}
    remover: {kind: fifo}
    max_size: 4000000
    max_bytes: )",
                      max_bytes, R"(
    rate_limiter: {kind: min_size, min_size_to_sample: 1000}
    signature:
      - {name: payload, dtype: uint8, shape: [)",
                      item_bytes, R"(]}
replay: {shards: 1, max_message_bytes: 16777216}
actor: {table: soak}
learner: {table: soak}
stop: {env_steps: 1}
)");
}

// A channel with a connection of its own.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int id) {
  grpc::ChannelArguments args;
  args.SetInt("shoal.soak.connection", id);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// What the load threads count; the reporter takes it interval by interval.
struct Counters {
  std::atomic<int64_t> inserted{0};
  std::atomic<int64_t> sampled{0};
  std::atomic<int64_t> errors{0};
  absl::Mutex mu;
  std::vector<float> ack_ms ABSL_GUARDED_BY(mu);  // this interval's
  std::string last_error ABSL_GUARDED_BY(mu);

  void Error(const std::string& what) {
    errors.fetch_add(1);
    absl::MutexLock lock(&mu);
    last_error = what;
  }
};

void InsertLoop(const std::string& address, int id, int batch, int item_bytes,
                const std::atomic<bool>* stop, Counters* counters) {
  auto stub = v1::ReplayService::NewStub(OwnChannel(address, id));
  v1::InsertRequest request;
  request.set_writer_id(static_cast<uint64_t>(id) + 1);
  for (int i = 0; i < batch; ++i) {
    v1::Item* item = request.add_items();
    item->set_table(kTable);
    v1::Tensor* column = item->add_columns();
    column->set_dtype(v1::DTYPE_UINT8);
    column->add_shape(item_bytes);
    column->set_data(std::string(static_cast<size_t>(item_bytes),
                                 static_cast<char>(id + i)));
  }
  uint64_t sequence = 1;
  std::vector<float> local;
  while (!stop->load()) {
    grpc::ClientContext context;
    auto stream = stub->InsertStream(&context);
    v1::InsertResponse ack;
    while (!stop->load()) {
      request.set_first_sequence(sequence);
      const absl::Time sent = absl::Now();
      if (!stream->Write(request) || !stream->Read(&ack)) break;
      const float ms =
          static_cast<float>(absl::ToDoubleMilliseconds(absl::Now() - sent));
      if (ack.has_error()) {
        counters->Error("insert rejected: " + ack.error().message());
      } else {
        counters->inserted.fetch_add(batch);
      }
      sequence += static_cast<uint64_t>(batch);
      local.push_back(ms);
      if (local.size() >= 64) {
        absl::MutexLock lock(&counters->mu);
        counters->ack_ms.insert(counters->ack_ms.end(), local.begin(),
                                local.end());
        local.clear();
      }
    }
    context.TryCancel();
    const grpc::Status status = stream->Finish();
    if (!stop->load()) {
      counters->Error("insert stream: " + status.error_message());
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

void SampleLoop(const std::string& address, int id, int batch,
                const std::atomic<bool>* stop, Counters* counters) {
  auto stub = v1::ReplayService::NewStub(OwnChannel(address, 1000 + id));
  while (!stop->load()) {
    grpc::ClientContext context;
    auto stream = stub->SampleStream(&context);
    v1::SampleRequest request;
    request.set_table(kTable);
    request.set_num_samples(batch);
    request.set_timeout_ms(5000);
    v1::SampleResponse response;
    bool ok = true;
    while (ok && !stop->load()) {
      ok = stream->Write(request);
      while (ok && stream->Read(&response)) {
        counters->sampled.fetch_add(response.items_size());
        if (response.end_of_request()) break;
      }
      ok = ok && response.end_of_request();
    }
    context.TryCancel();
    const grpc::Status status = stream->Finish();
    if (!stop->load()) {
      counters->Error("sample stream: " + status.error_message());
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

absl::StatusOr<v1::TableInfo> Info(v1::ReplayService::Stub* stub) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::InfoRequest request;
  request.set_table(kTable);
  v1::InfoResponse response;
  grpc::Status s = stub->Info(&context, request, &response);
  if (!s.ok() || response.tables_size() != 1) {
    return absl::UnavailableError(s.error_message());
  }
  return response.tables(0);
}

double Percentile(std::vector<float>* v, double q) {
  if (v->empty()) return 0;
  const size_t k = std::min(v->size() - 1, static_cast<size_t>(q * v->size()));
  std::nth_element(v->begin(), v->begin() + k, v->end());
  return (*v)[k];
}

struct Interval {
  double t_s;
  double insert_per_s;
  int64_t rss;
};

int Run() {
  const int duration_s = absl::GetFlag(FLAGS_duration_s);
  const int every_s = std::max(1, absl::GetFlag(FLAGS_report_every_s));
  const int item_bytes = absl::GetFlag(FLAGS_item_bytes);
  const int batch = absl::GetFlag(FLAGS_batch);
  absl::StatusOr<std::string> dir = MakeTempDir("soak-bench-");
  if (!dir.ok()) return 1;
  const std::string config = *dir + "/soak.yaml";
  if (!WriteTestFile(config,
                     ConfigYaml(item_bytes, absl::GetFlag(FLAGS_max_bytes)))
           .ok()) {
    return 1;
  }
  absl::StatusOr<int> port = PickFreePort();
  if (!port.ok()) return 1;
  std::string binary = absl::GetFlag(FLAGS_replay_binary);
  if (binary.empty()) binary = SelfDir() + "/../replay/shoal-replay";
  ChildProcessOptions options;
  options.name = "replay";
  options.argv = {binary, "--config=" + config, "--host=127.0.0.1",
                  absl::StrCat("--port=", *port)};
  if (absl::GetFlag(FLAGS_checkpoint_every_s) > 0) {
    options.argv.push_back("--checkpoint_dir=" + *dir + "/ckpt");
    options.argv.push_back(absl::StrCat(
        "--checkpoint_every_s=", absl::GetFlag(FLAGS_checkpoint_every_s)));
  }
  options.log_file = *dir + "/replay.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> replay =
      ChildProcess::Start(options);
  if (!replay.ok() ||
      !(*replay)
           ->WaitForPort("shoal-replay listening on ", absl::Seconds(30))
           .ok()) {
    std::fprintf(stderr, "soak_bench: shoal-replay did not start (%s): %s\n",
                 binary.c_str(),
                 replay.ok() ? (*replay)->LogTail().c_str()
                             : replay.status().ToString().c_str());
    return 1;
  }
  const pid_t pid = (*replay)->pid();
  const std::string address = absl::StrCat("127.0.0.1:", *port);
  auto stub = v1::ReplayService::NewStub(OwnChannel(address, -1));
  const int64_t rss_idle = ResidentBytes(pid);

  Counters counters;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < absl::GetFlag(FLAGS_streams); ++i) {
    threads.emplace_back(InsertLoop, address, i, batch, item_bytes, &stop,
                         &counters);
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_samplers); ++i) {
    threads.emplace_back(SampleLoop, address, i,
                         absl::GetFlag(FLAGS_sample_batch), &stop, &counters);
  }

  std::vector<Interval> intervals;
  const absl::Time start = absl::Now();
  absl::Time last = start;
  int64_t last_inserted = 0;
  int64_t last_sampled = 0;
  while (absl::Now() - start < absl::Seconds(duration_s)) {
    const absl::Time next = std::min(last + absl::Seconds(every_s),
                                     start + absl::Seconds(duration_s));
    absl::SleepFor(next - absl::Now());
    const absl::Time now = absl::Now();
    const double seconds = absl::ToDoubleSeconds(now - last);
    const int64_t inserted = counters.inserted.load();
    const int64_t sampled = counters.sampled.load();
    std::vector<float> acks;
    {
      absl::MutexLock lock(&counters.mu);
      acks.swap(counters.ack_ms);
    }
    const int64_t rss = ResidentBytes(pid);
    absl::StatusOr<v1::TableInfo> info = Info(stub.get());
    Interval interval;
    interval.t_s = absl::ToDoubleSeconds(now - start);
    interval.insert_per_s = (inserted - last_inserted) / seconds;
    interval.rss = rss;
    intervals.push_back(interval);
    std::printf(
        "{\"bench\": \"soak\", \"t_s\": %.1f, \"insert_items_per_s\": %.0f, "
        "\"insert_MB_per_s\": %.1f, \"sample_items_per_s\": %.0f, "
        "\"insert_ack_p50_ms\": %.3f, \"insert_ack_p99_ms\": %.3f, "
        "\"rss_MiB\": %.1f, \"table_MiB\": %.1f, \"table_size\": %lld, "
        "\"evictions\": %lld, \"errors\": %lld}\n",
        interval.t_s, interval.insert_per_s,
        interval.insert_per_s * item_bytes / 1e6,
        (sampled - last_sampled) / seconds, Percentile(&acks, 0.5),
        Percentile(&acks, 0.99), rss / 1048576.0,
        info.ok() ? info->bytes() / 1048576.0 : -1.0,
        info.ok() ? static_cast<long long>(info->size()) : -1LL,
        info.ok() ? static_cast<long long>(info->evictions()) : -1LL,
        static_cast<long long>(counters.errors.load()));
    std::fflush(stdout);
    last = now;
    last_inserted = inserted;
    last_sampled = sampled;
    if ((*replay)->Poll().has_value()) {
      std::fprintf(stderr, "soak_bench: shoal-replay died:\n%s\n",
                   (*replay)->LogTail().c_str());
      stop = true;
      for (std::thread& t : threads) t.join();
      return 1;
    }
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  (*replay)->Signal(SIGTERM);
  (*replay)->Wait(absl::Now() + absl::Seconds(30));

  // First and last windows: a minute each, or half the run when shorter,
  // counted in whole report intervals.
  const double total = intervals.empty() ? 0 : intervals.back().t_s;
  const double window = std::min(60.0, total / 2);
  const size_t n = intervals.size();
  const size_t k = std::max<size_t>(
      1, std::min(n / 2, static_cast<size_t>(window / every_s + 0.5)));
  double first_rate = 0, end_rate = 0;
  for (size_t i = 0; i < k && i < n; ++i) {
    first_rate += intervals[i].insert_per_s / k;
    end_rate += intervals[n - 1 - i].insert_per_s / k;
  }
  const int64_t rss_first = n >= k ? intervals[k - 1].rss : 0;
  const int64_t rss_end = intervals.empty() ? 0 : intervals.back().rss;
  const double throughput_ratio = first_rate > 0 ? end_rate / first_rate : 0;
  const double rss_ratio =
      rss_first > 0 ? static_cast<double>(rss_end) / rss_first : 0;
  const bool pass = throughput_ratio >= 0.9 && rss_ratio <= 1.1;
  std::string last_error;
  {
    absl::MutexLock lock(&counters.mu);
    for (char c : counters.last_error) {
      if (c != '"' && c != '\\' && c >= ' ') last_error.push_back(c);
    }
  }
  std::printf(
      "{\"bench\": \"soak_summary\", \"duration_s\": %.0f, \"window_s\": "
      "%.0f, \"streams\": %d, \"samplers\": %d, \"item_bytes\": %d, "
      "\"max_bytes_MiB\": %.0f, \"throughput_first_items_per_s\": %.0f, "
      "\"throughput_end_items_per_s\": %.0f, \"throughput_ratio\": %.3f, "
      "\"throughput_limit\": 0.9, \"rss_idle_MiB\": %.1f, "
      "\"rss_first_MiB\": %.1f, \"rss_end_MiB\": %.1f, \"rss_ratio\": %.3f, "
      "\"rss_limit\": 1.1, \"errors\": %lld, \"last_error\": \"%s\", "
      "\"pass\": %s}\n",
      total, window, absl::GetFlag(FLAGS_streams),
      absl::GetFlag(FLAGS_samplers), item_bytes,
      absl::GetFlag(FLAGS_max_bytes) / 1048576.0, first_rate, end_rate,
      throughput_ratio, rss_idle / 1048576.0, rss_first / 1048576.0,
      rss_end / 1048576.0, rss_ratio,
      static_cast<long long>(counters.errors.load()), last_error.c_str(),
      pass ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::ParseFlags(argc, argv,
                    "soak_bench [--duration_s 300]: 64 insert streams and 4 "
                    "samplers against one shoal-replay; JSON lines");
  return shoal::Run();
}
