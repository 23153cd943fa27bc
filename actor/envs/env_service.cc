#include "actor/envs/env_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "shoal/v1/env.pb.h"
#include "shoal/v1/tensor.pb.h"

#include "common/grpc_status.h"
#include "common/quote.h"
#include "common/status_macros.h"
#include "common/tensor_codec.h"

namespace shoal {
namespace {

int64_t NowNanos() { return absl::GetCurrentTimeNanos(); }

void SpecToProto(const EnvSpec& spec, v1::EnvSpec* proto) {
  proto->set_name(spec.name);
  v1::TensorSpec* observation = proto->mutable_observation();
  observation->set_name("observation");
  observation->set_dtype(v1::DTYPE_FLOAT32);
  for (int64_t extent : spec.observation_shape) observation->add_shape(extent);
  if (spec.action_space.discrete()) {
    proto->mutable_discrete()->set_n(spec.action_space.num_actions);
  } else {
    v1::BoxSpace* box = proto->mutable_box();
    box->mutable_low()->Add(spec.action_space.low.begin(),
                            spec.action_space.low.end());
    box->mutable_high()->Add(spec.action_space.high.begin(),
                             spec.action_space.high.end());
  }
  proto->set_max_episode_steps(spec.max_episode_steps);
}

// Checks StepRequest.action against `space` and decodes it into `action`
// (box values into `box_storage`, which `action->box` then views). A
// discrete action is an int64 scalar (shape [] or [1]); a box action is
// float32 [dim], every value finite.
absl::Status DecodeAction(const v1::StepRequest& request,
                          const ActionSpace& space,
                          std::vector<float>& box_storage, Action* action) {
  constexpr absl::string_view kField = "StepRequest.action";
  if (!request.has_action()) {
    return absl::InvalidArgumentError("StepRequest.action is missing");
  }
  const v1::Tensor& tensor = request.action();
  if (space.discrete()) {
    static constexpr v1::DType kInt64[] = {v1::DTYPE_INT64};
    static constexpr int64_t kOne[] = {1};
    const bool one = tensor.shape_size() == 1 && tensor.shape(0) == 1;
    const ExpectedTensor expected{kInt64, one ? absl::Span<const int64_t>(kOne)
                                              : absl::Span<const int64_t>()};
    SHOAL_RETURN_IF_ERROR(ConvertTensorInto(
        tensor, expected, absl::MakeSpan(&action->discrete, 1), kField));
    if (action->discrete < 0 || action->discrete >= space.num_actions) {
      return absl::InvalidArgumentError(
          absl::StrCat("StepRequest.action ", action->discrete,
                       " is out of range [0, ", space.num_actions, ")"));
    }
    return absl::OkStatus();
  }
  static constexpr v1::DType kFloat32[] = {v1::DTYPE_FLOAT32};
  const int64_t shape[] = {space.dim()};
  box_storage.resize(space.dim());
  SHOAL_RETURN_IF_ERROR(ConvertTensorInto(tensor, {kFloat32, shape},
                                          absl::MakeSpan(box_storage), kField));
  action->box = box_storage;
  return absl::OkStatus();
}

}  // namespace

// One env instance. `mu` serialises the session's calls; the counters are
// read by the reaper under the service's mu_.
struct EnvServiceImpl::Session {
  explicit Session(std::unique_ptr<Env> env_in)
      : env(std::move(env_in)),
        observation(env->spec().observation_size()),
        last_used_ns(NowNanos()) {}

  absl::Mutex mu;
  const std::unique_ptr<Env> env ABSL_PT_GUARDED_BY(mu);
  std::vector<float> observation ABSL_GUARDED_BY(mu);
  std::vector<float> box_action ABSL_GUARDED_BY(mu);
  // Reset succeeded and no Step has ended the episode since.
  bool episode_running ABSL_GUARDED_BY(mu) = false;

  // Incremented under the service's mu_ (so the reaper sees every call that
  // has found the session), decremented by Release.
  std::atomic<int> calls_in_flight{0};
  std::atomic<int64_t> last_used_ns;
};

EnvServiceImpl::EnvServiceImpl(EnvMaker make_env, EnvServiceOptions options)
    : make_env_(std::move(make_env)),
      options_(options),
      metrics_(options.metrics) {
  workers_.reserve(std::max(0, options_.num_threads));
  for (int i = 0; i < options_.num_threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

EnvServiceImpl::~EnvServiceImpl() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
}

void EnvServiceImpl::Schedule(absl::AnyInvocable<void()> work) {
  if (workers_.empty()) {
    work();
    return;
  }
  absl::MutexLock lock(&queue_mu_);
  queue_.push_back(std::move(work));
}

void EnvServiceImpl::WorkerLoop() {
  while (true) {
    absl::AnyInvocable<void()> work;
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(
          absl::Condition(this, &EnvServiceImpl::HasWorkOrStopping));
      // Drain the queue before stopping: each item finishes a call.
      if (queue_.empty()) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

// The request and response stay valid until the reactor is finished, so
// the workers may use them.
grpc::ServerUnaryReactor* EnvServiceImpl::Open(
    grpc::CallbackServerContext* context, const v1::OpenRequest* request,
    v1::OpenResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Schedule([this, reactor, request, response] {
    absl::StatusOr<v1::OpenResponse> opened = OpenSession(request->env());
    if (opened.ok()) *response = *std::move(opened);
    Finish(reactor, opened.status());
  });
  return reactor;
}

grpc::ServerUnaryReactor* EnvServiceImpl::Reset(
    grpc::CallbackServerContext* context, const v1::EnvResetRequest* request,
    v1::EnvResetResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Schedule([this, reactor, request, response] {
    Finish(reactor, ResetSession(*request, response));
  });
  return reactor;
}

grpc::ServerUnaryReactor* EnvServiceImpl::Step(
    grpc::CallbackServerContext* context, const v1::StepRequest* request,
    v1::StepResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The clock is read only with metrics. The closure is heap-allocated
  // either way (it is larger than AnyInvocable's inline storage).
  const std::chrono::steady_clock::time_point arrived =
      metrics_ != nullptr ? std::chrono::steady_clock::now()
                          : std::chrono::steady_clock::time_point();
  Schedule([this, reactor, request, response, arrived] {
    const absl::Status status = StepSession(*request, response);
    // Observed before Finish, so a client that has its answer sees it.
    if (metrics_ != nullptr) {
      metrics_->ObserveStep(
          absl::FromChrono(std::chrono::steady_clock::now() - arrived));
    }
    Finish(reactor, status);
  });
  return reactor;
}

// Close only erases a map entry, so it runs inline on gRPC's thread.
grpc::ServerUnaryReactor* EnvServiceImpl::Close(
    grpc::CallbackServerContext* context, const v1::CloseRequest* request,
    v1::CloseResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    // A call still in flight keeps its Session alive through its shared_ptr.
    if (sessions_.erase(request->session_id()) == 0) {
      status = absl::NotFoundError(absl::StrCat("CloseRequest.session_id ",
                                                request->session_id(),
                                                " is not an open session"));
    }
    UpdateSessionsGauge();
  }
  Finish(reactor, status);
  return reactor;
}

void EnvServiceImpl::Finish(grpc::ServerUnaryReactor* reactor,
                            const absl::Status& status) {
  if (!status.ok() && metrics_ != nullptr) {
    metrics_->rejected_requests().Increment();
  }
  reactor->Finish(ToGrpcStatus(status));
}

void EnvServiceImpl::UpdateSessionsGauge() {
  if (metrics_ != nullptr) {
    metrics_->sessions().Set(static_cast<double>(sessions_.size()));
  }
}

int EnvServiceImpl::ReapIdleSessions(absl::Time now) {
  absl::MutexLock lock(&mu_);
  return ReapIdleSessionsLocked(now);
}

int EnvServiceImpl::num_sessions() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(sessions_.size());
}

int EnvServiceImpl::ReapIdleSessionsLocked(absl::Time now) {
  last_reap_ = now;
  const int64_t cutoff_ns = absl::ToUnixNanos(now - options_.idle_timeout);
  int reaped = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const Session& session = *it->second;
    if (session.calls_in_flight.load() == 0 &&
        session.last_used_ns.load() < cutoff_ns) {
      sessions_.erase(it++);
      ++reaped;
    } else {
      ++it;
    }
  }
  if (reaped > 0) UpdateSessionsGauge();
  return reaped;
}

absl::StatusOr<v1::OpenResponse> EnvServiceImpl::OpenSession(
    const std::string& env_name) {
  // The factory may be slow (it may load data): no lock held.
  absl::StatusOr<std::unique_ptr<Env>> made = make_env_(env_name);
  if (!made.ok()) {
    return absl::Status(made.status().code(),
                        absl::StrCat("OpenRequest.env ", Quote(env_name), ": ",
                                     made.status().message()));
  }
  std::unique_ptr<Env> env = *std::move(made);
  if (env == nullptr) {
    return absl::InternalError(
        absl::StrCat("the env factory returned null for ", Quote(env_name)));
  }
  v1::OpenResponse response;
  SpecToProto(env->spec(), response.mutable_spec());
  auto session = std::make_shared<Session>(std::move(env));

  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (static_cast<int>(sessions_.size()) >= options_.max_sessions ||
      now - last_reap_ >= options_.idle_timeout / 4) {
    ReapIdleSessionsLocked(now);
  }
  if (static_cast<int>(sessions_.size()) >= options_.max_sessions) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", options_.max_sessions,
                     " sessions are in use; close one or wait for idle ones "
                     "to be reaped"));
  }
  uint64_t id = 0;
  while (id == 0 || sessions_.contains(id)) {
    id = absl::Uniform<uint64_t>(bitgen_);
  }
  sessions_.emplace(id, std::move(session));
  UpdateSessionsGauge();
  if (metrics_ != nullptr) metrics_->sessions_opened().Increment();
  response.set_session_id(id);
  return response;
}

absl::StatusOr<std::shared_ptr<EnvServiceImpl::Session>>
EnvServiceImpl::Acquire(uint64_t session_id) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "session_id ", session_id,
        " is not an open session (never opened, closed, or reaped as idle)"));
  }
  it->second->calls_in_flight.fetch_add(1);
  return it->second;
}

void EnvServiceImpl::Release(Session& session) {
  session.last_used_ns.store(NowNanos());
  session.calls_in_flight.fetch_sub(1);
}

absl::Status EnvServiceImpl::ResetSession(const v1::EnvResetRequest& request,
                                          v1::EnvResetResponse* response) {
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<Session> session,
                         Acquire(request.session_id()));
  absl::Status status;
  {
    absl::MutexLock lock(&session->mu);
    session->episode_running = false;
    status = session->env->Reset(request.seed(),
                                 absl::MakeSpan(session->observation));
    if (status.ok()) {
      session->episode_running = true;
      if (metrics_ != nullptr) metrics_->resets().Increment();
      status = EncodeTensor<float>(session->observation,
                                   session->env->spec().observation_shape,
                                   response->mutable_observation());
    }
  }
  Release(*session);
  return status;
}

absl::Status EnvServiceImpl::StepSession(const v1::StepRequest& request,
                                         v1::StepResponse* response) {
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<Session> session,
                         Acquire(request.session_id()));
  absl::Status status;
  {
    absl::MutexLock lock(&session->mu);
    Env& env = *session->env;
    Action action;
    status = DecodeAction(request, env.spec().action_space, session->box_action,
                          &action);
    if (status.ok() && !session->episode_running) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "session_id ", request.session_id(),
          " has no running episode (not reset yet, or it ended); call Reset"));
    }
    if (status.ok()) {
      absl::StatusOr<StepResult> result =
          env.Step(action, absl::MakeSpan(session->observation));
      if (result.ok()) {
        if (metrics_ != nullptr) metrics_->steps().Increment();
        if (result->terminated || result->truncated) {
          session->episode_running = false;
        }
        status = EncodeTensor<float>(session->observation,
                                     env.spec().observation_shape,
                                     response->mutable_observation());
        response->set_reward(result->reward);
        response->set_terminated(result->terminated);
        response->set_truncated(result->truncated);
      } else {
        status = result.status();
        // An invalid action leaves the state as it was; after any other
        // failure the episode's state is unknown.
        if (!absl::IsInvalidArgument(status)) session->episode_running = false;
      }
    }
  }
  Release(*session);
  return status;
}

}  // namespace shoal
