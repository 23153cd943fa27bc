// Bad input across every service: a catalogue of malformed requests sent to
// real servers over loopback gRPC (a replay shard, a learner's
// LearnerService and an EnvService, each a GrpcServer with a 1 MiB message
// cap, as the binaries build them).
//
// Each row of the catalogue sends one malformed request and names the
// status code the protos and services document for it and a piece of the
// message that names the offending field. Insert batches answer with an
// InsertError on a stream that goes on, so those rows check the error's
// code, message and sequence range; everything else checks the call's
// status. A few rows are refused by gRPC itself before any service code
// runs, so their message is gRPC's and names no field: a message over the
// cap (RESOURCE_EXHAUSTED), and a learner or env request that does not
// parse (gRPC 1.51's callback handlers answer UNIMPLEMENTED with no
// message). The replay shard takes every request as bytes and parses it
// itself (common/raw_request.h), so it answers INVALID_ARGUMENT naming the
// field, e.g. a table name that is not UTF-8.
//
// Design of the concurrency check: a well-behaved writer opens its insert
// stream before the catalogue and keeps inserting small batches on its own
// thread for as long as the catalogue runs. Afterwards every one of its
// batches must have been acknowledged without error, and the tables must
// differ from their state before the catalogue by exactly its items: no
// bad row may have stored, evicted, sampled or re-prioritised anything.
// The learner must have recorded no episode and still serve its one
// version; the env sessions the rows poked at must still step.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/grpc.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "shoal/v1/env.grpc.pb.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "actor/envs/env_factory.h"
#include "actor/envs/env_service.h"
#include "common/grpc_channel.h"
#include "common/grpc_server.h"
#include "common/tensor_codec.h"
#include "common/testing/test_util.h"
#include "replay/replay_server.h"
#include "replay/replay_service.h"

#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
#include "shoal/v1/learner.grpc.pb.h"

#include "learner/episode_stats.h"
#include "learner/learner_service.h"
#include "learner/parameter_store.h"
#endif

namespace shoal {
namespace {

// Keeps gRPC initialised for the whole binary.
[[maybe_unused]] const bool kGrpcInitialised = [] {
  grpc_init();
  return true;
}();

// Every server's cap on one inbound message.
constexpr int64_t kMaxMessageBytes = 1 << 20;
// Deadline of one catalogue call.
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
// The well-behaved writer's id, batch size and pause between batches.
constexpr uint64_t kGoodWriter = 7;
constexpr int kGoodBatch = 4;
constexpr absl::Duration kGoodPause = absl::Milliseconds(5);
// The writer id of the catalogue's bad batches.
constexpr uint64_t kBadWriter = 500;
// Items in "transitions" before the catalogue, and their priority.
constexpr int kPrefill = 20;
constexpr double kPriority = 1.0;

// ---------------------------------------------------------------------------
// Requests.

v1::TensorSpec MakeSpec(const std::string& name, v1::DType dtype,
                        std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(name);
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// "transitions": {observation f32[4], action i64[], reward f32[], done
// bool[]}, prioritized, room for everything the test inserts.
TableOptions TransitionsTable() {
  TableOptions options;
  options.name = "transitions";
  options.signature = {MakeSpec("observation", v1::DTYPE_FLOAT32, {4}),
                       MakeSpec("action", v1::DTYPE_INT64, {}),
                       MakeSpec("reward", v1::DTYPE_FLOAT32, {}),
                       MakeSpec("done", v1::DTYPE_BOOL, {})};
  options.sampler = SelectorKind::kPrioritized;
  options.max_size = 1 << 20;
  options.rate_limiter = {/*samples_per_insert=*/1.0,
                          /*min_size_to_sample=*/1,
                          /*min_diff=*/std::numeric_limits<double>::lowest(),
                          /*max_diff=*/std::numeric_limits<double>::max()};
  options.shard_index = 2;
  return options;
}

// "frames": {frames u8[-1, 3]} (a wildcard extent), at most 4 KiB.
TableOptions FramesTable() {
  TableOptions options = TransitionsTable();
  options.name = "frames";
  options.signature = {MakeSpec("frames", v1::DTYPE_UINT8, {-1, 3})};
  options.sampler = SelectorKind::kUniform;
  options.max_bytes = 4096;
  return options;
}

// "anything": an empty signature (any columns of any shape), for rows whose
// shapes the other tables' signatures would refuse first.
TableOptions AnythingTable() {
  TableOptions options = TransitionsTable();
  options.name = "anything";
  options.signature.clear();
  options.sampler = SelectorKind::kUniform;
  options.max_bytes = 1 << 20;
  return options;
}

// One item of "anything" with one column of `dtype` and `shape`, no data.
v1::Item Shaped(v1::DType dtype, std::vector<int64_t> shape) {
  v1::Item item;
  item.set_table("anything");
  item.set_priority(kPriority);
  v1::Tensor* column = item.add_columns();
  column->set_dtype(dtype);
  column->mutable_shape()->Assign(shape.begin(), shape.end());
  return item;
}

constexpr int64_t kTransitionBytes = 4 * 4 + 8 + 4 + 1;

v1::Item Transition(float value) {
  v1::Item item;
  item.set_table("transitions");
  item.set_priority(kPriority);
  const std::vector<float> obs(4, value);
  EncodeTensor<float>(obs, {4}, item.add_columns()).IgnoreError();
  const std::vector<int64_t> action = {1};
  EncodeTensor<int64_t>(action, {}, item.add_columns()).IgnoreError();
  const std::vector<float> reward = {value};
  EncodeTensor<float>(reward, {}, item.add_columns()).IgnoreError();
  v1::Tensor* done = item.add_columns();
  done->set_dtype(v1::DTYPE_BOOL);
  done->set_data(std::string(1, '\0'));
  return item;
}

v1::Item Frames(int64_t rows) {
  v1::Item item;
  item.set_table("frames");
  item.set_priority(kPriority);
  v1::Tensor* frames = item.add_columns();
  frames->set_dtype(v1::DTYPE_UINT8);
  frames->add_shape(rows);
  frames->add_shape(3);
  frames->set_data(std::string(rows * 3, '\x7f'));
  return item;
}

v1::InsertRequest Batch(uint64_t writer, uint64_t first, int n) {
  v1::InsertRequest request;
  request.set_writer_id(writer);
  request.set_first_sequence(first);
  for (int i = 0; i < n; ++i) *request.add_items() = Transition(i);
  return request;
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(T));
}

// `message` serialised with its last byte cut off. Fails the row (empty
// string) when that still parses, so every "truncated" row really is.
template <typename Message>
std::string Truncated(const Message& message) {
  std::string bytes = message.SerializeAsString();
  if (bytes.empty()) {
    // An empty message: a length-delimited field 1 of 5 bytes, 2 present.
    bytes = std::string("\x0a\x05", 2) + "ab";
  } else {
    bytes.pop_back();
  }
  Message parsed;
  EXPECT_FALSE(parsed.ParseFromString(bytes))
      << "truncated " << Message::descriptor()->full_name() << " parses";
  return bytes;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// ---------------------------------------------------------------------------
// What a row observed.

struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
};

Outcome FromStatus(const grpc::Status& status) {
  return {status.error_code(), status.error_message()};
}

// A check of a row's side conditions failed: reported as INTERNAL, which no
// row expects.
Outcome Broken(absl::string_view what) {
  return {grpc::StatusCode::INTERNAL, absl::StrCat("[test] ", what)};
}

void SetDeadline(grpc::ClientContext* context,
                 absl::Duration timeout = kCallTimeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// ---------------------------------------------------------------------------
// The servers.

class Servers {
 public:
  Servers() = default;
  Servers(const Servers&) = delete;
  Servers& operator=(const Servers&) = delete;
  ~Servers() { Stop(); }

  // Starts every server; false (with a failure recorded) on error.
  bool Start() {
    ServerOptions grpc_options;
    grpc_options.max_receive_message_bytes = kMaxMessageBytes;

    ReplayServerOptions replay_options;
    replay_options.shard_index = 2;
    replay_options.tables = {TransitionsTable(), FramesTable(),
                             AnythingTable()};
    absl::StatusOr<std::unique_ptr<ReplayServer>> replay =
        ReplayServer::Create(replay_options);
    if (!replay.ok()) return Fail(replay.status());
    replay_ = *std::move(replay);
    replay_service_ = std::make_unique<ReplayServiceImpl>(
        replay_.get(), ReplayServiceOptions(), nullptr);
    if (!Serve(grpc_options, replay_service_.get(), &replay_grpc_,
               &replay_channel_)) {
      return false;
    }
    replay_stub_ = v1::ReplayService::NewStub(replay_channel_);

    env_service_ = std::make_unique<EnvServiceImpl>(
        [](const std::string& name) {
          EnvOptions options;
          options.name = name;
          return MakeEnv(options);
        },
        EnvServiceOptions{/*max_sessions=*/16,
                          /*idle_timeout=*/absl::Minutes(10),
                          /*num_threads=*/2});
    if (!Serve(grpc_options, env_service_.get(), &env_grpc_, &env_channel_)) {
      return false;
    }
    env_stub_ = v1::EnvService::NewStub(env_channel_);

#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
    absl::StatusOr<std::unique_ptr<ParameterStore>> store =
        ParameterStore::Create({});
    if (!store.ok()) return Fail(store.status());
    store_ = *std::move(store);
    v1::Parameters parameters;
    parameters.set_version(1);
    v1::NamedTensor* weight = parameters.add_tensors();
    weight->set_name("policy.0.weight");
    const std::vector<float> values(16, 0.5f);
    EncodeTensor<float>(values, {4, 4}, weight->mutable_tensor()).IgnoreError();
    if (absl::Status s = store_->Publish(parameters, /*learner_step=*/10);
        !s.ok()) {
      return Fail(s);
    }
    stats_ = std::make_unique<EpisodeStats>(/*window=*/10);
    learner_service_ =
        std::make_unique<LearnerServiceImpl>(store_.get(), stats_.get());
    if (!Serve(grpc_options, learner_service_.get(), &learner_grpc_,
               &learner_channel_)) {
      return false;
    }
    learner_stub_ = v1::LearnerService::NewStub(learner_channel_);
#endif
    return true;
  }

  void Stop() {
    if (replay_ != nullptr) replay_->Cancel();
    for (std::unique_ptr<GrpcServer>* server :
         {&replay_grpc_, &env_grpc_, &learner_grpc_}) {
      if (*server != nullptr) (*server)->Shutdown(absl::Now());
    }
  }

  v1::ReplayService::Stub& replay() { return *replay_stub_; }
  const std::shared_ptr<grpc::Channel>& replay_channel() {
    return replay_channel_;
  }
  v1::EnvService::Stub& env() { return *env_stub_; }
  const std::shared_ptr<grpc::Channel>& env_channel() { return env_channel_; }
#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
  v1::LearnerService::Stub& learner() { return *learner_stub_; }
  const std::shared_ptr<grpc::Channel>& learner_channel() {
    return learner_channel_;
  }
  EpisodeStats& stats() { return *stats_; }
  ParameterStore& store() { return *store_; }
#endif

  // The catalogue's own insert stream (writer kBadWriter): every batch row
  // goes on it, so it must outlive them all. Opened on first use.
  grpc::ClientReaderWriter<v1::InsertRequest, v1::InsertResponse>&
  bad_stream() {
    if (bad_stream_ == nullptr) {
      bad_stream_ = replay_stub_->InsertStream(&bad_context_);
    }
    return *bad_stream_;
  }
  // The next unused sequence number of kBadWriter.
  uint64_t TakeSequences(int n) {
    const uint64_t first = next_bad_sequence_;
    next_bad_sequence_ += n;
    return first;
  }
  grpc::Status CloseBadStream() {
    if (bad_stream_ == nullptr) return grpc::Status::OK;
    bad_stream_->WritesDone();
    return bad_stream_->Finish();
  }

  // State the rows refer to, set up before the catalogue.
  uint64_t sampled_key = 0;       // a live key of "transitions"
  uint64_t cartpole_session = 0;  // reset, episode running
  uint64_t pendulum_session = 0;  // reset, episode running
  uint64_t unreset_session = 0;   // opened, never reset
  uint64_t closed_session = 0;    // opened, then closed

 private:
  bool Fail(const absl::Status& status) {
    ADD_FAILURE() << status;
    return false;
  }

  bool Serve(const ServerOptions& options, grpc::Service* service,
             std::unique_ptr<GrpcServer>* server,
             std::shared_ptr<grpc::Channel>* channel) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> started =
        GrpcServer::Start(options, {service});
    if (!started.ok()) return Fail(started.status());
    *server = *std::move(started);
    ChannelOptions channel_options;
    channel_options.target = (*server)->address();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> made =
        MakeChannel(channel_options);
    if (!made.ok()) return Fail(made.status());
    *channel = *std::move(made);
    return true;
  }

  std::unique_ptr<ReplayServer> replay_;
  std::unique_ptr<ReplayServiceImpl> replay_service_;
  std::unique_ptr<GrpcServer> replay_grpc_;
  std::shared_ptr<grpc::Channel> replay_channel_;
  std::unique_ptr<v1::ReplayService::Stub> replay_stub_;

  std::unique_ptr<EnvServiceImpl> env_service_;
  std::unique_ptr<GrpcServer> env_grpc_;
  std::shared_ptr<grpc::Channel> env_channel_;
  std::unique_ptr<v1::EnvService::Stub> env_stub_;

#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
  std::unique_ptr<ParameterStore> store_;
  std::unique_ptr<EpisodeStats> stats_;
  std::unique_ptr<LearnerServiceImpl> learner_service_;
  std::shared_ptr<grpc::Channel> learner_channel_;
  std::unique_ptr<v1::LearnerService::Stub> learner_stub_;
#endif
  std::unique_ptr<GrpcServer> learner_grpc_;

  grpc::ClientContext bad_context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::InsertRequest, v1::InsertResponse>>
      bad_stream_;
  uint64_t next_bad_sequence_ = 1;
};

// ---------------------------------------------------------------------------
// Ways to send.

// Sends `batch` (writer kBadWriter, fresh sequence numbers unless
// `keep_sequence`) on the catalogue's insert stream; the outcome is its
// InsertError, OK when there is none. Also checks the acknowledgement:
// it covers the whole batch, and a rejection names the batch's range.
Outcome SendBatch(Servers& s, v1::InsertRequest batch,
                  bool keep_sequence = false) {
  const int n = batch.items_size();
  batch.set_writer_id(kBadWriter);
  if (!keep_sequence) batch.set_first_sequence(s.TakeSequences(n));
  const uint64_t first = batch.first_sequence();
  if (!s.bad_stream().Write(batch)) {
    return Broken("the catalogue's insert stream is closed");
  }
  v1::InsertResponse ack;
  if (!s.bad_stream().Read(&ack)) {
    return Broken("the catalogue's insert stream ended");
  }
  // The batch's last sequence number, saturating (and first - 1, or 0, for
  // an empty batch).
  uint64_t last;
  if (n == 0) {
    last = first == 0 ? 0 : first - 1;
  } else if (first > std::numeric_limits<uint64_t>::max() - (n - 1)) {
    last = std::numeric_limits<uint64_t>::max();
  } else {
    last = first + n - 1;
  }
  if (ack.acked_sequence() != last) {
    return Broken(
        absl::StrCat("acked_sequence ", ack.acked_sequence(), ", want ", last));
  }
  if (!ack.has_error()) return Outcome();
  if (ack.error().first_sequence() != first) {
    return Broken(absl::StrCat("error.first_sequence ",
                               ack.error().first_sequence(), ", want ", first));
  }
  return {static_cast<grpc::StatusCode>(ack.error().code()),
          ack.error().message()};
}

// A batch of three good transitions with `spoil` applied.
Outcome SpoiledBatch(Servers& s,
                     const std::function<void(v1::InsertRequest*)>& spoil) {
  v1::InsertRequest batch = Batch(kBadWriter, 0, 3);
  spoil(&batch);
  return SendBatch(s, std::move(batch));
}

// A batch of one good transition with `spoil` applied to the item.
Outcome SpoiledItem(Servers& s, const std::function<void(v1::Item*)>& spoil) {
  return SpoiledBatch(
      s, [&](v1::InsertRequest* r) { spoil(r->mutable_items(0)); });
}

// Writes raw `messages` on a fresh call of bidi `method` at `channel`,
// closes the writing side and reads until the server ends the call.
Outcome RawStream(const std::shared_ptr<grpc::Channel>& channel,
                  const char* method,
                  const std::vector<std::string>& messages) {
  grpc::ClientContext context;
  SetDeadline(&context);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>
      stream(grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer,
                                                       grpc::ByteBuffer>::
                 Create(channel.get(),
                        grpc::internal::RpcMethod(
                            method, grpc::internal::RpcMethod::BIDI_STREAMING),
                        &context));
  for (const std::string& message : messages) {
    if (!stream->Write(ToByteBuffer(message))) break;
  }
  stream->WritesDone();
  grpc::ByteBuffer ignored;
  while (stream->Read(&ignored)) {
  }
  return FromStatus(stream->Finish());
}

// Sends raw `request` to unary `method` at `channel`.
Outcome RawUnary(const std::shared_ptr<grpc::Channel>& channel,
                 const char* method, const std::string& request) {
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::ByteBuffer response;
  return FromStatus(
      grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
          channel.get(),
          grpc::internal::RpcMethod(method,
                                    grpc::internal::RpcMethod::NORMAL_RPC),
          &context, ToByteBuffer(request), &response));
}

// Sends raw `request` to server-streaming `method` and reads to the end
// (only the learner's WatchParameters streams so).
[[maybe_unused]] Outcome RawServerStream(
    const std::shared_ptr<grpc::Channel>& channel, const char* method,
    const std::string& request) {
  grpc::ClientContext context;
  SetDeadline(&context);
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
          channel.get(),
          grpc::internal::RpcMethod(
              method, grpc::internal::RpcMethod::SERVER_STREAMING),
          &context, ToByteBuffer(request)));
  grpc::ByteBuffer ignored;
  while (reader->Read(&ignored)) {
  }
  return FromStatus(reader->Finish());
}

// One SampleRequest on a fresh stream; the stream's status.
Outcome SampleOnce(Servers& s, const v1::SampleRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = s.replay().SampleStream(&context);
  stream->Write(request);
  v1::SampleResponse response;
  int items = 0;
  while (stream->Read(&response)) {
    items += response.items_size();
    if (response.end_of_request()) break;
  }
  stream->WritesDone();
  Outcome outcome = FromStatus(stream->Finish());
  if (items > 0) return Broken(absl::StrCat(items, " items were sampled"));
  return outcome;
}

v1::SampleRequest Sample(const std::string& table, int n) {
  v1::SampleRequest request;
  request.set_table(table);
  request.set_num_samples(n);
  request.set_timeout_ms(1000);
  return request;
}

Outcome UpdatePriorities(Servers& s, const v1::UpdatePrioritiesRequest& r,
                         v1::UpdatePrioritiesResponse* response = nullptr) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::UpdatePrioritiesResponse ignored;
  return FromStatus(s.replay().UpdatePriorities(
      &context, r, response != nullptr ? response : &ignored));
}

v1::UpdatePrioritiesRequest Priorities(const std::string& table,
                                       std::vector<uint64_t> keys,
                                       std::vector<double> priorities) {
  v1::UpdatePrioritiesRequest request;
  request.set_table(table);
  request.mutable_keys()->Assign(keys.begin(), keys.end());
  request.mutable_priorities()->Assign(priorities.begin(), priorities.end());
  return request;
}

// A key of shard 2 (this one) that holds no item.
uint64_t AbsentKey() { return (uint64_t{2} << 48) | 12345; }

Outcome Step(Servers& s, uint64_t session, const v1::Tensor* action) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StepRequest request;
  request.set_session_id(session);
  if (action != nullptr) *request.mutable_action() = *action;
  v1::StepResponse response;
  return FromStatus(s.env().Step(&context, request, &response));
}

v1::Tensor Int64Action(int64_t value, std::vector<int64_t> shape = {}) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_INT64);
  tensor.mutable_shape()->Assign(shape.begin(), shape.end());
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  tensor.set_data(Bytes(std::vector<int64_t>(elements, value)));
  return tensor;
}

v1::Tensor FloatAction(std::vector<float> values, std::vector<int64_t> shape) {
  v1::Tensor tensor;
  tensor.set_dtype(v1::DTYPE_FLOAT32);
  tensor.mutable_shape()->Assign(shape.begin(), shape.end());
  tensor.set_data(Bytes(values));
  return tensor;
}

absl::StatusOr<uint64_t> OpenEnv(Servers& s, const std::string& env) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::OpenRequest request;
  request.set_env(env);
  v1::OpenResponse response;
  grpc::Status status = s.env().Open(&context, request, &response);
  if (!status.ok()) return absl::UnknownError(status.error_message());
  return response.session_id();
}

grpc::Status ResetEnv(Servers& s, uint64_t session) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::EnvResetRequest request;
  request.set_session_id(session);
  request.set_seed(3);
  v1::EnvResetResponse response;
  return s.env().Reset(&context, request, &response);
}

grpc::Status CloseEnv(Servers& s, uint64_t session) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::CloseRequest request;
  request.set_session_id(session);
  v1::CloseResponse response;
  return s.env().Close(&context, request, &response);
}

#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
v1::Episode GoodEpisode() {
  v1::Episode e;
  e.set_actor_index(1);
  e.set_env_id(2);
  e.set_episode_return(10.5);
  e.set_length(20);
  e.set_actor_env_steps(400);
  e.set_policy_version(1);
  e.set_terminated(true);
  return e;
}

Outcome Report(Servers& s, const v1::ReportEpisodesRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ReportEpisodesResponse response;
  return FromStatus(s.learner().ReportEpisodes(&context, request, &response));
}

// Reports one GoodEpisode() with `spoil` applied.
Outcome SpoiledEpisode(Servers& s,
                       const std::function<void(v1::Episode*)>& spoil) {
  v1::ReportEpisodesRequest request;
  *request.add_episodes() = GoodEpisode();
  spoil(request.mutable_episodes(0));
  return Report(s, request);
}

Outcome Watch(Servers& s, int64_t have_version, absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  v1::WatchParametersRequest request;
  request.set_have_version(have_version);
  auto reader = s.learner().WatchParameters(&context, request);
  v1::ParametersChunk chunk;
  if (reader->Read(&chunk)) {
    context.TryCancel();
    reader->Finish().IgnoreError();
    return Broken(
        absl::StrCat("received a chunk of version ", chunk.version()));
  }
  return FromStatus(reader->Finish());
}
#endif

// ---------------------------------------------------------------------------
// The catalogue.

struct Row {
  // "<service>/<what is wrong>".
  std::string name;
  std::function<Outcome(Servers&)> send;
  // The documented code.
  grpc::StatusCode code;
  // What the message must contain: the field it names (or, for a row that
  // gRPC refuses before the service runs, gRPC's wording). Unchecked when
  // empty.
  std::string names;
};

using grpc::StatusCode;

std::vector<Row> ReplayRows() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const uint64_t max_sequence = std::numeric_limits<uint64_t>::max();
  std::vector<Row> rows = {
      // --- InsertStream: batches refused whole with an InsertError; the
      // stream goes on.
      {"insert/unknown table",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) { i->set_table("nope"); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].table: no table named 'nope'"},
      {"insert/empty table name",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) { i->clear_table(); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].table: no table named ''"},
      {"insert/good first item, bad third: nothing stored",
       [](Servers& s) {
         return SpoiledBatch(s, [](v1::InsertRequest* r) {
           r->mutable_items(2)->mutable_columns(0)->set_dtype(v1::DTYPE_INT32);
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[2].columns[0] (observation): dtype int32"},
      {"insert/wrong dtype",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(1)->set_dtype(v1::DTYPE_INT32);
           i->mutable_columns(1)->set_data(std::string(4, '\0'));
         });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].columns[1] (action): dtype"},
      {"insert/DTYPE_UNSPECIFIED",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(0)->set_dtype(v1::DTYPE_UNSPECIFIED);
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): dtype"},
      {"insert/dtype enum value out of range",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(0)->set_dtype(static_cast<v1::DType>(99));
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): dtype"},
      {"insert/wrong shape",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(0)->set_shape(0, 5);
           i->mutable_columns(0)->set_data(std::string(20, '\0'));
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): shape [5]"},
      {"insert/wrong rank",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(0)->set_shape(0, 2);
           i->mutable_columns(0)->add_shape(2);
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): shape [2, 2]"},
      {"insert/scalar column sent as a vector",
       [](Servers& s) {
         return SpoiledItem(
             s, [](v1::Item* i) { i->mutable_columns(1)->add_shape(1); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].columns[1] (action): shape [1]"},
      {"insert/negative extent in a wildcard dimension",
       [](Servers& s) {
         v1::InsertRequest batch;
         *batch.add_items() = Frames(2);
         batch.mutable_items(0)->mutable_columns(0)->set_shape(0, -2);
         return SendBatch(s, batch);
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (frames): shape[0] is negative"},
      {"insert/extents whose product overflows",
       [](Servers& s) {
         v1::InsertRequest batch;
         *batch.add_items() = Frames(2);
         batch.mutable_items(0)->mutable_columns(0)->set_shape(
             0, int64_t{1} << 62);
         return SendBatch(s, batch);
       },
       StatusCode::INVALID_ARGUMENT, "items[0].columns[0] (frames): shape"},
      {"insert/data shorter than the shape",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(0)->mutable_data()->resize(15);
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): data has 15 bytes"},
      {"insert/data longer than the shape",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(2)->mutable_data()->append("xxxx");
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[2] (reward): data has 8 bytes"},
      {"insert/wildcard rows do not match the data",
       [](Servers& s) {
         v1::InsertRequest batch;
         *batch.add_items() = Frames(4);
         batch.mutable_items(0)->mutable_columns(0)->set_shape(0, 5);
         return SendBatch(s, batch);
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (frames): data has 12 bytes"},
      {"insert/NaN observation",
       [nan](Servers& s) {
         return SpoiledItem(s, [nan](v1::Item* i) {
           EncodeTensor<float>(std::vector<float>{0, 0, nan, 0}, {4},
                               i->mutable_columns(0))
               .IgnoreError();
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): element 2 is not finite"},
      {"insert/+Inf reward",
       [inf](Servers& s) {
         return SpoiledItem(s, [inf](v1::Item* i) {
           EncodeTensor<float>(std::vector<float>{inf}, {},
                               i->mutable_columns(2))
               .IgnoreError();
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[2] (reward): element 0 is not finite"},
      {"insert/-Inf observation",
       [inf](Servers& s) {
         return SpoiledItem(s, [inf](v1::Item* i) {
           EncodeTensor<float>(std::vector<float>{-inf, 0, 0, 0}, {4},
                               i->mutable_columns(0))
               .IgnoreError();
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): element 0 is not finite"},
      {"insert/bool byte that is not 0 or 1",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(3)->set_data(std::string(1, '\x02'));
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[3] (done): bool element 0 is 2"},
      {"insert/negative priority",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) { i->set_priority(-0.5); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].priority"},
      {"insert/NaN priority",
       [](Servers& s) {
         return SpoiledItem(s,
                            [](v1::Item* i) { i->set_priority(std::nan("")); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].priority"},
      {"insert/Inf priority",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->set_priority(std::numeric_limits<double>::infinity());
         });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].priority"},
      {"insert/negative actor_index",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) { i->set_actor_index(-1); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0]: actor_index"},
      {"insert/env_id over 65535",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) { i->set_env_id(70000); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0]: env_id"},
      {"insert/item without columns",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) { i->clear_columns(); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0]: item has no columns"},
      {"insert/missing column",
       [](Servers& s) {
         return SpoiledItem(
             s, [](v1::Item* i) { i->mutable_columns()->RemoveLast(); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0]: missing column done"},
      {"insert/extra column",
       [](Servers& s) {
         return SpoiledItem(
             s, [](v1::Item* i) { *i->add_columns() = i->columns(0); });
       },
       StatusCode::INVALID_ARGUMENT, "items[0]: extra column"},
      {"insert/item over the table's max_bytes",
       [](Servers& s) {
         v1::InsertRequest batch;
         *batch.add_items() = Frames(2000);
         return SendBatch(s, batch);
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0]: item of 6021 bytes exceeds max_bytes 4096"},  // data, shape,
                                                                // framing
      {"insert/empty batch",
       [](Servers& s) { return SendBatch(s, v1::InsertRequest()); },
       StatusCode::INVALID_ARGUMENT, "items: the batch is empty"},
      {"insert/empty batch with first_sequence 0",
       [](Servers& s) {
         return SendBatch(s, v1::InsertRequest(), /*keep_sequence=*/true);
       },
       StatusCode::INVALID_ARGUMENT, "items: the batch is empty"},
      {"insert/first_sequence 0",
       [](Servers& s) {
         return SendBatch(s, Batch(kBadWriter, 0, 2), /*keep_sequence=*/true);
       },
       StatusCode::INVALID_ARGUMENT, "first_sequence"},
      {"insert/sequence numbers past 2^64 - 1",
       [max_sequence](Servers& s) {
         return SendBatch(s, Batch(kBadWriter, max_sequence - 1, 3),
                          /*keep_sequence=*/true);
       },
       StatusCode::INVALID_ARGUMENT, "first_sequence"},
      // --- InsertStream: whole-stream errors, each on a stream of its own.
      {"insert/message over the server's max size",
       [](Servers& s) {
         grpc::ClientContext context;
         SetDeadline(&context);
         auto stream = s.replay().InsertStream(&context);
         v1::InsertRequest batch;
         batch.set_writer_id(kBadWriter);
         batch.set_first_sequence(s.TakeSequences(1));
         *batch.add_items() = Frames(kMaxMessageBytes / 3 + 100);
         batch.mutable_items(0)->set_table("transitions");
         stream->Write(batch);
         stream->WritesDone();
         v1::InsertResponse ack;
         if (stream->Read(&ack)) return Broken("the batch was acknowledged");
         return FromStatus(stream->Finish());
       },
       StatusCode::RESOURCE_EXHAUSTED, "larger than max"},
      {"insert/truncated message",
       [](Servers& s) {
         v1::InsertRequest batch =
             Batch(kBadWriter, s.TakeSequences(2), /*n=*/2);
         return RawStream(s.replay_channel(),
                          "/shoal.v1.ReplayService/InsertStream",
                          {Truncated(batch)});
       },
       StatusCode::INVALID_ARGUMENT, "InsertRequest"},
      {"insert/empty stream",
       [](Servers& s) {
         return RawStream(s.replay_channel(),
                          "/shoal.v1.ReplayService/InsertStream", {});
       },
       StatusCode::OK, ""},
      // --- SampleStream: a bad request ends its stream.
      {"sample/unknown table",
       [](Servers& s) { return SampleOnce(s, Sample("nope", 1)); },
       StatusCode::INVALID_ARGUMENT, "table: no table named 'nope'"},
      {"sample/empty table name",
       [](Servers& s) { return SampleOnce(s, Sample("", 1)); },
       StatusCode::INVALID_ARGUMENT, "table: no table named ''"},
      {"sample/num_samples 0",
       [](Servers& s) { return SampleOnce(s, Sample("transitions", 0)); },
       StatusCode::INVALID_ARGUMENT, "num_samples"},
      {"sample/negative num_samples",
       [](Servers& s) { return SampleOnce(s, Sample("transitions", -3)); },
       StatusCode::INVALID_ARGUMENT, "num_samples"},
      {"sample/num_samples over the per-request cap",
       [](Servers& s) {
         return SampleOnce(s, Sample("transitions", (1 << 16) + 1));
       },
       StatusCode::INVALID_ARGUMENT, "num_samples"},
      {"sample/negative timeout_ms",
       [](Servers& s) {
         v1::SampleRequest r = Sample("transitions", 1);
         r.set_timeout_ms(-1);
         return SampleOnce(s, r);
       },
       StatusCode::INVALID_ARGUMENT, "timeout_ms: must be >= 0, got -1"},
      {"sample/negative max_response_bytes",
       [](Servers& s) {
         v1::SampleRequest r = Sample("transitions", 1);
         r.set_max_response_bytes(-100);
         return SampleOnce(s, r);
       },
       StatusCode::INVALID_ARGUMENT,
       "max_response_bytes: must be >= 0, got -100"},
      {"sample/truncated message",
       [](Servers& s) {
         v1::SampleRequest r = Sample("transitions", 1);
         r.set_timeout_ms(0);
         return RawStream(s.replay_channel(),
                          "/shoal.v1.ReplayService/SampleStream",
                          {Truncated(r)});
       },
       StatusCode::INVALID_ARGUMENT, "SampleRequest"},
      {"sample/message over the server's max size",
       [](Servers& s) {
         return SampleOnce(s,
                           Sample(std::string(kMaxMessageBytes + 10, 't'), 1));
       },
       StatusCode::RESOURCE_EXHAUSTED, "larger than max"},
      {"sample/empty stream",
       [](Servers& s) {
         return RawStream(s.replay_channel(),
                          "/shoal.v1.ReplayService/SampleStream", {});
       },
       StatusCode::OK, ""},
      // --- UpdatePriorities: nothing changes unless every entry is good.
      {"priorities/unknown table",
       [](Servers& s) {
         return UpdatePriorities(s, Priorities("nope", {s.sampled_key}, {2}));
       },
       StatusCode::INVALID_ARGUMENT, "table: no table named 'nope'"},
      {"priorities/negative priority",
       [](Servers& s) {
         return UpdatePriorities(
             s, Priorities("transitions", {s.sampled_key}, {-1}));
       },
       StatusCode::INVALID_ARGUMENT, "priorities[0] must be finite and >= 0"},
      {"priorities/NaN priority",
       [](Servers& s) {
         return UpdatePriorities(
             s, Priorities("transitions", {s.sampled_key}, {std::nan("")}));
       },
       StatusCode::INVALID_ARGUMENT, "priorities[0] must be finite and >= 0"},
      {"priorities/Inf priority",
       [](Servers& s) {
         return UpdatePriorities(
             s, Priorities("transitions", {s.sampled_key},
                           {std::numeric_limits<double>::infinity()}));
       },
       StatusCode::INVALID_ARGUMENT, "priorities[0] must be finite and >= 0"},
      {"priorities/good entry then a NaN: nothing changed",
       [](Servers& s) {
         return UpdatePriorities(
             s, Priorities("transitions", {s.sampled_key, s.sampled_key},
                           {5.0, std::nan("")}));
       },
       StatusCode::INVALID_ARGUMENT, "priorities[1] must be finite and >= 0"},
      {"priorities/more keys than priorities",
       [](Servers& s) {
         return UpdatePriorities(
             s, Priorities("transitions", {s.sampled_key, AbsentKey()}, {3}));
       },
       StatusCode::INVALID_ARGUMENT, "keys has 2 entries but priorities has 1"},
      {"priorities/key of another shard",
       [](Servers& s) {
         return UpdatePriorities(
             s, Priorities("transitions", {(uint64_t{9} << 48) | 1}, {3}));
       },
       StatusCode::INVALID_ARGUMENT, "keys[0] belongs to shard 9"},
      {"priorities/unknown key is reported, not an error",
       [](Servers& s) {
         v1::UpdatePrioritiesResponse response;
         Outcome outcome = UpdatePriorities(
             s, Priorities("transitions", {AbsentKey()}, {3}), &response);
         if (outcome.code == StatusCode::OK &&
             (response.updated() != 0 || response.missing_keys_size() != 1 ||
              response.missing_keys(0) != AbsentKey())) {
           return Broken(absl::StrCat("response ", response.DebugString()));
         }
         return outcome;
       },
       StatusCode::OK, ""},
      {"priorities/truncated message",
       [](Servers& s) {
         return RawUnary(
             s.replay_channel(), "/shoal.v1.ReplayService/UpdatePriorities",
             Truncated(Priorities("transitions", {s.sampled_key}, {3})));
       },
       StatusCode::INVALID_ARGUMENT, "malformed UpdatePrioritiesRequest"},
      {"priorities/message over the server's max size",
       [](Servers& s) {
         const int n = kMaxMessageBytes / 16 + 10000;
         return UpdatePriorities(
             s, Priorities("transitions", std::vector<uint64_t>(n, AbsentKey()),
                           std::vector<double>(n, 1.0)));
       },
       StatusCode::RESOURCE_EXHAUSTED, "larger than max"},
      // --- Info, Reset, Checkpoint.
      {"info/unknown table",
       [](Servers& s) {
         grpc::ClientContext context;
         SetDeadline(&context);
         v1::InfoRequest request;
         request.set_table("nope");
         v1::InfoResponse response;
         return FromStatus(s.replay().Info(&context, request, &response));
       },
       StatusCode::NOT_FOUND, "no table named 'nope'"},
      {"info/truncated message",
       [](Servers& s) {
         v1::InfoRequest request;
         request.set_table("transitions");
         return RawUnary(s.replay_channel(), "/shoal.v1.ReplayService/Info",
                         Truncated(request));
       },
       StatusCode::INVALID_ARGUMENT, "malformed InfoRequest"},
      {"reset/unknown table",
       [](Servers& s) {
         grpc::ClientContext context;
         SetDeadline(&context);
         v1::ResetRequest request;
         request.set_table("nope");
         v1::ResetResponse response;
         return FromStatus(s.replay().Reset(&context, request, &response));
       },
       StatusCode::NOT_FOUND, "no table named 'nope'"},
      {"checkpoint/shard without a checkpoint directory",
       [](Servers& s) {
         grpc::ClientContext context;
         SetDeadline(&context);
         v1::CheckpointResponse response;
         return FromStatus(s.replay().Checkpoint(
             &context, v1::CheckpointRequest(), &response));
       },
       StatusCode::FAILED_PRECONDITION, "checkpoint_dir"},
  };
  return rows;
}

std::vector<Row> EnvRows() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"env/Open of an unknown env",
       [](Servers& s) {
         grpc::ClientContext context;
         SetDeadline(&context);
         v1::OpenRequest request;
         request.set_env("no-such-env");
         v1::OpenResponse response;
         return FromStatus(s.env().Open(&context, request, &response));
       },
       StatusCode::INVALID_ARGUMENT, "OpenRequest.env"},
      {"env/Open of 'remote' (the server must not proxy)",
       [](Servers& s) {
         grpc::ClientContext context;
         SetDeadline(&context);
         v1::OpenRequest request;
         request.set_env("remote");
         v1::OpenResponse response;
         return FromStatus(s.env().Open(&context, request, &response));
       },
       StatusCode::INVALID_ARGUMENT, "OpenRequest.env"},
      {"env/Step before Open",
       [](Servers& s) {
         const v1::Tensor action = Int64Action(0);
         return Step(s, /*session=*/424242, &action);
       },
       StatusCode::NOT_FOUND, "session_id 424242 is not an open session"},
      {"env/Reset before Open",
       [](Servers& s) { return FromStatus(ResetEnv(s, 424242)); },
       StatusCode::NOT_FOUND, "session_id 424242 is not an open session"},
      {"env/Step after Close",
       [](Servers& s) {
         const v1::Tensor action = Int64Action(0);
         return Step(s, s.closed_session, &action);
       },
       StatusCode::NOT_FOUND, "is not an open session"},
      {"env/Close twice",
       [](Servers& s) { return FromStatus(CloseEnv(s, s.closed_session)); },
       StatusCode::NOT_FOUND, "CloseRequest.session_id"},
      {"env/Step before Reset",
       [](Servers& s) {
         const v1::Tensor action = Int64Action(0);
         return Step(s, s.unreset_session, &action);
       },
       StatusCode::FAILED_PRECONDITION, "has no running episode"},
      {"env/Step without an action",
       [](Servers& s) { return Step(s, s.cartpole_session, nullptr); },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action is missing"},
      {"env/discrete action with dtype float32",
       [](Servers& s) {
         const v1::Tensor action = FloatAction({0.0f}, {});
         return Step(s, s.cartpole_session, &action);
       },
       StatusCode::INVALID_ARGUMENT,
       "StepRequest.action.dtype is DTYPE_FLOAT32"},
      {"env/action dtype enum value out of range",
       [](Servers& s) {
         v1::Tensor action = Int64Action(0);
         action.set_dtype(static_cast<v1::DType>(99));
         return Step(s, s.cartpole_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action.dtype is 99"},
      {"env/discrete action of shape [2]",
       [](Servers& s) {
         const v1::Tensor action = Int64Action(0, {2});
         return Step(s, s.cartpole_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action.shape is [2]"},
      {"env/discrete action with 4 bytes of data",
       [](Servers& s) {
         v1::Tensor action = Int64Action(0);
         action.mutable_data()->resize(4);
         return Step(s, s.cartpole_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action.data has 4 bytes"},
      {"env/discrete action out of range",
       [](Servers& s) {
         const v1::Tensor action = Int64Action(2);
         return Step(s, s.cartpole_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action 2 is out of range"},
      {"env/negative discrete action",
       [](Servers& s) {
         const v1::Tensor action = Int64Action(-1);
         return Step(s, s.cartpole_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action -1 is out of range"},
      {"env/box action of shape [2]",
       [](Servers& s) {
         const v1::Tensor action = FloatAction({0.0f, 0.0f}, {2});
         return Step(s, s.pendulum_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action.shape is [2]"},
      {"env/box action as a scalar",
       [](Servers& s) {
         const v1::Tensor action = FloatAction({0.0f}, {});
         return Step(s, s.pendulum_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action.shape is []"},
      {"env/NaN box action",
       [nan](Servers& s) {
         const v1::Tensor action = FloatAction({nan}, {1});
         return Step(s, s.pendulum_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action[0]"},
      {"env/box action with dtype int64",
       [](Servers& s) {
         const v1::Tensor action = Int64Action(0, {1});
         return Step(s, s.pendulum_session, &action);
       },
       StatusCode::INVALID_ARGUMENT, "StepRequest.action.dtype is DTYPE_INT64"},
      {"env/truncated Step message",
       [](Servers& s) {
         v1::StepRequest request;
         request.set_session_id(s.cartpole_session);
         *request.mutable_action() = Int64Action(0);
         return RawUnary(s.env_channel(), "/shoal.v1.EnvService/Step",
                         Truncated(request));
       },
       StatusCode::UNIMPLEMENTED, ""},
      {"env/Step message over the server's max size",
       [](Servers& s) {
         v1::Tensor action = Int64Action(0);
         action.mutable_data()->resize(kMaxMessageBytes + 8);
         return Step(s, s.cartpole_session, &action);
       },
       StatusCode::RESOURCE_EXHAUSTED, "larger than max"},
  };
}

#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
std::vector<Row> LearnerRows() {
  return {
      {"learner/episode_return NaN",
       [](Servers& s) {
         return SpoiledEpisode(
             s, [](v1::Episode* e) { e->set_episode_return(std::nan("")); });
       },
       StatusCode::INVALID_ARGUMENT, "episodes[0].episode_return"},
      {"learner/episode_return -Inf",
       [](Servers& s) {
         return SpoiledEpisode(s, [](v1::Episode* e) {
           e->set_episode_return(-std::numeric_limits<double>::infinity());
         });
       },
       StatusCode::INVALID_ARGUMENT, "episodes[0].episode_return"},
      {"learner/negative length",
       [](Servers& s) {
         return SpoiledEpisode(s, [](v1::Episode* e) { e->set_length(-1); });
       },
       StatusCode::INVALID_ARGUMENT, "episodes[0].length"},
      {"learner/negative actor_index",
       [](Servers& s) {
         return SpoiledEpisode(s,
                               [](v1::Episode* e) { e->set_actor_index(-2); });
       },
       StatusCode::INVALID_ARGUMENT, "episodes[0].actor_index"},
      {"learner/negative env_id",
       [](Servers& s) {
         return SpoiledEpisode(s, [](v1::Episode* e) { e->set_env_id(-1); });
       },
       StatusCode::INVALID_ARGUMENT, "episodes[0].env_id"},
      {"learner/negative actor_env_steps",
       [](Servers& s) {
         return SpoiledEpisode(
             s, [](v1::Episode* e) { e->set_actor_env_steps(-5); });
       },
       StatusCode::INVALID_ARGUMENT, "episodes[0].actor_env_steps"},
      {"learner/negative policy_version",
       [](Servers& s) {
         return SpoiledEpisode(
             s, [](v1::Episode* e) { e->set_policy_version(-1); });
       },
       StatusCode::INVALID_ARGUMENT, "episodes[0].policy_version"},
      {"learner/two good episodes then a bad one: none recorded",
       [](Servers& s) {
         v1::ReportEpisodesRequest request;
         *request.add_episodes() = GoodEpisode();
         *request.add_episodes() = GoodEpisode();
         *request.add_episodes() = GoodEpisode();
         request.mutable_episodes(2)->set_length(-7);
         return Report(s, request);
       },
       StatusCode::INVALID_ARGUMENT, "episodes[2].length"},
      {"learner/ReportEpisodes over the server's max size",
       [](Servers& s) {
         v1::ReportEpisodesRequest request;
         const int n = kMaxMessageBytes / 20 + 100;
         for (int i = 0; i < n; ++i) *request.add_episodes() = GoodEpisode();
         return Report(s, request);
       },
       StatusCode::RESOURCE_EXHAUSTED, "larger than max"},
      {"learner/truncated ReportEpisodes message",
       [](Servers& s) {
         v1::ReportEpisodesRequest request;
         *request.add_episodes() = GoodEpisode();
         return RawUnary(s.learner_channel(),
                         "/shoal.v1.LearnerService/ReportEpisodes",
                         Truncated(request));
       },
       StatusCode::UNIMPLEMENTED, ""},
      {"learner/WatchParameters with a negative have_version",
       [](Servers& s) { return Watch(s, -3, kCallTimeout); },
       StatusCode::INVALID_ARGUMENT, "have_version: must be >= 0, got -3"},
      {"learner/WatchParameters ahead of the learner waits",
       [](Servers& s) { return Watch(s, 1000, absl::Milliseconds(300)); },
       StatusCode::DEADLINE_EXCEEDED, ""},
      {"learner/truncated GetParameters message",
       [](Servers& s) {
         return RawServerStream(s.learner_channel(),
                                "/shoal.v1.LearnerService/GetParameters",
                                Truncated(v1::GetParametersRequest()));
       },
       StatusCode::UNIMPLEMENTED, ""},
      {"learner/truncated WatchParameters message",
       [](Servers& s) {
         v1::WatchParametersRequest request;
         request.set_have_version(300);
         return RawServerStream(s.learner_channel(),
                                "/shoal.v1.LearnerService/WatchParameters",
                                Truncated(request));
       },
       StatusCode::UNIMPLEMENTED, ""},
  };
}
#endif

// `outcome`, or Broken when its message echoes more than a short line:
// every echo of client input is cut (common/quote.h).
Outcome Short(Outcome outcome) {
  if (outcome.message.size() > 512) {
    return Broken(absl::StrCat("a message of ", outcome.message.size(),
                               " bytes: ", outcome.message.substr(0, 80)));
  }
  return outcome;
}

// A length-delimited field 1 holding `value`: a valid InfoRequest,
// ResetRequest, SampleRequest or UpdatePrioritiesRequest naming table
// `value`, whatever its bytes (the C++ setters would refuse non-UTF-8).
std::string TableField(const std::string& value) {
  std::string bytes = "\x0a";
  for (uint64_t n = value.size();; n >>= 7) {
    bytes.push_back(static_cast<char>(n < 0x80 ? n : (n & 0x7f) | 0x80));
    if (n < 0x80) break;
  }
  return bytes + value;
}

// Rows for the classes of the hostile-client catalogue (issue 14): sizes
// that overflow, echoes that balloon, strings that are not UTF-8,
// priorities whose weight is infinite, unknown dtypes. (Resends below a
// writer's run, unknown fields and stalled readers store or hold something,
// so they run against a real shard in hostile_replay_test.)
std::vector<Row> HostileRows() {
  const int64_t two31 = int64_t{1} << 31;
  const std::string long_name(kMaxMessageBytes / 2, 'n');
  const std::string not_utf8 = "tr\xff\xfe";
  return {
      // --- Sizes computed from input never wrap.
      {"hostile/float32 [2^31, 2^31] with no data",
       [two31](Servers& s) {
         return SpoiledItem(s, [two31](v1::Item* i) {
           *i = Shaped(v1::DTYPE_FLOAT32, {two31, two31});
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0]: float32 [2147483648, 2147483648] is more than "
       "2^62 bytes"},
      {"hostile/float32 [2^62] with no data",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           *i = Shaped(v1::DTYPE_FLOAT32, {int64_t{1} << 62});
         });
       },
       StatusCode::INVALID_ARGUMENT, "is more than 2^62 bytes"},
      {"hostile/float64 [2^61] with no data",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           *i = Shaped(v1::DTYPE_FLOAT64, {int64_t{1} << 61});
         });
       },
       StatusCode::INVALID_ARGUMENT, "is more than 2^62 bytes"},
      {"hostile/int64 [2^40, 2^40] element count",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           *i = Shaped(v1::DTYPE_INT64, {int64_t{1} << 40, int64_t{1} << 40});
         });
       },
       StatusCode::INVALID_ARGUMENT, "has more than 2^62 elements"},
      {"hostile/uint8 [0, 2^62, 2^62] (no elements, but the product wraps)",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           *i = Shaped(v1::DTYPE_UINT8, {3, int64_t{1} << 62, 4});
         });
       },
       StatusCode::INVALID_ARGUMENT, "has more than 2^62 elements"},
      {"hostile/a shape of 10,000 dimensions",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           *i = Shaped(v1::DTYPE_UINT8, std::vector<int64_t>(10000, 1));
           i->mutable_columns(0)->set_data("x");
         });
       },
       StatusCode::INVALID_ARGUMENT, "shape has 10000 dimensions, at most 64"},
      {"hostile/a wildcard extent of 2^62 rows",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           *i = Frames(1);
           i->mutable_columns(0)->set_shape(0, int64_t{1} << 62);
         });
       },
       StatusCode::INVALID_ARGUMENT, "more than 2^62"},
      {"hostile/dtype 999",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->mutable_columns(0)->set_dtype(static_cast<v1::DType>(999));
         });
       },
       StatusCode::INVALID_ARGUMENT,
       "items[0].columns[0] (observation): dtype 999 != signature dtype "
       "float32"},
      // --- Echoes of client input are cut.
      {"hostile/insert into a table named by 512 KiB",
       [long_name](Servers& s) {
         return Short(
             SpoiledItem(s, [&](v1::Item* i) { i->set_table(long_name); }));
       },
       StatusCode::INVALID_ARGUMENT, "nnn'... (524288 bytes)"},
      {"hostile/sample a table named by 512 KiB",
       [long_name](Servers& s) {
         return Short(SampleOnce(s, Sample(long_name, 1)));
       },
       StatusCode::INVALID_ARGUMENT, "'... (524288 bytes) (tables: "},
      {"hostile/priorities of a table named by 512 KiB",
       [long_name](Servers& s) {
         return Short(
             UpdatePriorities(s, Priorities(long_name, {s.sampled_key}, {2})));
       },
       StatusCode::INVALID_ARGUMENT, "'... (524288 bytes)"},
      {"hostile/info of a table named by 512 KiB",
       [long_name](Servers& s) {
         return Short(RawUnary(s.replay_channel(),
                               "/shoal.v1.ReplayService/Info",
                               TableField(long_name)));
       },
       StatusCode::NOT_FOUND, "table: no table named 'nnnn"},
      {"hostile/reset of a table named by 512 KiB",
       [long_name](Servers& s) {
         return Short(RawUnary(s.replay_channel(),
                               "/shoal.v1.ReplayService/Reset",
                               TableField(long_name)));
       },
       StatusCode::NOT_FOUND, "'... (524288 bytes)"},
      // --- Strings that are not UTF-8: INVALID_ARGUMENT naming the field.
      {"hostile/info of a table named in bytes that are not UTF-8",
       [not_utf8](Servers& s) {
         return RawUnary(s.replay_channel(), "/shoal.v1.ReplayService/Info",
                         TableField(not_utf8));
       },
       StatusCode::INVALID_ARGUMENT,
       "malformed InfoRequest: table: not valid UTF-8: 'tr\\377\\376'"},
      {"hostile/reset of a table named in bytes that are not UTF-8",
       [not_utf8](Servers& s) {
         return RawUnary(s.replay_channel(), "/shoal.v1.ReplayService/Reset",
                         TableField(not_utf8));
       },
       StatusCode::INVALID_ARGUMENT, "table: not valid UTF-8"},
      {"hostile/priorities of a table named in bytes that are not UTF-8",
       [not_utf8](Servers& s) {
         return RawUnary(s.replay_channel(),
                         "/shoal.v1.ReplayService/UpdatePriorities",
                         TableField(not_utf8));
       },
       StatusCode::INVALID_ARGUMENT, "table: not valid UTF-8"},
      {"hostile/sample a table named in bytes that are not UTF-8",
       [not_utf8](Servers& s) {
         return RawStream(s.replay_channel(),
                          "/shoal.v1.ReplayService/SampleStream",
                          {TableField(not_utf8)});
       },
       StatusCode::INVALID_ARGUMENT, "table: not valid UTF-8"},
      {"hostile/insert an item whose table is not UTF-8",
       [](Servers& s) {
         std::string bytes =
             Batch(kBadWriter, s.TakeSequences(2), 2).SerializeAsString();
         const size_t at = bytes.rfind("transitions");
         bytes.replace(at, 11, "transition\xff");
         return RawStream(s.replay_channel(),
                          "/shoal.v1.ReplayService/InsertStream", {bytes});
       },
       StatusCode::INVALID_ARGUMENT,
       "malformed InsertRequest: items[1].table: not valid UTF-8: "
       "'transition\\377'"},
      {"hostile/checkpoint request that does not parse",
       [](Servers& s) {
         return RawUnary(s.replay_channel(),
                         "/shoal.v1.ReplayService/Checkpoint",
                         std::string("\x0a\x05", 2) + "ab");
       },
       StatusCode::INVALID_ARGUMENT, "malformed CheckpointRequest"},
      // --- Priorities whose weight would make the sum tree's total Inf.
      {"hostile/insert with priority DBL_MAX",
       [](Servers& s) {
         return SpoiledItem(s, [](v1::Item* i) {
           i->set_priority(std::numeric_limits<double>::max());
         });
       },
       StatusCode::INVALID_ARGUMENT, "items[0].priority 1.79769e+308 weighs"},
      {"hostile/priority update to DBL_MAX",
       [](Servers& s) {
         return UpdatePriorities(
             s, Priorities("transitions", {s.sampled_key, s.sampled_key},
                           {1.0, std::numeric_limits<double>::max()}));
       },
       StatusCode::INVALID_ARGUMENT, "priorities[1] 1.79769e+308 weighs"},
  };
}

std::vector<Row> Catalogue() {
  std::vector<Row> rows = ReplayRows();
  for (Row& row : HostileRows()) rows.push_back(std::move(row));
  for (Row& row : EnvRows()) rows.push_back(std::move(row));
#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
  for (Row& row : LearnerRows()) rows.push_back(std::move(row));
#endif
  return rows;
}

// ---------------------------------------------------------------------------
// The well-behaved writer.

// Inserts batches of kGoodBatch transitions (writer kGoodWriter) on one
// stream, each acknowledged before the next, until `stop` is notified.
class GoodWriter {
 public:
  explicit GoodWriter(v1::ReplayService::Stub* stub) {
    stream_ = stub->InsertStream(&context_);
    thread_ = std::thread([this] { Run(); });
  }
  ~GoodWriter() { Finish(); }

  // Ends the stream; the writer's problems, one line each ("" = none).
  std::string Finish() {
    if (thread_.joinable()) {
      stop_.Notify();
      thread_.join();
      stream_->WritesDone();
      grpc::Status status = stream_->Finish();
      if (!status.ok()) {
        absl::StrAppend(&problems_, "stream ended with ", status.error_code(),
                        ": ", status.error_message(), "\n");
      }
    }
    return problems_;
  }
  int64_t items() const { return items_; }
  int batches() const { return batches_; }

 private:
  void Run() {
    uint64_t next = 1;
    while (!stop_.WaitForNotificationWithTimeout(kGoodPause)) {
      const v1::InsertRequest batch = Batch(kGoodWriter, next, kGoodBatch);
      v1::InsertResponse ack;
      if (!stream_->Write(batch) || !stream_->Read(&ack)) {
        absl::StrAppend(&problems_, "stream broke at sequence ", next, "\n");
        return;
      }
      if (ack.has_error() || ack.acked_sequence() != next + kGoodBatch - 1) {
        absl::StrAppend(&problems_, "batch at ", next, " acked as ",
                        ack.ShortDebugString(), "\n");
      }
      next += kGoodBatch;
      items_ += kGoodBatch;
      ++batches_;
    }
  }

  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::InsertRequest, v1::InsertResponse>>
      stream_;
  absl::Notification stop_;
  std::thread thread_;
  // Written by the thread, read after it is joined.
  std::string problems_;
  int64_t items_ = 0;
  int batches_ = 0;
};

// ---------------------------------------------------------------------------
// Setup and checks around the catalogue.

v1::InfoResponse ReplayInfo(Servers& s) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::InfoResponse info;
  grpc::Status status = s.replay().Info(&context, v1::InfoRequest(), &info);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return info;
}

const v1::TableInfo* FindTable(const v1::InfoResponse& info,
                               const std::string& name) {
  for (const v1::TableInfo& table : info.tables()) {
    if (table.name() == name) return &table;
  }
  ADD_FAILURE() << "no table " << name << " in Info";
  return nullptr;
}

// Prefills "transitions", samples one key, opens the env sessions.
void Prepare(Servers& s) {
  {
    grpc::ClientContext context;
    auto stream = s.replay().InsertStream(&context);
    v1::InsertResponse ack;
    ASSERT_TRUE(stream->Write(Batch(/*writer=*/100, 1, kPrefill)));
    ASSERT_TRUE(stream->Read(&ack));
    ASSERT_FALSE(ack.has_error()) << ack.error().message();
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    auto stream = s.replay().SampleStream(&context);
    ASSERT_TRUE(stream->Write(Sample("transitions", 1)));
    v1::SampleResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_EQ(response.items_size(), 1);
    s.sampled_key = response.items(0).key();
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }
  absl::StatusOr<uint64_t> cartpole = OpenEnv(s, "cartpole");
  absl::StatusOr<uint64_t> pendulum = OpenEnv(s, "pendulum");
  absl::StatusOr<uint64_t> unreset = OpenEnv(s, "cartpole");
  absl::StatusOr<uint64_t> closed = OpenEnv(s, "cartpole");
  for (const auto* opened : {&cartpole, &pendulum, &unreset, &closed}) {
    ASSERT_TRUE(opened->ok()) << opened->status();
  }
  s.cartpole_session = *cartpole;
  s.pendulum_session = *pendulum;
  s.unreset_session = *unreset;
  s.closed_session = *closed;
  ASSERT_TRUE(ResetEnv(s, s.cartpole_session).ok());
  ASSERT_TRUE(ResetEnv(s, s.pendulum_session).ok());
  ASSERT_TRUE(CloseEnv(s, s.closed_session).ok());
}

// `after` is `before` plus `items` good transitions.
void ExpectOnlyGoodItemsAdded(const v1::TableInfo& before,
                              const v1::TableInfo& after, int64_t items) {
  EXPECT_EQ(after.size(), before.size() + items);
  EXPECT_EQ(after.bytes(), before.bytes() + items * kTransitionBytes);
  EXPECT_EQ(after.inserts(), before.inserts() + items);
  EXPECT_EQ(after.samples(), before.samples());
  EXPECT_EQ(after.evictions(), before.evictions());
  EXPECT_DOUBLE_EQ(after.total_priority(),
                   before.total_priority() + items * kPriority);
  EXPECT_EQ(after.rate_limiter().inserts(),
            before.rate_limiter().inserts() + items);
  EXPECT_EQ(after.rate_limiter().samples(), before.rate_limiter().samples());
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case StatusCode::OK:
      return "OK";
    case StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return "other";
  }
}

// ---------------------------------------------------------------------------
// Tests.

TEST(BadInputTest, CatalogueHasAtLeastThirtyUniquelyNamedRows) {
  const std::vector<Row> rows = Catalogue();
  EXPECT_GE(rows.size(), 30u);
  std::set<std::string> names;
  for (const Row& row : rows) {
    EXPECT_TRUE(names.insert(row.name).second) << "duplicate " << row.name;
  }
}

TEST(BadInputTest, EveryMalformedRequestIsRefusedByNameAndNothingChanges) {
  Servers s;
  ASSERT_TRUE(s.Start());
  ASSERT_NO_FATAL_FAILURE(Prepare(s));
#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
  {
    v1::ReportEpisodesRequest request;
    *request.add_episodes() = GoodEpisode();
    ASSERT_EQ(Report(s, request).code, StatusCode::OK);
  }
  const EpisodeStatsSnapshot stats_before = s.stats().Snapshot();
#endif
  const v1::InfoResponse before = ReplayInfo(s);

  GoodWriter good(&s.replay());
  for (const Row& row : Catalogue()) {
    SCOPED_TRACE(row.name);
    const Outcome outcome = row.send(s);
    std::printf("%-60s %-20s %s\n", row.name.c_str(), CodeName(outcome.code),
                outcome.message.substr(0, 100).c_str());
    EXPECT_EQ(outcome.code, row.code)
        << "got " << CodeName(outcome.code) << ": " << outcome.message;
    if (!row.names.empty()) {
      EXPECT_THAT(outcome.message, ::testing::HasSubstr(row.names));
    }
  }
  EXPECT_TRUE(s.CloseBadStream().ok()) << "the catalogue's insert stream";
  const std::string problems = good.Finish();
  EXPECT_EQ(problems, "") << "the well-behaved writer was disturbed";
  EXPECT_GT(good.batches(), 0);

  // The servers still answer.
  EXPECT_EQ(CheckHealth(s.replay_channel(), "").value_or("error"), "SERVING");
  EXPECT_EQ(CheckHealth(s.env_channel(), "").value_or("error"), "SERVING");
  const v1::InfoResponse after = ReplayInfo(s);

  // Nothing changed but the well-behaved writer's items.
  const v1::TableInfo* transitions_before = FindTable(before, "transitions");
  const v1::TableInfo* transitions_after = FindTable(after, "transitions");
  ASSERT_NE(transitions_before, nullptr);
  ASSERT_NE(transitions_after, nullptr);
  ExpectOnlyGoodItemsAdded(*transitions_before, *transitions_after,
                           good.items());
  const v1::TableInfo* frames_before = FindTable(before, "frames");
  const v1::TableInfo* frames_after = FindTable(after, "frames");
  ASSERT_NE(frames_before, nullptr);
  ASSERT_NE(frames_after, nullptr);
  EXPECT_EQ(frames_after->ShortDebugString(),
            frames_before->ShortDebugString());
  const v1::TableInfo* anything_before = FindTable(before, "anything");
  const v1::TableInfo* anything_after = FindTable(after, "anything");
  ASSERT_NE(anything_before, nullptr);
  ASSERT_NE(anything_after, nullptr);
  EXPECT_EQ(anything_after->ShortDebugString(),
            anything_before->ShortDebugString());

  // The sessions the rows poked at still step.
  const v1::Tensor discrete = Int64Action(1);
  EXPECT_EQ(Step(s, s.cartpole_session, &discrete).code, StatusCode::OK);
  const v1::Tensor box = FloatAction({0.5f}, {1});
  EXPECT_EQ(Step(s, s.pendulum_session, &box).code, StatusCode::OK);

#ifdef SHOAL_BAD_INPUT_WITH_LEARNER
  EXPECT_EQ(CheckHealth(s.learner_channel(), "").value_or("error"), "SERVING");
  const EpisodeStatsSnapshot stats_after = s.stats().Snapshot();
  EXPECT_EQ(stats_after.total_episodes, stats_before.total_episodes);
  EXPECT_EQ(stats_after.train.episodes, stats_before.train.episodes);
  EXPECT_EQ(stats_after.total_env_steps, stats_before.total_env_steps);
  EXPECT_EQ(s.store().latest_version(), 1);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    auto reader =
        s.learner().GetParameters(&context, v1::GetParametersRequest());
    v1::ParametersChunk chunk;
    ASSERT_TRUE(reader->Read(&chunk));
    EXPECT_EQ(chunk.version(), 1);
    while (reader->Read(&chunk)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
  }
#endif
}

}  // namespace
}  // namespace shoal
