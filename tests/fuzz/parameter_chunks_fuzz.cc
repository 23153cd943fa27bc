// libFuzzer target: arbitrary ParametersChunk streams from a learner,
// reassembled by the actor's real code, ParameterWatcher
// (learner/client/parameter_watcher.cc; it needs no LibTorch), over a real gRPC
// stream.
//
// An input is a sequence of length-delimited ParametersChunk messages
// (protobuf's delimited format). A fake learner on a unix socket answers
// each WatchParameters call of one long-lived watcher with the chunks of
// one input and ends the stream. A chunk's version is taken relative to the
// version the watcher asked for, modulo 16 (version 1 = the next one;
// 0 and below = stale), so the watcher's state cannot drift out of reach.
// An input counts as handled once the watcher opens its next stream: by
// then it has reassembled, parsed and delivered or dropped everything.
//
// Checks: no crash or sanitizer report; the watcher always reconnects
// (within 10 s); versions reach the callback in increasing order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "shoal/v1/learner.grpc.pb.h"
#include "spdlog/spdlog.h"

#include "learner/client/parameter_watcher.h"
#include "tests/fuzz/fuzz_seeds.h"

namespace shoal {
namespace fuzz {
namespace {

// Chunks read from one input at most.
constexpr int kMaxChunks = 64;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// The learner's side: WatchParameters serves the chunks handed to Feed.
class FakeLearner final : public v1::LearnerService::Service {
 public:
  grpc::Status WatchParameters(
      grpc::ServerContext* context, const v1::WatchParametersRequest* request,
      grpc::ServerWriter<v1::ParametersChunk>* writer) override {
    std::vector<v1::ParametersChunk> chunks;
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
      mu_.Await(absl::Condition(
          +[](std::optional<std::vector<v1::ParametersChunk>>* input) {
            return input->has_value();
          },
          &input_));
      chunks = std::move(*input_);
      input_.reset();
    }
    for (v1::ParametersChunk& chunk : chunks) {
      chunk.set_version(request->have_version() + chunk.version() % 16);
      if (!writer->Write(chunk)) break;  // the watcher gave up on the stream
    }
    return grpc::Status::OK;
  }

  // Serves `chunks` on the watcher's current (or first) call and waits
  // until it opens the next one. False after `timeout`.
  bool Feed(std::vector<v1::ParametersChunk> chunks, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const int64_t done_at = std::max<int64_t>(calls_, 1) + 1;
    input_ = std::move(chunks);
    auto done = [this, done_at]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return calls_ >= done_at;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }

 private:
  absl::Mutex mu_;
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<std::vector<v1::ParametersChunk>> input_ ABSL_GUARDED_BY(mu_);
};

// Versions seen by the watcher's callback.
struct Delivered {
  absl::Mutex mu;
  int64_t last ABSL_GUARDED_BY(mu) = 0;
};

struct Harness {
  std::string socket_dir;
  FakeLearner learner;
  std::unique_ptr<grpc::Server> server;
  Delivered delivered;
  std::unique_ptr<ParameterWatcher> watcher;
};

Harness* harness = nullptr;

// Parses delimited chunks; false when the input is not a whole sequence.
bool ParseChunks(const uint8_t* data, size_t size,
                 std::vector<v1::ParametersChunk>* chunks) {
  google::protobuf::io::ArrayInputStream array(data, static_cast<int>(size));
  google::protobuf::io::CodedInputStream in(&array);
  while (in.CurrentPosition() < static_cast<int>(size)) {
    if (chunks->size() == kMaxChunks) return false;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromCodedStream(
            &chunks->emplace_back(), &in, &clean_eof)) {
      return false;
    }
  }
  return true;
}

std::string Delimit(const std::vector<v1::ParametersChunk>& chunks) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  for (const v1::ParametersChunk& chunk : chunks) {
    google::protobuf::util::SerializeDelimitedToZeroCopyStream(chunk, &stream);
  }
  return out;
}

// Version `version` of some parameters, cut as the learner's
// ParameterStore does into chunks of `chunk_bytes`.
std::vector<v1::ParametersChunk> Publish(int64_t version, int chunk_bytes) {
  v1::Parameters parameters;
  parameters.set_version(version);
  for (const char* name : {"policy.weight", "policy.bias"}) {
    v1::NamedTensor* tensor = parameters.add_tensors();
    tensor->set_name(name);
    tensor->mutable_tensor()->set_dtype(v1::DTYPE_FLOAT32);
    tensor->mutable_tensor()->add_shape(2);
    tensor->mutable_tensor()->set_data(std::string(8, '\1'));
  }
  const std::string bytes = parameters.SerializeAsString();
  const int n = std::max<int>(
      1, (static_cast<int>(bytes.size()) + chunk_bytes - 1) / chunk_bytes);
  std::vector<v1::ParametersChunk> chunks(n);
  for (int i = 0; i < n; ++i) {
    chunks[i].set_version(version);
    chunks[i].set_chunk_index(i);
    chunks[i].set_num_chunks(n);
    chunks[i].set_total_bytes(static_cast<int64_t>(bytes.size()));
    chunks[i].set_data(bytes.substr(i * chunk_bytes, chunk_bytes));
  }
  return chunks;
}

Seeds MakeSeeds() {
  Seeds seeds;
  seeds.emplace_back("one_chunk", Delimit(Publish(1, 1 << 20)));
  seeds.emplace_back("three_chunks", Delimit(Publish(1, 30)));
  std::vector<v1::ParametersChunk> two = Publish(1, 40);
  for (const v1::ParametersChunk& chunk : Publish(2, 50)) two.push_back(chunk);
  seeds.emplace_back("two_versions", Delimit(two));
  std::vector<v1::ParametersChunk> gap = Publish(1, 30);
  gap.erase(gap.begin() + 1);
  seeds.emplace_back("missing_chunk", Delimit(gap));
  return seeds;
}

}  // namespace
}  // namespace fuzz
}  // namespace shoal

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  using namespace shoal;
  using namespace shoal::fuzz;
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 in names
  WriteSeedsIfAsked(MakeSeeds);
  harness = new Harness;
  const char* tmp = std::getenv("TMPDIR");
  harness->socket_dir =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/shoal_chunks_fuzz.XXXXXX";
  Check(mkdtemp(harness->socket_dir.data()) != nullptr);
  std::atexit([] {
    std::remove((harness->socket_dir + "/learner.sock").c_str());
    std::remove(harness->socket_dir.c_str());
  });
  const std::string address = "unix:" + harness->socket_dir + "/learner.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(&harness->learner);
  harness->server = builder.BuildAndStart();
  Check(harness->server != nullptr);

  ParameterWatcherOptions options;
  options.channel.target = address;
  // Reconnect at once: every input is a new stream.
  options.backoff = {absl::Microseconds(1), absl::Microseconds(1),
                     /*multiplier=*/1.0, /*jitter=*/0.0};
  options.max_parameters_bytes = 1 << 20;
  absl::StatusOr<std::unique_ptr<ParameterWatcher>> watcher =
      ParameterWatcher::Create(
          options, [](std::shared_ptr<const v1::Parameters> parameters,
                      absl::Time /*published*/) {
            absl::MutexLock lock(&harness->delivered.mu);
            Check(parameters->version() > harness->delivered.last);
            harness->delivered.last = parameters->version();
          });
  Check(watcher.ok());
  harness->watcher = *std::move(watcher);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal;
  using namespace shoal::fuzz;
  std::vector<v1::ParametersChunk> chunks;
  if (!ParseChunks(data, size, &chunks)) return -1;
  Check(harness->learner.Feed(std::move(chunks), absl::Seconds(10)));
  return 0;
}
