// libFuzzer target: arbitrary Open/Reset/Step/Close requests to the env
// server's real service, EnvServiceImpl (actor/envs/env_service.cc), through
// its gRPC methods on an in-process channel (no socket), serving "cartpole"
// and "pendulum" (episodes cut at kMaxEpisodeSteps) with at most
// kMaxSessions sessions.
//
// An input is up to kMaxOps records: one op byte (mod 4: Open, Reset, Step,
// Close), a 2-byte little-endian length, then that many bytes of the
// serialized request (cut at the input's end; a record that does not parse
// is skipped). A session_id below kSessionSlots names the input's own
// sessions by the order they were opened (the server's ids are random);
// any other id is sent as is. Every session left open is closed at the
// end of the input.
//
// Checks, besides no crash or sanitizer report: every call ends within
// 10 s; each refusal is a clean status (a code that call may give, a
// non-empty message of printable ASCII under kMaxMessageBytes: anything
// sent is quoted or cut); the codes follow a model of the sessions (unknown
// or closed: NOT_FOUND; Open beyond the cap: RESOURCE_EXHAUSTED; a Step
// that succeeds needs a running episode, and FAILED_PRECONDITION means
// there was none); every observation matches the spec the session was
// opened with and is finite; no session outlives the input.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/grpcpp.h"
#include "shoal/v1/env.grpc.pb.h"
#include "spdlog/spdlog.h"

#include "actor/envs/env_factory.h"
#include "actor/envs/env_service.h"
#include "common/grpc_status.h"
#include "common/tensor_codec.h"
#include "tests/fuzz/fuzz_seeds.h"

namespace shoal {
namespace fuzz {
namespace {

constexpr int kMaxOps = 32;
constexpr uint64_t kSessionSlots = 16;
constexpr int kMaxSessions = 4;
constexpr int kMaxEpisodeSteps = 8;
constexpr size_t kMaxMessageBytes = 512;

enum Op : uint8_t { kOpen = 0, kReset = 1, kStep = 2, kClose = 3 };

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Builds the envs this server serves; other built-in names are refused
// here, unknown ones go to MakeEnv for its own refusal.
absl::StatusOr<std::unique_ptr<Env>> MakeServedEnv(const std::string& name) {
  if (name != "cartpole" && name != "pendulum") {
    for (const std::string& known : KnownEnvNames()) {
      if (name == known) {
        return absl::InvalidArgumentError("not served by env_step_fuzz");
      }
    }
  }
  EnvOptions options;
  options.name = name;
  options.max_episode_steps = kMaxEpisodeSteps;
  return MakeEnv(options);
}

bool Served(absl::string_view name) {
  return name == "cartpole" || name == "pendulum";
}

struct Harness {
  std::unique_ptr<EnvServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::EnvService::Stub> stub;
};

Harness* harness = nullptr;

// One session an input opened, as the model sees it.
struct Session {
  uint64_t id = 0;
  v1::TensorSpec observation;
  bool running = false;
  bool closed = false;
};

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
}

// The call's status, after checking it is clean and one of `allowed`.
absl::Status Clean(const grpc::Status& grpc_status,
                   std::initializer_list<absl::StatusCode> allowed) {
  const absl::Status status = FromGrpcStatus(grpc_status);
  bool listed = false;
  for (absl::StatusCode code : allowed) listed |= status.code() == code;
  Check(listed);
  if (!status.ok()) {
    const absl::string_view message = status.message();
    Check(!message.empty() && message.size() <= kMaxMessageBytes);
    for (char c : message) Check(c >= 0x20 && c <= 0x7e);
  }
  return status;
}

// An observation the server sent for `session`.
void CheckObservation(const Session& session, const v1::Tensor& tensor) {
  Check(
      CheckTensorMatchesSpec(tensor, session.observation, "observation").ok());
}

void DoOpen(const v1::OpenRequest& request, std::vector<Session>* sessions) {
  int live = 0;
  for (const Session& s : *sessions) live += s.closed ? 0 : 1;
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::OpenResponse response;
  const absl::Status status =
      Clean(harness->stub->Open(&context, request, &response),
            {absl::StatusCode::kOk, absl::StatusCode::kInvalidArgument,
             absl::StatusCode::kResourceExhausted});
  if (!Served(request.env())) {
    Check(absl::IsInvalidArgument(status));
    return;
  }
  Check(live < kMaxSessions ? status.ok() : absl::IsResourceExhausted(status));
  if (!status.ok()) return;
  Check(response.session_id() != 0 && response.spec().has_observation());
  Session& session = sessions->emplace_back();
  session.id = response.session_id();
  session.observation = response.spec().observation();
}

// The session a request's id names (nullptr: none of this input's), and
// the id to send.
Session* Resolve(uint64_t* id, std::vector<Session>* sessions) {
  if (*id >= kSessionSlots || sessions->empty()) return nullptr;
  Session& session = (*sessions)[*id % sessions->size()];
  *id = session.id;
  return &session;
}

void DoReset(v1::EnvResetRequest request, std::vector<Session>* sessions) {
  uint64_t id = request.session_id();
  Session* session = Resolve(&id, sessions);
  request.set_session_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::EnvResetResponse response;
  const absl::Status status =
      Clean(harness->stub->Reset(&context, request, &response),
            {absl::StatusCode::kOk, absl::StatusCode::kNotFound});
  const bool known = session != nullptr && !session->closed;
  Check(status.ok() == known);
  if (!known) return;
  CheckObservation(*session, response.observation());
  session->running = true;
}

void DoStep(v1::StepRequest request, std::vector<Session>* sessions) {
  uint64_t id = request.session_id();
  Session* session = Resolve(&id, sessions);
  request.set_session_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StepResponse response;
  const absl::Status status =
      Clean(harness->stub->Step(&context, request, &response),
            {absl::StatusCode::kOk, absl::StatusCode::kNotFound,
             absl::StatusCode::kInvalidArgument,
             absl::StatusCode::kFailedPrecondition});
  const bool known = session != nullptr && !session->closed;
  Check(absl::IsNotFound(status) == !known);
  if (!known) return;
  if (absl::IsFailedPrecondition(status)) Check(!session->running);
  if (!status.ok()) return;
  Check(session->running);
  CheckObservation(*session, response.observation());
  Check(std::isfinite(response.reward()));
  if (response.terminated() || response.truncated()) session->running = false;
}

void DoClose(v1::CloseRequest request, std::vector<Session>* sessions) {
  uint64_t id = request.session_id();
  Session* session = Resolve(&id, sessions);
  request.set_session_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::CloseResponse response;
  const absl::Status status =
      Clean(harness->stub->Close(&context, request, &response),
            {absl::StatusCode::kOk, absl::StatusCode::kNotFound});
  const bool known = session != nullptr && !session->closed;
  Check(status.ok() == known);
  if (known) session->closed = true;
}

// One record of the input format above.
std::string Record(Op op, const google::protobuf::Message& request) {
  const std::string payload = request.SerializeAsString();
  std::string out(1, static_cast<char>(op));
  out.push_back(static_cast<char>(payload.size() & 0xff));
  out.push_back(static_cast<char>(payload.size() >> 8));
  return out + payload;
}

std::string OpenOf(const std::string& env) {
  v1::OpenRequest request;
  request.set_env(env);
  return Record(kOpen, request);
}

std::string ResetOf(uint64_t slot) {
  v1::EnvResetRequest request;
  request.set_session_id(slot);
  request.set_seed(slot + 7);
  return Record(kReset, request);
}

std::string StepOf(uint64_t slot, const v1::Tensor* action) {
  v1::StepRequest request;
  request.set_session_id(slot);
  if (action != nullptr) *request.mutable_action() = *action;
  return Record(kStep, request);
}

std::string CloseOf(uint64_t slot) {
  v1::CloseRequest request;
  request.set_session_id(slot);
  return Record(kClose, request);
}

v1::Tensor Discrete(int64_t index) {
  v1::Tensor tensor;
  (void)EncodeTensor<int64_t>(absl::MakeConstSpan(&index, 1), {}, &tensor);
  return tensor;
}

v1::Tensor Box(std::vector<float> values) {
  v1::Tensor tensor;
  (void)EncodeTensor<float>(values, {static_cast<int64_t>(values.size())},
                            &tensor);
  return tensor;
}

Seeds MakeSeeds() {
  Seeds seeds;
  std::string episode = OpenOf("cartpole") + ResetOf(0);
  for (int t = 0; t < 12; ++t) {
    const v1::Tensor action = Discrete(t % 2);
    episode += StepOf(0, &action);
  }
  seeds.emplace_back("cartpole_episode", episode + CloseOf(0));

  std::string pendulum = OpenOf("pendulum") + ResetOf(0);
  for (float torque : {-2.0f, 0.5f, 2.0f, 9.0f}) {
    const v1::Tensor action = Box({torque});
    pendulum += StepOf(0, &action);
  }
  seeds.emplace_back("pendulum_steps", pendulum);

  std::string bad = OpenOf("cartpole") + OpenOf("pendulum") + ResetOf(0) +
                    ResetOf(1) + StepOf(0, nullptr);
  v1::Tensor wrong_dtype = Discrete(1);
  wrong_dtype.set_dtype(static_cast<v1::DType>(99));
  v1::Tensor short_data = Discrete(1);
  short_data.mutable_data()->resize(4);
  v1::Tensor vector = Discrete(1);
  vector.add_shape(2);
  v1::Tensor out_of_range = Discrete(2);
  v1::Tensor float_for_discrete = Box({1.0f});
  for (const v1::Tensor* action : {&wrong_dtype, &short_data, &vector,
                                   &out_of_range, &float_for_discrete}) {
    bad += StepOf(0, action);
  }
  v1::Tensor nan = Box({std::nanf("")});
  v1::Tensor two = Box({0.0f, 0.0f});
  v1::Tensor scalar = Box({0.0f});
  scalar.clear_shape();
  v1::Tensor int_for_box = Discrete(0);
  for (const v1::Tensor* action : {&nan, &two, &scalar, &int_for_box}) {
    bad += StepOf(1, action);
  }
  seeds.emplace_back("bad_actions", bad);

  const v1::Tensor push = Discrete(1);
  std::string sessions = OpenOf("no-such-env") + OpenOf("remote") +
                         OpenOf("cartpole") + StepOf(0, &push) + CloseOf(0) +
                         CloseOf(0) + StepOf(0, &push) + ResetOf(12345);
  for (int i = 0; i < kMaxSessions + 1; ++i) sessions += OpenOf("cartpole");
  seeds.emplace_back("session_errors", sessions);
  return seeds;
}

}  // namespace
}  // namespace fuzz
}  // namespace shoal

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  using namespace shoal;
  using namespace shoal::fuzz;
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);
  WriteSeedsIfAsked(MakeSeeds);
  harness = new Harness;
  EnvServiceOptions options;
  options.max_sessions = kMaxSessions;
  options.idle_timeout = absl::Hours(1);  // nothing is reaped mid-input
  options.num_threads = 2;                // the workers, as in the server
  harness->service = std::make_unique<EnvServiceImpl>(MakeServedEnv, options);
  grpc::ServerBuilder builder;
  builder.RegisterService(harness->service.get());
  harness->server = builder.BuildAndStart();
  Check(harness->server != nullptr);
  harness->stub = v1::EnvService::NewStub(
      harness->server->InProcessChannel(grpc::ChannelArguments()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal;
  using namespace shoal::fuzz;
  std::vector<Session> sessions;
  size_t at = 0;
  for (int ops = 0; ops < kMaxOps && at + 3 <= size; ++ops) {
    const uint8_t op = data[at] % 4;
    const size_t length = std::min<size_t>(
        data[at + 1] | (size_t{data[at + 2]} << 8), size - at - 3);
    const uint8_t* payload = data + at + 3;
    at += 3 + length;
    const int n = static_cast<int>(length);
    if (op == kOpen) {
      v1::OpenRequest request;
      if (request.ParseFromArray(payload, n)) DoOpen(request, &sessions);
    } else if (op == kReset) {
      v1::EnvResetRequest request;
      if (request.ParseFromArray(payload, n)) DoReset(request, &sessions);
    } else if (op == kStep) {
      v1::StepRequest request;
      if (request.ParseFromArray(payload, n)) DoStep(request, &sessions);
    } else {
      v1::CloseRequest request;
      if (request.ParseFromArray(payload, n)) DoClose(request, &sessions);
    }
  }
  for (const Session& session : sessions) {
    if (session.closed) continue;
    v1::CloseRequest request;
    request.set_session_id(session.id);
    v1::CloseResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    Check(harness->stub->Close(&context, request, &response).ok());
  }
  Check(harness->service->num_sessions() == 0);
  return 0;
}
