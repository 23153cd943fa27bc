// replay_bench: a replay shard served in-process on loopback, measured
// against its limit, a bare gRPC service (BareReplayService below) that
// speaks the same ReplayService protocol with the same messages and bytes
// but has no table behind it: InsertStream acks each batch as soon as it is
// read, SampleStream answers each request with a pre-built response of 256
// items taken from the real table.
//
// Prints one JSON object per line:
//   {"bench": name, "value": x, "unit": u, "limit": y, "ratio": x/y}
// where the limit of a throughput is the bare service's figure in the same
// run, and the limit of the in-table latency is the 0.3 ms goal (the
// in-table encoded-sample times have none: limit 0, ratio 0).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/grpc_server.h"
#include "replay/replay_server.h"
#include "replay/replay_service.h"

namespace shoal {
namespace {

constexpr absl::Duration kMeasure = absl::Milliseconds(700);
constexpr int kSampleBatch = 256;
constexpr int64_t kSampleTableItems = 1000000;
constexpr int kSmallItemBytes = 64;
constexpr int kLatencyRounds = 300;
constexpr double kLatencyGoalMs = 0.3;

// One insert workload: item size and items per InsertRequest.
struct InsertShape {
  std::string table;
  int item_bytes;
  int batch;
};
const InsertShape kInsertShapes[] = {{"insert1k", 1024, 64},
                                     {"insert64k", 65536, 8}};
const int kStreams[] = {1, 4, 16};

// ---------------------------------------------------------------------------
// The limit: the same protocol with nothing behind it.

class BareInsertReactor final
    : public grpc::ServerBidiReactor<v1::InsertRequest, v1::InsertResponse> {
 public:
  BareInsertReactor() { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    response_.set_acked_sequence(request_.first_sequence() +
                                 request_.items_size() - 1);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  v1::InsertRequest request_;
  v1::InsertResponse response_;
};

class BareSampleReactor final
    : public grpc::ServerBidiReactor<v1::SampleRequest, v1::SampleResponse> {
 public:
  BareSampleReactor(const v1::SampleResponse* uniform,
                    const v1::SampleResponse* prioritized)
      : uniform_(uniform), prioritized_(prioritized) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(request_.table() == "uniform64" ? uniform_ : prioritized_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  const v1::SampleResponse* const uniform_;
  const v1::SampleResponse* const prioritized_;
  v1::SampleRequest request_;
};

class BareReplayService final : public v1::ReplayService::CallbackService {
 public:
  // The canned responses must outlive the service.
  BareReplayService(const v1::SampleResponse* uniform,
                    const v1::SampleResponse* prioritized)
      : uniform_(uniform), prioritized_(prioritized) {}
  grpc::ServerBidiReactor<v1::InsertRequest, v1::InsertResponse>* InsertStream(
      grpc::CallbackServerContext* /*context*/) override {
    return new BareInsertReactor();
  }
  grpc::ServerBidiReactor<v1::SampleRequest, v1::SampleResponse>* SampleStream(
      grpc::CallbackServerContext* /*context*/) override {
    return new BareSampleReactor(uniform_, prioritized_);
  }

 private:
  const v1::SampleResponse* const uniform_;
  const v1::SampleResponse* const prioritized_;
};

// ---------------------------------------------------------------------------

// One JSON line; `limit` and `ratio` only where there is a limit (> 0).
void Print(const std::string& bench, double value, const std::string& unit,
           double limit) {
  if (limit > 0) {
    std::printf(
        "{\"bench\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", "
        "\"limit\": %.6g, \"ratio\": %.3f}\n",
        bench.c_str(), value, unit.c_str(), limit, value / limit);
  } else {
    std::printf("{\"bench\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
                bench.c_str(), value, unit.c_str());
  }
  std::fflush(stdout);
}

TableOptions MakeTable(const std::string& name, int item_bytes,
                       int64_t max_size, SelectorKind sampler) {
  TableOptions options;
  options.name = name;
  v1::TensorSpec spec;
  spec.set_name("payload");
  spec.set_dtype(v1::DTYPE_UINT8);
  spec.add_shape(item_bytes);
  options.signature = {spec};
  options.sampler = sampler;
  options.sampler_priority_exponent = 0.6;
  options.remover = SelectorKind::kFifo;
  options.max_size = max_size;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  return options;
}

v1::Item MakeItem(const std::string& table, int item_bytes, double priority) {
  v1::Item item;
  item.set_table(table);
  item.set_priority(priority);
  v1::Tensor* column = item.add_columns();
  column->set_dtype(v1::DTYPE_UINT8);
  column->add_shape(item_bytes);
  column->set_data(std::string(item_bytes, 'x'));
  return item;
}

std::shared_ptr<grpc::Channel> Connect(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

// Items per second that `streams` insert streams achieve for kMeasure.
double InsertRate(const std::shared_ptr<grpc::Channel>& channel,
                  const InsertShape& shape, int streams) {
  static std::atomic<uint64_t> next_writer{1};
  std::atomic<int64_t> items{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int s = 0; s < streams; ++s) {
    threads.emplace_back([&] {
      auto stub = v1::ReplayService::NewStub(channel);
      v1::InsertRequest request;
      request.set_writer_id(next_writer++);
      for (int i = 0; i < shape.batch; ++i) {
        *request.add_items() = MakeItem(shape.table, shape.item_bytes, 1.0);
      }
      grpc::ClientContext context;
      auto stream = stub->InsertStream(&context);
      uint64_t sequence = 1;
      v1::InsertResponse ack;
      while (!stop.load()) {
        request.set_first_sequence(sequence);
        sequence += shape.batch;
        if (!stream->Write(request) || !stream->Read(&ack)) break;
        if (measuring.load()) items += shape.batch;
      }
      stream->WritesDone();
      (void)stream->Finish();
    });
  }
  absl::SleepFor(absl::Milliseconds(100));  // warm up
  measuring = true;
  const absl::Time start = absl::Now();
  absl::SleepFor(kMeasure);
  measuring = false;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  stop = true;
  for (std::thread& thread : threads) thread.join();
  return static_cast<double>(items.load()) / seconds;
}

// Items per second that `streams` sample streams achieve for kMeasure,
// asking for kSampleBatch items at a time from `table`.
double SampleRate(const std::shared_ptr<grpc::Channel>& channel,
                  const std::string& table, int streams) {
  std::atomic<int64_t> items{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int s = 0; s < streams; ++s) {
    threads.emplace_back([&] {
      auto stub = v1::ReplayService::NewStub(channel);
      v1::SampleRequest request;
      request.set_table(table);
      request.set_num_samples(kSampleBatch);
      grpc::ClientContext context;
      auto stream = stub->SampleStream(&context);
      v1::SampleResponse response;
      while (!stop.load()) {
        if (!stream->Write(request)) break;
        int got = 0;
        bool ok = true;
        do {
          ok = stream->Read(&response);
          got += response.items_size();
        } while (ok && !response.end_of_request());
        if (!ok) break;
        if (measuring.load()) items += got;
      }
      stream->WritesDone();
      (void)stream->Finish();
    });
  }
  absl::SleepFor(absl::Milliseconds(100));
  measuring = true;
  const absl::Time start = absl::Now();
  absl::SleepFor(kMeasure);
  measuring = false;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  stop = true;
  for (std::thread& thread : threads) thread.join();
  return static_cast<double>(items.load()) / seconds;
}

// Median milliseconds of Sample(256) + UpdatePriorities(256) on `table`.
double SampleUpdateLatencyMs(Table* table) {
  std::vector<double> ms;
  std::vector<uint64_t> keys(kSampleBatch);
  std::vector<double> priorities(kSampleBatch);
  for (int round = 0; round < kLatencyRounds; ++round) {
    google::protobuf::RepeatedPtrField<v1::SampledItem> out;
    const absl::Time start = absl::Now();
    if (!table->Sample(kSampleBatch, absl::InfiniteFuture(), &out).ok()) {
      return -1;
    }
    for (int i = 0; i < kSampleBatch; ++i) {
      keys[i] = out.Get(i).key();
      priorities[i] = 0.5 + (round * kSampleBatch + i) % 1000 * 0.01;
    }
    if (!table->UpdatePriorities(keys, priorities).ok()) return -1;
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Median microseconds of one SampleEncoded(256) on `table`: the table's
// share of a sample request (the service writes these bytes as they are).
double EncodedSampleMicros(Table* table) {
  std::vector<double> us;
  for (int round = 0; round < kLatencyRounds; ++round) {
    EncodedSamples out;
    const absl::Time start = absl::Now();
    if (!table->SampleEncoded(kSampleBatch, absl::InfiniteFuture(), &out)
             .ok()) {
      return -1;
    }
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

v1::SampleResponse CannedResponse(Table* table) {
  v1::SampleResponse response;
  if (!table
           ->Sample(kSampleBatch, absl::InfiniteFuture(),
                    response.mutable_items())
           .ok()) {
    std::fprintf(stderr, "replay_bench: sampling %s failed\n",
                 table->name().c_str());
    std::exit(1);
  }
  response.set_end_of_request(true);
  return response;
}

int Run() {
  ReplayServerOptions options;
  for (const InsertShape& shape : kInsertShapes) {
    // About 128 MB of payload each, evicted fifo.
    options.tables.push_back(MakeTable(shape.table, shape.item_bytes,
                                       (int64_t{128} << 20) / shape.item_bytes,
                                       SelectorKind::kUniform));
  }
  options.tables.push_back(MakeTable(
      "uniform64", kSmallItemBytes, kSampleTableItems, SelectorKind::kUniform));
  options.tables.push_back(MakeTable("prioritized64", kSmallItemBytes,
                                     kSampleTableItems,
                                     SelectorKind::kPrioritized));
  std::unique_ptr<ReplayServer> server =
      std::move(ReplayServer::Create(options).value());
  Table* uniform = server->FindTable("uniform64");
  Table* prioritized = server->FindTable("prioritized64");
  for (Table* table : {uniform, prioritized}) {
    v1::Item item = MakeItem(table->name(), kSmallItemBytes, 1.0);
    for (int64_t i = 1; i <= kSampleTableItems; ++i) {
      item.set_priority(0.1 + static_cast<double>(i % 977));
      (void)table->Insert(item, /*writer_id=*/0, i, absl::InfiniteFuture());
    }
  }
  // Insert tables start full, as a long-running shard's are: the timed
  // inserts evict and reuse blocks instead of faulting in fresh pages.
  for (const InsertShape& shape : kInsertShapes) {
    Table* table = server->FindTable(shape.table);
    const v1::Item item = MakeItem(shape.table, shape.item_bytes, 1.0);
    for (int64_t i = 1; i <= table->options().max_size; ++i) {
      (void)table->Insert(item, /*writer_id=*/0, i, absl::InfiniteFuture());
    }
  }
  const v1::SampleResponse canned_uniform = CannedResponse(uniform);
  const v1::SampleResponse canned_prioritized = CannedResponse(prioritized);

  ReplayServiceImpl shoal_service(server.get(), ReplayServiceOptions(),
                                  /*metrics=*/nullptr);
  BareReplayService bare_service(&canned_uniform, &canned_prioritized);
  ServerOptions grpc_options;
  std::unique_ptr<GrpcServer> shoal_grpc =
      std::move(GrpcServer::Start(grpc_options, {&shoal_service}).value());
  std::unique_ptr<GrpcServer> bare_grpc =
      std::move(GrpcServer::Start(grpc_options, {&bare_service}).value());
  const std::shared_ptr<grpc::Channel> shoal = Connect(shoal_grpc->port());
  const std::shared_ptr<grpc::Channel> bare = Connect(bare_grpc->port());

  for (const InsertShape& shape : kInsertShapes) {
    for (int streams : kStreams) {
      const double limit = InsertRate(bare, shape, streams);
      const double value = InsertRate(shoal, shape, streams);
      const std::string name =
          absl::StrCat("replay_insert_", shape.item_bytes / 1024, "KiB_batch",
                       shape.batch, "_streams", streams);
      Print(name + "_items_per_s", value, "items/s", limit);
      const double mb = shape.item_bytes / 1e6;
      Print(name + "_MB_per_s", value * mb, "MB/s", limit * mb);
    }
  }
  for (const char* table : {"uniform64", "prioritized64"}) {
    for (int streams : {1, 4}) {
      const double limit = SampleRate(bare, table, streams);
      const double value = SampleRate(shoal, table, streams);
      Print(absl::StrCat("replay_sample_", table, "B_1e6items_batch",
                         kSampleBatch, "_streams", streams, "_items_per_s"),
            value, "items/s", limit);
    }
  }
  Print(absl::StrCat("replay_prioritized_sample_update_", kSampleBatch,
                     "_in_table_median_ms"),
        SampleUpdateLatencyMs(prioritized), "ms", kLatencyGoalMs);

  for (Table* table : {uniform, prioritized}) {
    // No limit: informational (the table's part of a sample request).
    Print(absl::StrCat("replay_", table->name(), "B_encoded_sample_",
                       kSampleBatch, "_in_table_median_us"),
          EncodedSampleMicros(table), "us", 0);
  }

  server->Cancel();
  shoal_grpc->Shutdown(absl::Now() + absl::Seconds(1));
  bare_grpc->Shutdown(absl::Now() + absl::Seconds(1));
  return 0;
}

}  // namespace
}  // namespace shoal

int main() { return shoal::Run(); }
