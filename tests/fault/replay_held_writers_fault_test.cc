// Fault test of one real shoal-replay holding back 1,000 writers at once
// (issue 16 item 7: a held-back writer costs no thread).
//
// A table's sample_to_insert_ratio limiter (samples_per_insert 1,
// min_size_to_sample 10, error_buffer 10) admits 20 items and then holds
// every insert back until samples make room. 1,000 insert streams, over 8
// connections (the shard allows 256 streams on one), each write one item
// per request, the next once the last is acknowledged, until held back.
// While all 1,000 are held, the test measures, on its own thread, one call
// after the other: Info, a sample of one item from the held table (each
// lets one held writer go on, which is then held again), and every fourth
// round an insert of 256 KiB into another table whose limiter never holds
// inserts back (a batch that large is stored on the shard's insert pool).
// Held writers park their stream's reactor in the table, not a pool
// thread, so all three keep their latency (p99 under 50 ms), the shard's
// thread count stays flat (at most 8 more than before the streams) and
// Info reports the 1,000 as blocked inserts. Then sampling resumes until
// every written item is acknowledged: each stream's acknowledgements are
// its sequence numbers in order, each once, and the table's insert count
// is the sum of them (nothing stored twice or lost).
//
// A shard that kept each held writer on an insert pool thread (8 of them,
// polling in 1 s slices) kept Info and samples fast and its thread count
// flat, but the 256 KiB insert queued behind the held writers and was not
// acknowledged within 5 s: every writer whose batch needs the pool waited
// for the held ones.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/testing/test_util.h"
#include "replay/testing/testing.h"
#include "tests/fault/fault_cluster.h"

namespace shoal {
namespace {

using fault::ReplayProcess;

constexpr int kStreams = 1000;
constexpr int kConnections = 8;
// The held table admits min_size_to_sample + error_buffer items unsampled.
constexpr int64_t kAdmittedUnsampled = 20;
constexpr int kRounds = 200;
constexpr int kFrameBytes = 16 << 10;
constexpr int kFramesPerBatch = 16;  // 256 KiB: over the inline bound

std::string HeldTableYaml() {
  return R"(experiment: fault-held-writers
tables:
  - name: held
    sampler: {kind: uniform}
    remover: {kind: fifo}
    max_size: 1000000
    rate_limiter: {kind: sample_to_insert_ratio, samples_per_insert: 1,
                   min_size_to_sample: 10, error_buffer: 10}
    signature:
      - {name: id, dtype: int64, shape: []}
  - name: frames
    sampler: {kind: uniform}
    max_size: 64
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: frame, dtype: uint8, shape: [16384]}
replay: {shards: 1}
actor: {table: held}
learner: {table: held}
stop: {env_steps: 1}
)";
}

absl::Time In(absl::Duration d) { return absl::Now() + d; }

// A channel of its own (one TCP connection), not shared with the others.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int id) {
  grpc::ChannelArguments args;
  args.SetInt("shoal.fault.connection", id);
  args.SetMaxReceiveMessageSize(16 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// Threads of process `pid` (Threads: of /proc/<pid>/status); -1 when it
// cannot be read.
int ThreadCount(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

std::string Describe(const std::vector<double>& ms) {
  return absl::StrFormat("p50 %.2f p99 %.2f max %.2f ms (%d calls)",
                         Percentile(ms, 0.5), Percentile(ms, 0.99),
                         Percentile(ms, 1.0), static_cast<int>(ms.size()));
}

// One writer's insert stream on the client's callback API (no thread of
// its own): writes one id item per request, numbered from 1, and the next
// once the last is written and acknowledged, until Stop(); then closes.
// Thread-safe.
class HeldWriter final
    : public grpc::ClientBidiReactor<v1::InsertRequest, v1::InsertResponse> {
 public:
  HeldWriter(v1::ReplayService::Stub* stub, uint64_t writer_id)
      : writer_id_(writer_id) {
    stub->async()->InsertStream(&context_, this);
    StartRead(&response_);
    {
      absl::MutexLock lock(&mu_);
      PrepareNextLocked();
    }
    StartWrite(&request_);
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        Fail("write failed");
        return;
      }
      written_ = sent_;
      next = MaybeNextLocked();
    }
    Go(next);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ends; OnDone has the status
    Next next;
    {
      absl::MutexLock lock(&mu_);
      if (response_.has_error()) {
        Fail(absl::StrCat("rejected: ", response_.error().message()));
      } else if (response_.acked_sequence() != acked_ + 1 ||
                 response_.acked_sequence() != sent_) {
        Fail(absl::StrCat("ack ", response_.acked_sequence(), " after ", acked_,
                          " with ", sent_, " sent"));
      } else {
        acked_ = response_.acked_sequence();
      }
      next = MaybeNextLocked();
    }
    StartRead(&response_);
    Go(next);
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      status_ = status;
    }
    done_.Notify();
  }

  // After the item in flight is acknowledged, writes no more and closes.
  void Stop() {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      next = MaybeNextLocked();
    }
    Go(next);
  }

  // The last item written whole and not yet acknowledged: held back.
  bool Held() const {
    absl::MutexLock lock(&mu_);
    return written_ == sent_ && acked_ < sent_;
  }
  uint64_t sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  uint64_t acked() const {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  std::string error() const {
    absl::MutexLock lock(&mu_);
    return error_;
  }
  bool WaitDone(absl::Duration timeout) {
    return done_.WaitForNotificationWithTimeout(timeout);
  }
  grpc::Status status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  void Cancel() { context_.TryCancel(); }

 private:
  enum class Next { kNothing, kWrite, kClose };

  void Fail(const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (error_.empty()) error_ = why;
  }

  // What to do once the last request is written and acknowledged; a next
  // request is prepared here. Started outside mu_ (Go): a reaction may run
  // inline.
  Next MaybeNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_ || written_ != sent_ || acked_ != sent_) return Next::kNothing;
    if (stopping_) {
      closed_ = true;
      return Next::kClose;
    }
    PrepareNextLocked();
    return Next::kWrite;
  }

  void Go(Next next) {
    if (next == Next::kWrite) StartWrite(&request_);
    if (next == Next::kClose) StartWritesDone();
  }

  void PrepareNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++sent_;
    request_.Clear();
    request_.set_writer_id(writer_id_);
    request_.set_first_sequence(sent_);
    *request_.add_items() =
        MakeIdItem("held", static_cast<int64_t>(writer_id_ * 1000000 + sent_));
  }

  const uint64_t writer_id_;
  grpc::ClientContext context_;
  absl::Notification done_;
  mutable absl::Mutex mu_;
  // One write and one read in flight at a time: written under mu_ before
  // the write starts, read by gRPC until it is done.
  v1::InsertRequest request_;
  v1::InsertResponse response_;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::string error_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// Samples `n` items of `table` on `stream` as one request; false when the
// request fails or brings fewer.
bool SampleOnce(
    grpc::ClientReaderWriter<v1::SampleRequest, v1::SampleResponse>* stream,
    const std::string& table, int n, int timeout_ms, int* got) {
  v1::SampleRequest request;
  request.set_table(table);
  request.set_num_samples(n);
  request.set_timeout_ms(timeout_ms);
  if (!stream->Write(request)) return false;
  v1::SampleResponse response;
  *got = 0;
  while (stream->Read(&response)) {
    *got += response.items_size();
    if (response.end_of_request()) return *got == n;
  }
  return false;
}

v1::InsertRequest FramesBatch(uint64_t first_sequence) {
  v1::InsertRequest request;
  request.set_writer_id(7);
  request.set_first_sequence(first_sequence);
  for (int i = 0; i < kFramesPerBatch; ++i) {
    v1::Item* item = request.add_items();
    item->set_table("frames");
    v1::Tensor* column = item->add_columns();
    column->set_dtype(v1::DTYPE_UINT8);
    column->add_shape(kFrameBytes);
    column->set_data(std::string(kFrameBytes, static_cast<char>(i)));
  }
  return request;
}

// Inserts one FramesBatch on a stream of its own that gives up after 5 s:
// false when it is not acknowledged by then.
bool InsertFrames(v1::ReplayService::Stub* stub, uint64_t first_sequence) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(In(absl::Seconds(5))));
  auto stream = stub->InsertStream(&context);
  v1::InsertResponse ack;
  if (!stream->Write(FramesBatch(first_sequence)) || !stream->Read(&ack) ||
      ack.has_error()) {
    context.TryCancel();
    (void)stream->Finish();
    return false;
  }
  stream->WritesDone();
  return stream->Finish().ok();
}

absl::StatusOr<v1::TableInfo> HeldInfo(const ReplayProcess& replay) {
  return fault::TableInfoAt(replay.address(), "held", absl::Seconds(5));
}

TEST(ReplayHeldWritersFaultTest,
     ThousandHeldBackWritersCostNoThreadAndOthersKeepTheirLatency) {
  const std::string dir = MakeTempDir("fault-held-").value();
  ASSERT_TRUE(WriteTestFile(dir + "/shard.yaml", HeldTableYaml()).ok());
  absl::StatusOr<ReplayProcess> started =
      fault::StartReplayProcess(dir + "/shard.yaml", dir + "/replay.log", {});
  ASSERT_TRUE(started.ok()) << started.status();
  ReplayProcess replay = *std::move(started);
  const pid_t pid = replay.process->pid();

  // The probe's own connection: Info, a sampler of the held table and a
  // writer of large batches to the frames table.
  auto probe = v1::ReplayService::NewStub(OwnChannel(replay.address(), 0));
  grpc::ClientContext sample_context;
  auto sampler = probe->SampleStream(&sample_context);
  uint64_t frames_sequence = 1;
  // One round of each, so that what the shard starts lazily is started
  // before the threads are counted.
  {
    grpc::ClientContext context;
    v1::InfoResponse info;
    ASSERT_TRUE(probe->Info(&context, v1::InfoRequest(), &info).ok());
    ASSERT_TRUE(InsertFrames(probe.get(), frames_sequence));
    frames_sequence += kFramesPerBatch;
  }
  absl::SleepFor(absl::Milliseconds(300));
  const int threads_before = ThreadCount(pid);

  std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs;
  for (int c = 0; c < kConnections; ++c) {
    stubs.push_back(
        v1::ReplayService::NewStub(OwnChannel(replay.address(), 1 + c)));
  }
  const absl::Time opening = absl::Now();
  std::vector<std::unique_ptr<HeldWriter>> writers;
  // Each writer is done before it is destroyed, whatever fails.
  const auto cancel_writers = absl::MakeCleanup([&writers] {
    for (const auto& w : writers) w->Cancel();
    for (const auto& w : writers) w->WaitDone(absl::Seconds(10));
  });
  for (int i = 0; i < kStreams; ++i) {
    writers.push_back(std::make_unique<HeldWriter>(
        stubs[i % kConnections].get(), /*writer_id=*/1 + i));
  }
  // Every stream has its item in flight, written and not acknowledged,
  // and the table admitted what its limiter allows unsampled.
  int held = 0;
  const bool all_held = fault::WaitFor(
      [&] {
        held = 0;
        for (const auto& w : writers) held += w->Held() ? 1 : 0;
        absl::StatusOr<v1::TableInfo> info = HeldInfo(replay);
        return held == kStreams && info.ok() &&
               info->inserts() == kAdmittedUnsampled;
      },
      absl::Seconds(20), absl::Milliseconds(100));
  ASSERT_TRUE(all_held) << held << " of " << kStreams << " streams held";
  const absl::Duration took_to_hold = absl::Now() - opening;
  absl::SleepFor(absl::Milliseconds(500));  // the shard settles
  absl::StatusOr<v1::TableInfo> held_info = HeldInfo(replay);
  ASSERT_TRUE(held_info.ok()) << held_info.status();
  EXPECT_EQ(held_info->inserts(), kAdmittedUnsampled);
  // Every held stream is reported as a blocked insert.
  EXPECT_EQ(held_info->rate_limiter().blocked_inserts(), kStreams);
  const int threads_held = ThreadCount(pid);

  // While they are held: Info, a sample of one item, and every fourth
  // round a 256 KiB insert to the frames table.
  std::vector<double> info_ms, sample_ms, frames_ms;
  std::string failure;
  bool frames_stuck = false;  // then the rounds go on without them
  for (int round = 0; round < kRounds && failure.empty(); ++round) {
    absl::Time t0 = absl::Now();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(In(absl::Seconds(5))));
    v1::InfoResponse info;
    if (grpc::Status s = probe->Info(&context, v1::InfoRequest(), &info);
        !s.ok()) {
      failure = absl::StrCat("Info: ", s.error_message());
    }
    info_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    t0 = absl::Now();
    int got = 0;
    if (!SampleOnce(sampler.get(), "held", 1, /*timeout_ms=*/5000, &got)) {
      failure = "sample of one item failed";
    }
    sample_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (round % 4 != 0 || frames_stuck) continue;
    t0 = absl::Now();
    frames_stuck = !InsertFrames(probe.get(), frames_sequence);
    frames_sequence += kFramesPerBatch;
    frames_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  const int threads_sampling = ThreadCount(pid);
  std::printf(
      "[ fault    ] %d streams held after %s; shard threads %d before, %d "
      "held, %d while sampling\n[ fault    ] info   %s\n[ fault    ] sample "
      "%s\n[ fault    ] 256 KiB insert to another table %s\n",
      kStreams, absl::FormatDuration(took_to_hold).c_str(), threads_before,
      threads_held, threads_sampling, Describe(info_ms).c_str(),
      Describe(sample_ms).c_str(), Describe(frames_ms).c_str());
  EXPECT_TRUE(failure.empty()) << failure;
  EXPECT_FALSE(frames_stuck)
      << "a 256 KiB insert to the frames table took over 5 s";
  EXPECT_LT(Percentile(info_ms, 0.99), 50) << Describe(info_ms);
  EXPECT_LT(Percentile(sample_ms, 0.99), 50) << Describe(sample_ms);
  EXPECT_LT(Percentile(frames_ms, 0.99), 50) << Describe(frames_ms);
  EXPECT_LE(threads_held, threads_before + 8);
  EXPECT_LE(threads_sampling, threads_before + 8);

  // Sampling resumes: every written item is acknowledged, once.
  for (const auto& w : writers) w->Stop();
  const absl::Time resumed = absl::Now();
  const absl::Time drain_deadline = In(absl::Seconds(20));
  int64_t unacked = 0;
  while (absl::Now() < drain_deadline) {
    unacked = 0;
    for (const auto& w : writers) unacked += w->sent() - w->acked();
    if (unacked == 0) break;
    int got = 0;
    if (!SampleOnce(sampler.get(), "held",
                    static_cast<int>(std::min<int64_t>(unacked, 256)),
                    /*timeout_ms=*/200, &got) &&
        got == 0) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  EXPECT_EQ(unacked, 0) << "items still unacknowledged after 20 s";
  const absl::Duration took_to_drain = absl::Now() - resumed;
  int64_t acked = 0;
  int not_done = 0;
  for (const auto& w : writers) {
    if (!w->WaitDone(absl::Seconds(5))) {
      ++not_done;
      w->Cancel();
      w->WaitDone(absl::Seconds(5));
      continue;
    }
    EXPECT_TRUE(w->status().ok()) << w->status().error_message();
    EXPECT_EQ(w->error(), "");
    EXPECT_EQ(w->acked(), w->sent());
    acked += static_cast<int64_t>(w->acked());
  }
  EXPECT_EQ(not_done, 0);
  absl::StatusOr<v1::TableInfo> final_info = HeldInfo(replay);
  ASSERT_TRUE(final_info.ok()) << final_info.status();
  EXPECT_EQ(final_info->inserts(), acked);
  EXPECT_EQ(final_info->size(), acked);
  EXPECT_EQ(final_info->dropped_replays(), 0);
  EXPECT_EQ(final_info->rate_limiter().blocked_inserts(), 0);
  std::printf(
      "[ fault    ] resumed: %lld items acknowledged over %d streams in %s, "
      "table inserts %lld, replays dropped %lld; shard threads %d\n",
      static_cast<long long>(acked), kStreams,
      absl::FormatDuration(took_to_drain).c_str(),
      static_cast<long long>(final_info->inserts()),
      static_cast<long long>(final_info->dropped_replays()), ThreadCount(pid));

  sampler->WritesDone();
  (void)sampler->Finish();
  EXPECT_TRUE(replay.process->running());
}

}  // namespace
}  // namespace shoal
