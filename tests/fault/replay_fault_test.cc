// Fault tests of one real shoal-replay process and its network path:
//
// - stream resets in the insert path: a ReplayWriter writes through a TCP
//   proxy that cuts its connection every few tens of KiB and every 700 ms;
//   afterwards the table holds every item exactly once;
// - slow and stalled clients: insert and sample streams that never read
//   their responses, and raw TCP connections that stop in the middle of an
//   HTTP/2 frame or of a gRPC message, hang on their own while a normal
//   client's inserts and Info calls complete with their usual latency.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/testing/test_util.h"
#include "replay/client/replay_writer.h"
#include "replay/replay_service.h"
#include "replay/testing/testing.h"
#include "tests/fault/fault_cluster.h"
#include "tests/fault/tcp_proxy.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal {
namespace {

using fault::ReplayProcess;
using fault::ScrapeAt;

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> ids(to - from);
  std::iota(ids.begin(), ids.end(), from);
  return ids;
}

ReplayProcess StartShard(const std::string& dir, const std::string& yaml) {
  const std::string config = dir + "/shard.yaml";
  EXPECT_TRUE(WriteTestFile(config, yaml).ok());
  absl::StatusOr<ReplayProcess> replay =
      fault::StartReplayProcess(config, dir + "/replay.log", {});
  EXPECT_TRUE(replay.ok()) << replay.status();
  return replay.ok() ? *std::move(replay) : ReplayProcess();
}

double ShardMetric(const ReplayProcess& replay, absl::string_view series) {
  absl::StatusOr<MetricSamples> m =
      ScrapeAt("127.0.0.1", replay.metrics_port, absl::Seconds(2));
  return m.ok() ? m->Get(series, -1) : -1;
}

// 20,000 id items through a proxy that resets the connection after 24-72
// KiB of inserts and every 700 ms (mid-frame and mid-message included).
// Each reset loses what was in flight both ways; the writer reconnects and
// resends everything unacknowledged, and the shard drops the sequence
// numbers it had stored. Afterwards: every id exactly once, the table's
// insert count is exactly the item count, and the shard's duplicate counter
// shows that replays did arrive and were dropped.
TEST(ReplayFaultTest, WriterBehindAFlakyProxyStoresEveryItemExactlyOnce) {
  constexpr int64_t kItems = 20000;
  const std::string dir = MakeTempDir("fault-proxy-").value();
  ReplayProcess replay =
      StartShard(dir, FifoIdTableYaml(/*shards=*/1, /*max_size=*/100000));
  ASSERT_NE(replay.process, nullptr);
  fault::TcpProxyOptions proxy_options;
  proxy_options.target_port = replay.port;
  proxy_options.cut_after_bytes = 48 << 10;
  proxy_options.cut_every = absl::Milliseconds(700);
  auto proxy = fault::TcpProxy::Start(proxy_options);
  ASSERT_TRUE(proxy.ok()) << proxy.status();

  ReplayWriterOptions options;
  options.addresses = absl::StrCat("127.0.0.1:", (*proxy)->port());
  options.writer_id = 42;
  options.items_per_insert = 32;
  options.max_unacked_bytes = 256 << 10;
  options.backoff.initial_delay = absl::Milliseconds(20);
  options.backoff.max_delay = absl::Milliseconds(200);
  auto writer = ReplayWriter::Create(options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  const absl::Time start = absl::Now();
  for (int64_t id = 0; id < kItems; ++id) {
    ASSERT_TRUE(
        (*writer)->Append(MakeIdItem("ids", id), In(absl::Seconds(30))).ok())
        << (*writer)->stats().last_stream_error;
  }
  ASSERT_TRUE((*writer)->Close(In(absl::Seconds(30))).ok())
      << (*writer)->stats().last_stream_error;
  const absl::Duration took = absl::Now() - start;
  const ReplayWriterStats stats = (*writer)->stats();
  EXPECT_EQ(stats.items_acked, kItems);
  EXPECT_EQ(stats.items_rejected, 0);
  EXPECT_GE((*proxy)->cuts(), 5);
  EXPECT_GE(stats.reconnects, 5);
  EXPECT_GT(stats.items_resent, 0);

  absl::StatusOr<v1::TableInfo> info =
      fault::TableInfoAt(replay.address(), "ids", absl::Seconds(5));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size(), kItems);
  EXPECT_EQ(info->inserts(), kItems);
  const double duplicates =
      ShardMetric(replay, "shoal_replay_duplicate_items_total");
  EXPECT_EQ(ShardMetric(replay, "shoal_replay_inserted_items_total"), kItems);
  EXPECT_GE(duplicates, 1) << "no replay reached the shard: the test did "
                              "not exercise deduplication";
  EXPECT_LE(duplicates, stats.items_resent);
  EXPECT_EQ(DrainIds(replay.address(), "ids", In(absl::Seconds(10))).value(),
            Range(0, kItems));
  std::printf(
      "[ fault    ] flaky proxy: %lld items in %s, %lld cuts, %lld "
      "reconnects, %lld resent, %.0f dropped as replays\n",
      static_cast<long long>(kItems), absl::FormatDuration(took).c_str(),
      static_cast<long long>((*proxy)->cuts()),
      static_cast<long long>(stats.reconnects),
      static_cast<long long>(stats.items_resent), duplicates);
}

// --- Slow clients -----------------------------------------------------------

// A table of id items that is sampled uniformly and never empties, and
// "frames": items of 16 KiB, at most 1 MiB of them.
constexpr int kFrameBytes = 16 << 10;

// `ids` holds at most 100,000 items (~7 MiB): the bad inserters store up to
// 1.28 M, and a larger table's growth, which is acknowledged data, would
// count against what the memory tests bound (what bad clients pin).
std::string SampledIdTableYaml() {
  return R"(experiment: fault-slow-clients
tables:
  - name: ids
    sampler: {kind: uniform}
    remover: {kind: fifo}
    max_size: 100000
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: id, dtype: int64, shape: []}
  - name: frames
    sampler: {kind: uniform}
    max_size: 1000
    max_bytes: 1048576
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: frame, dtype: uint8, shape: [16384]}
replay: {shards: 1}
actor: {table: ids}
learner: {table: ids}
stop: {env_steps: 1}
)";
}

// A channel of its own (one TCP connection), not shared with other clients
// of this process.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int id) {
  grpc::ChannelArguments args;
  args.SetInt("shoal.fault.connection", id);
  args.SetMaxReceiveMessageSize(16 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// Latencies of a normal client, in ms.
struct Probe {
  std::vector<double> info_ms;
  std::vector<double> insert_ms;  // Append 64 items + Flush
  int errors = 0;
  std::string last_error;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

// Calls Info and inserts a batch of 64 items, alternately, for `span`.
Probe RunProbe(v1::ReplayService::Stub* stub, ReplayWriter* writer,
               int64_t* next_id, absl::Duration span) {
  Probe probe;
  const absl::Time end = In(span);
  while (absl::Now() < end) {
    absl::Time t0 = absl::Now();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(In(absl::Seconds(5))));
    v1::InfoRequest request;
    v1::InfoResponse response;
    grpc::Status s = stub->Info(&context, request, &response);
    if (!s.ok()) {
      ++probe.errors;
      probe.last_error = s.error_message();
    }
    probe.info_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    t0 = absl::Now();
    absl::Status inserted;
    for (int i = 0; i < 64 && inserted.ok(); ++i) {
      inserted =
          writer->Append(MakeIdItem("ids", (*next_id)++), In(absl::Seconds(5)));
    }
    if (inserted.ok()) inserted = writer->Flush(In(absl::Seconds(5)));
    if (!inserted.ok()) {
      ++probe.errors;
      probe.last_error = inserted.ToString();
    }
    probe.insert_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    absl::SleepFor(absl::Milliseconds(20));
  }
  return probe;
}

std::string Describe(const Probe& p) {
  return absl::StrFormat(
      "info p50 %.2f p99 %.2f max %.2f ms; insert p50 %.2f p99 %.2f max "
      "%.2f ms (%d rounds, %d errors %s)",
      Percentile(p.info_ms, 0.5), Percentile(p.info_ms, 0.99),
      Percentile(p.info_ms, 1.0), Percentile(p.insert_ms, 0.5),
      Percentile(p.insert_ms, 0.99), Percentile(p.insert_ms, 1.0),
      static_cast<int>(p.info_ms.size()), p.errors, p.last_error);
}

// A raw TCP connection to 127.0.0.1:`port` that sends `bytes` and then
// nothing; -1 on failure.
int RawConnection(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(bytes.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

// Drains what the server sent on `fd` without blocking; false once the
// server has closed the connection.
bool StillOpen(int fd) {
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                  const std::string& payload, uint32_t declared_length) {
  std::string f;
  f.push_back(static_cast<char>((declared_length >> 16) & 0xff));
  f.push_back(static_cast<char>((declared_length >> 8) & 0xff));
  f.push_back(static_cast<char>(declared_length & 0xff));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  f.push_back(static_cast<char>((stream >> 24) & 0x7f));  // R bit clear
  f.push_back(static_cast<char>((stream >> 16) & 0xff));
  f.push_back(static_cast<char>((stream >> 8) & 0xff));
  f.push_back(static_cast<char>(stream & 0xff));
  return f + payload;
}

// HPACK literal without indexing, name from the static table (index < 15),
// plain (non-Huffman) value shorter than 127 bytes.
std::string Literal(int name_index, const std::string& value) {
  std::string out;
  out.push_back(static_cast<char>(name_index));
  out.push_back(static_cast<char>(value.size()));
  return out + value;
}

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// The client preface and a SETTINGS frame announcing 12 bytes, of which 3
// are sent: the server waits in the middle of a frame.
std::string StallMidFrame() {
  return std::string(kPreface) + Frame(/*type=*/0x4, /*flags=*/0, /*stream=*/0,
                                       std::string(3, '\0'),
                                       /*declared_length=*/12);
}

// A well-formed start of an InsertStream call (preface, SETTINGS, HEADERS)
// and a DATA frame whose gRPC message announces 100 bytes, of which 10 are
// sent: the server has a call waiting in the middle of a message.
std::string StallMidMessage(int port) {
  std::string headers;
  headers.push_back(static_cast<char>(0x83));  // :method POST
  headers.push_back(static_cast<char>(0x86));  // :scheme http
  headers += Literal(4, "/shoal.v1.ReplayService/InsertStream");  // :path
  headers += Literal(1, absl::StrCat("127.0.0.1:", port));        // :authority
  headers.push_back(0x0f);  // content-type, static index 31 = 15 + 16
  headers.push_back(0x10);
  headers.push_back(static_cast<char>(16));
  headers += "application/grpc";
  headers.push_back(0x00);  // te: trailers, new name
  headers.push_back(2);
  headers += "te";
  headers.push_back(8);
  headers += "trailers";
  std::string message = {0, 0, 0, 0, 100};  // uncompressed, 100 bytes
  message += std::string(10, '\x08');
  return std::string(kPreface) + Frame(0x4, 0, 0, "", 0) +
         Frame(/*HEADERS*/ 0x1, /*END_HEADERS*/ 0x4, 1, headers,
               static_cast<uint32_t>(headers.size())) +
         Frame(/*DATA*/ 0x0, 0, 1, message, 105);
}

// Clients that misbehave on purpose, each on its own connection.
class BadClients {
 public:
  // The sample streams ask `sample_table`.
  BadClients(const std::string& address, int port,
             const std::string& sample_table = "ids") {
    // Insert streams that write as fast as the server reads and never read
    // an acknowledgement.
    for (int i = 0; i < kInserters; ++i) {
      inserter_contexts_.push_back(std::make_unique<grpc::ClientContext>());
      threads_.emplace_back([this, address, i] {
        auto stub = v1::ReplayService::NewStub(OwnChannel(address, 100 + i));
        auto stream = stub->InsertStream(inserter_contexts_[i].get());
        uint64_t sequence = 1;
        for (int n = 0; n < kInsertBurst && !stop_; ++n) {
          v1::InsertRequest request;
          request.set_writer_id(1000 + i);
          request.set_first_sequence(sequence);
          for (int k = 0; k < 64; ++k) {
            *request.add_items() = MakeIdItem("ids", -1);
          }
          sequence += 64;
          if (!stream->Write(request)) break;
          ++insert_writes_;
        }
        while (!stop_) absl::SleepFor(absl::Milliseconds(20));
      });
    }
    // Sample streams that ask for the most a request may (65,536 items,
    // several MiB) and never read a response.
    for (int i = 0; i < kSamplers; ++i) {
      sampler_contexts_.push_back(std::make_unique<grpc::ClientContext>());
      threads_.emplace_back([this, address, i, sample_table] {
        auto stub = v1::ReplayService::NewStub(OwnChannel(address, 200 + i));
        auto stream = stub->SampleStream(sampler_contexts_[i].get());
        v1::SampleRequest request;
        request.set_table(sample_table);
        request.set_num_samples(65536);
        for (int k = 0; k < 4 && !stop_; ++k) {
          request.set_request_id(k);
          if (!stream->Write(request)) break;
        }
        while (!stop_) absl::SleepFor(absl::Milliseconds(20));
      });
    }
    for (int i = 0; i < kMidFrame; ++i) {
      raw_.push_back(RawConnection(port, StallMidFrame()));
    }
    for (int i = 0; i < kMidMessage; ++i) {
      raw_.push_back(RawConnection(port, StallMidMessage(port)));
    }
  }

  ~BadClients() {
    stop_ = true;
    for (auto& c : inserter_contexts_) c->TryCancel();
    for (auto& c : sampler_contexts_) c->TryCancel();
    for (std::thread& t : threads_) t.join();
    for (int fd : raw_) {
      if (fd >= 0) close(fd);
    }
  }

  int64_t insert_writes() const { return insert_writes_.load(); }
  // Raw connections the server has not closed.
  int raw_open() const {
    int open = 0;
    for (int fd : raw_) open += fd >= 0 && StillOpen(fd) ? 1 : 0;
    return open;
  }
  int raw_started() const {
    return static_cast<int>(std::count_if(raw_.begin(), raw_.end(),
                                          [](int fd) { return fd >= 0; }));
  }

  static constexpr int kInserters = 4;
  // Requests of 64 items each inserter writes before it idles.
  static constexpr int kInsertBurst = 5000;
  static constexpr int kSamplers = 4;
  static constexpr int kMidFrame = 8;
  static constexpr int kMidMessage = 8;

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> insert_writes_{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> inserter_contexts_;
  std::vector<std::unique_ptr<grpc::ClientContext>> sampler_contexts_;
  std::vector<std::thread> threads_;
  std::vector<int> raw_;
};

// A shard of SampledIdTableYaml(), a normal client's stub (its own
// connection) and writer, and `ids` id items stored through that writer.
struct SlowClientShard {
  ReplayProcess replay;
  std::unique_ptr<v1::ReplayService::Stub> stub;
  std::unique_ptr<ReplayWriter> writer;
  int64_t next_id = 0;

  void Start(const std::string& prefix, int64_t ids) {
    replay = StartShard(MakeTempDir(prefix).value(), SampledIdTableYaml());
    ASSERT_NE(replay.process, nullptr);
    stub = v1::ReplayService::NewStub(OwnChannel(replay.address(), 1));
    ReplayWriterOptions options;
    options.addresses = replay.address();
    options.writer_id = 1;
    absl::StatusOr<std::unique_ptr<ReplayWriter>> made =
        ReplayWriter::Create(options);
    ASSERT_TRUE(made.ok()) << made.status();
    writer = *std::move(made);
    for (; next_id < ids; ++next_id) {
      ASSERT_TRUE(
          writer->Append(MakeIdItem("ids", next_id), In(absl::Seconds(10)))
              .ok());
    }
    ASSERT_TRUE(writer->Flush(In(absl::Seconds(10))).ok());
  }
};

// Slow and stalled clients against one shard, with a normal client (its
// own connection: Info calls and batches of 64 inserts, each flushed)
// measured before, while the bad clients start, and while they hang:
// - 4 insert streams that pour in 5,000 requests of 64 items as fast as
//   the server reads them, never read an acknowledgement, and then sit
//   idle with the stream open (their acks pile up unread in the client);
// - 4 sample streams that ask 4 times for 65,536 items (~2.6 MB each) and
//   never read: the server's responses back up (HTTP/2 flow control), so
//   it never reads their later requests;
// - 8 raw TCP connections that stop in the middle of a SETTINGS frame and
//   8 that stop in the middle of an InsertStream message.
// While they start (load on two cores), no call of the normal client fails
// or takes 2 s. While they hang, its median latency stays within 3x
// (+10 ms) of its baseline, its worst call under 1 s, and no call fails;
// the samplers are served no further and the raw connections stay open.
// Nothing in the shard waits for a client: every stream has its own
// reactor with one read and one write in flight, the pools only run work
// that waits on a rate limiter, and flow control bounds what each stuck
// stream holds.
TEST(ReplayFaultTest, ClientsThatNeverReadOrStallMidMessageHangAlone) {
  SlowClientShard shard;
  ASSERT_NO_FATAL_FAILURE(shard.Start("fault-slow-", /*ids=*/20000));
  auto& [replay, stub, writer, next_id] = shard;
  const int64_t rss_before = ResidentBytes(replay.process->pid());

  const Probe baseline =
      RunProbe(stub.get(), writer.get(), &next_id, absl::Seconds(3));
  ASSERT_EQ(baseline.errors, 0) << Describe(baseline);

  auto bad = std::make_unique<BadClients>(replay.address(), replay.port);
  EXPECT_EQ(bad->raw_started(),
            BadClients::kMidFrame + BadClients::kMidMessage);
  // While the inserters pour in their bursts (load on two cores; reported,
  // and no call may fail or take 2 s).
  const Probe bursting =
      RunProbe(stub.get(), writer.get(), &next_id, absl::Seconds(2));
  EXPECT_EQ(bursting.errors, 0) << Describe(bursting);
  EXPECT_LT(Percentile(bursting.insert_ms, 1.0), 2000) << Describe(bursting);
  EXPECT_LT(Percentile(bursting.info_ms, 1.0), 2000) << Describe(bursting);
  // Then they idle, their acks unread: no write for 1 s.
  int64_t writes = -1;
  const bool settled = fault::WaitFor(
      [&] {
        const int64_t now = bad->insert_writes();
        const bool still = now == writes;
        writes = now;
        return still;
      },
      absl::Seconds(30), absl::Seconds(1));
  ASSERT_TRUE(settled) << bad->insert_writes() << " writes";
  const int64_t stuck_writes = bad->insert_writes();
  const double sampled_before =
      ShardMetric(replay, "shoal_replay_sampled_items_total");

  const Probe during =
      RunProbe(stub.get(), writer.get(), &next_id, absl::Seconds(4));
  EXPECT_EQ(during.errors, 0) << Describe(during);
  const double p50_before = Percentile(baseline.insert_ms, 0.5);
  const double p50_during = Percentile(during.insert_ms, 0.5);
  EXPECT_LE(p50_during, 3 * p50_before + 10)
      << "before: " << Describe(baseline) << "\nduring: " << Describe(during);
  EXPECT_LE(Percentile(during.info_ms, 0.5),
            3 * Percentile(baseline.info_ms, 0.5) + 10)
      << "before: " << Describe(baseline) << "\nduring: " << Describe(during);
  EXPECT_LT(Percentile(during.insert_ms, 1.0), 1000) << Describe(during);
  EXPECT_LT(Percentile(during.info_ms, 1.0), 1000) << Describe(during);
  // The bad clients are still hanging: the samplers were served no further
  // (their unread responses hold their streams), and the raw connections
  // are open.
  const double sampled =
      ShardMetric(replay, "shoal_replay_sampled_items_total");
  EXPECT_EQ(sampled, sampled_before);
  EXPECT_LT(sampled, BadClients::kSamplers * 4 * 65536.0);
  const int raw_open = bad->raw_open();
  EXPECT_EQ(raw_open, BadClients::kMidFrame + BadClients::kMidMessage);
  const int64_t rss_during = ResidentBytes(replay.process->pid());
  std::printf(
      "[ fault    ] slow clients: before  %s\n[ fault    ] bursting %s\n"
      "[ fault    ] hanging %s\n"
      "[ fault    ] inserters idle after %lld writes; samplers served %.0f "
      "items of %d asked; %d raw connections open; shard RSS %.1f -> %.1f "
      "MiB\n",
      Describe(baseline).c_str(), Describe(bursting).c_str(),
      Describe(during).c_str(), static_cast<long long>(stuck_writes), sampled,
      BadClients::kSamplers * 4 * 65536, raw_open, rss_before / 1048576.0,
      rss_during / 1048576.0);

  bad.reset();  // cancels the streams, closes the raw connections
  const Probe after =
      RunProbe(stub.get(), writer.get(), &next_id, absl::Seconds(1));
  EXPECT_EQ(after.errors, 0) << Describe(after);
  EXPECT_TRUE(replay.process->running());
}

// The same bad clients, their samplers asking "frames" for 65,536 items of
// 16 KiB (1 GiB a request, 4 requests each) from a table of 1 MiB. A
// shard that encoded each answer up front held ~1 GiB per request and
// stalled the others while it did; now each stream holds at most its
// budget (ReplayServiceOptions::max_stream_sample_bytes, 8 MiB) waiting
// for its reader, and the normal client keeps its latency.
TEST(ReplayFaultTest, SamplersOfLargeItemsThatNeverReadPinBoundedMemory) {
  SlowClientShard shard;
  ASSERT_NO_FATAL_FAILURE(shard.Start("fault-slow-large-", /*ids=*/1000));
  auto& [replay, stub, writer, next_id] = shard;
  {
    grpc::ClientContext context;
    auto stream = stub->InsertStream(&context);
    v1::InsertRequest request;
    request.set_writer_id(2);
    request.set_first_sequence(1);
    for (int i = 0; i < 64; ++i) {
      v1::Item* item = request.add_items();
      item->set_table("frames");
      v1::Tensor* column = item->add_columns();
      column->set_dtype(v1::DTYPE_UINT8);
      column->add_shape(kFrameBytes);
      column->set_data(std::string(kFrameBytes, static_cast<char>(i)));
    }
    v1::InsertResponse ack;
    ASSERT_TRUE(stream->Write(request) && stream->Read(&ack));
    ASSERT_FALSE(ack.has_error()) << ack.error().message();
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }
  const Probe baseline =
      RunProbe(stub.get(), writer.get(), &next_id, absl::Seconds(2));
  ASSERT_EQ(baseline.errors, 0) << Describe(baseline);
  const int64_t rss_before = ResidentBytes(replay.process->pid());

  auto bad =
      std::make_unique<BadClients>(replay.address(), replay.port, "frames");
  absl::SleepFor(absl::Seconds(3));  // the samplers fill what they may
  const Probe during =
      RunProbe(stub.get(), writer.get(), &next_id, absl::Seconds(3));
  const int64_t rss_during = ResidentBytes(replay.process->pid());
  std::printf(
      "[ fault    ] samplers of 65,536 x 16 KiB never reading: before %s\n"
      "[ fault    ] during %s\n[ fault    ] shard RSS %.1f -> %.1f MiB\n",
      Describe(baseline).c_str(), Describe(during).c_str(),
      rss_before / 1048576.0, rss_during / 1048576.0);
  EXPECT_EQ(during.errors, 0) << Describe(during);
  EXPECT_LE(Percentile(during.insert_ms, 0.5),
            3 * Percentile(baseline.insert_ms, 0.5) + 10)
      << "before: " << Describe(baseline) << "\nduring: " << Describe(during);
  EXPECT_LT(Percentile(during.insert_ms, 1.0), 1000) << Describe(during);
  // Each sampler's stream budget, plus what the bad inserters' unread acks
  // and gRPC's buffers take.
  const int64_t per_stream = ReplayServiceOptions().max_stream_sample_bytes;
  EXPECT_LT(rss_during - rss_before,
            BadClients::kSamplers * per_stream + (64 << 20));
  bad.reset();
  EXPECT_TRUE(replay.process->running());
}

}  // namespace
}  // namespace shoal
