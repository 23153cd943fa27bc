#include "actor/envs/remote_env.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "grpcpp/grpcpp.h"
#include "shoal/v1/env.grpc.pb.h"
#include "shoal/v1/env.pb.h"
#include "shoal/v1/tensor.pb.h"

#include "common/grpc_channel.h"
#include "common/status_macros.h"
#include "common/tensor_codec.h"

#ifndef ABSL_IS_LITTLE_ENDIAN
#error \
    "remote_env.cc copies tensor bytes as host order; the wire is little-endian"
#endif

namespace shoal {
namespace {

constexpr int kMaxReceiveBytes = 64 << 20;
// An observation larger than a response may be could never arrive.
constexpr int64_t kMaxRemoteObservationBytes = kMaxReceiveBytes;
// Close on destruction waits at most this long (or the call timeout if it
// is shorter).
constexpr int64_t kCloseTimeoutMs = 500;

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

// gRPC and absl share code numbers; the message gains the call and peer.
absl::Status CallError(const grpc::Status& status, absl::string_view method,
                       absl::string_view address) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("EnvService.", method, " on ", address, ": ",
                                   status.error_message()));
}

// Checks the server's spec and converts it. INTERNAL names the bad field.
absl::StatusOr<EnvSpec> SpecFromProto(const v1::OpenResponse& response,
                                      const EnvOptions& options) {
  if (!response.has_spec()) {
    return absl::InternalError("OpenResponse.spec is missing");
  }
  const v1::EnvSpec& proto = response.spec();
  if (!proto.has_observation()) {
    return absl::InternalError("OpenResponse.spec.observation is missing");
  }
  if (DTypeSize(proto.observation().dtype()) == 0) {
    return absl::InternalError(absl::StrCat(
        "OpenResponse.spec.observation.dtype ",
        DTypeProtoLabel(proto.observation().dtype()),
        " cannot be converted to float32 (want FLOAT32, FLOAT64, INT32, "
        "INT64, UINT8 or BOOL)"));
  }
  EnvSpec spec;
  spec.name = proto.name().empty() ? options.remote_env : proto.name();
  for (int i = 0; i < proto.observation().shape_size(); ++i) {
    const int64_t extent = proto.observation().shape(i);
    if (extent < 0) {
      return absl::InternalError(absl::StrCat(
          "OpenResponse.spec.observation.shape[", i, "] is ", extent,
          "; a remote env needs a fixed observation shape"));
    }
    spec.observation_shape.push_back(extent);
  }
  // The actor allocates observation buffers from this shape: it must not
  // wrap, and a server may not make an actor allocate without bound.
  const absl::StatusOr<int64_t> observation_bytes =
      NumBytes(v1::DTYPE_FLOAT32, spec.observation_shape,
               "OpenResponse.spec.observation");
  if (!observation_bytes.ok()) {
    return absl::InternalError(observation_bytes.status().message());
  }
  if (*observation_bytes > kMaxRemoteObservationBytes) {
    return absl::InternalError(
        absl::StrCat("OpenResponse.spec.observation: shape ",
                     ShapeString(spec.observation_shape), " is ",
                     *observation_bytes, " bytes of float32, over the ",
                     kMaxRemoteObservationBytes, " a remote env may have"));
  }
  switch (proto.action_space_case()) {
    case v1::EnvSpec::kDiscrete:
      if (proto.discrete().n() <= 0) {
        return absl::InternalError(
            absl::StrCat("OpenResponse.spec.discrete.n must be > 0, got ",
                         proto.discrete().n()));
      }
      spec.action_space.kind = ActionSpace::Kind::kDiscrete;
      spec.action_space.num_actions = proto.discrete().n();
      break;
    case v1::EnvSpec::kBox: {
      const v1::BoxSpace& box = proto.box();
      if (box.low_size() == 0 || box.low_size() != box.high_size()) {
        return absl::InternalError(absl::StrCat(
            "OpenResponse.spec.box needs as many low as high bounds (> 0), "
            "got ",
            box.low_size(), " low and ", box.high_size(), " high"));
      }
      for (int i = 0; i < box.low_size(); ++i) {
        if (!(box.low(i) <= box.high(i))) {
          return absl::InternalError(
              absl::StrCat("OpenResponse.spec.box.low[", i, "] = ", box.low(i),
                           " is not <= high[", i, "] = ", box.high(i)));
        }
      }
      spec.action_space.kind = ActionSpace::Kind::kBox;
      spec.action_space.low.assign(box.low().begin(), box.low().end());
      spec.action_space.high.assign(box.high().begin(), box.high().end());
      break;
    }
    default:
      return absl::InternalError(
          "OpenResponse.spec.action_space is missing (want discrete or box)");
  }
  if (proto.max_episode_steps() < 0) {
    return absl::InternalError(
        absl::StrCat("OpenResponse.spec.max_episode_steps must be >= 0, got ",
                     proto.max_episode_steps()));
  }
  spec.max_episode_steps = proto.max_episode_steps();
  if (options.max_episode_steps > 0 &&
      (spec.max_episode_steps == 0 ||
       options.max_episode_steps < spec.max_episode_steps)) {
    spec.max_episode_steps = options.max_episode_steps;
  }
  return spec;
}

// Thread-compatible. Owns its channel and session.
class RemoteEnv final : public Env {
 public:
  RemoteEnv(const EnvOptions& options, std::shared_ptr<grpc::Channel> channel,
            std::unique_ptr<v1::EnvService::Stub> stub, uint64_t session_id,
            EnvSpec spec, v1::DType observation_dtype)
      : address_(options.remote_address),
        timeout_ms_(options.remote_timeout_ms),
        client_step_limit_(options.max_episode_steps),
        channel_(std::move(channel)),
        stub_(std::move(stub)),
        session_id_(session_id),
        spec_(std::move(spec)),
        observation_dtype_(observation_dtype),
        observation_size_(spec_.observation_size()) {
    reset_request_.set_session_id(session_id_);
    step_request_.set_session_id(session_id_);
    v1::Tensor* action = step_request_.mutable_action();
    if (spec_.action_space.discrete()) {
      action->set_dtype(v1::DTYPE_INT64);  // a scalar: no shape
      action->mutable_data()->resize(sizeof(int64_t));
    } else {
      action->set_dtype(v1::DTYPE_FLOAT32);
      action->add_shape(spec_.action_space.dim());
      action->mutable_data()->resize(sizeof(float) * spec_.action_space.dim());
    }
  }

  ~RemoteEnv() override {
    v1::CloseRequest request;
    request.set_session_id(session_id_);
    v1::CloseResponse response;
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(std::min(timeout_ms_, kCloseTimeoutMs)));
    // Best effort: a server that is gone reaps the session itself.
    (void)stub_->Close(&context, request, &response);
  }

  const EnvSpec& spec() const override { return spec_; }

  absl::Status Reset(uint64_t seed, absl::Span<float> observation) override {
    SHOAL_RETURN_IF_ERROR(CheckObservationSpan(observation));
    reset_request_.set_seed(seed);
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(timeout_ms_));
    const grpc::Status status =
        stub_->Reset(&context, reset_request_, &reset_response_);
    if (!status.ok()) return CallError(status, "Reset", address_);
    SHOAL_RETURN_IF_ERROR(DecodeObservation(
        reset_response_.has_observation(), reset_response_.observation(),
        "EnvResetResponse.observation", observation));
    steps_ = 0;
    return absl::OkStatus();
  }

  absl::StatusOr<StepResult> Step(const Action& action,
                                  absl::Span<float> observation) override {
    SHOAL_RETURN_IF_ERROR(CheckObservationSpan(observation));
    std::string* data = step_request_.mutable_action()->mutable_data();
    if (spec_.action_space.discrete()) {
      const int64_t index = action.discrete;
      std::memcpy(data->data(), &index, sizeof(index));
    } else {
      if (static_cast<int>(action.box.size()) != spec_.action_space.dim()) {
        return absl::InvalidArgumentError(
            absl::StrCat("action.box has ", action.box.size(), " values, want ",
                         spec_.action_space.dim()));
      }
      std::memcpy(data->data(), action.box.data(),
                  sizeof(float) * action.box.size());
    }
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(timeout_ms_));
    const grpc::Status status =
        stub_->Step(&context, step_request_, &step_response_);
    if (!status.ok()) return CallError(status, "Step", address_);
    SHOAL_RETURN_IF_ERROR(DecodeObservation(
        step_response_.has_observation(), step_response_.observation(),
        "StepResponse.observation", observation));
    StepResult result;
    result.reward = step_response_.reward();
    result.terminated = step_response_.terminated();
    result.truncated = step_response_.truncated();
    ++steps_;
    if (client_step_limit_ > 0 && steps_ >= client_step_limit_) {
      result.truncated = true;
    }
    return result;
  }

  absl::Status SetState(absl::Span<const double> state,
                        absl::Span<float> observation) override {
    return absl::UnimplementedError(
        "SetState: EnvService has no way to set a remote env's state");
  }

 private:
  absl::Status CheckObservationSpan(absl::Span<float> observation) const {
    if (static_cast<int64_t>(observation.size()) != observation_size_) {
      return absl::InvalidArgumentError(
          absl::StrCat("observation span has ", observation.size(),
                       " floats, want ", observation_size_));
    }
    return absl::OkStatus();
  }

  // Validates a reply's observation (`field`, e.g.
  // "StepResponse.observation") against the spec and writes it as float32.
  // INTERNAL names the field, e.g. "StepResponse.observation.data".
  absl::Status DecodeObservation(bool present, const v1::Tensor& tensor,
                                 absl::string_view field,
                                 absl::Span<float> out) const {
    if (!present) {
      return absl::InternalError(
          absl::StrCat(field, " is missing (from ", address_, ")"));
    }
    // Any of the numeric dtypes converts; the one the spec named must come.
    const ExpectedTensor expected{absl::MakeConstSpan(&observation_dtype_, 1),
                                  spec_.observation_shape,
                                  /*allow_nonfinite=*/true};
    const absl::Status status = ConvertTensorInto(tensor, expected, out, field);
    if (!status.ok()) return absl::InternalError(status.message());
    return absl::OkStatus();
  }

  // Constant after construction.
  const std::string address_;
  const int64_t timeout_ms_;
  const int client_step_limit_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::EnvService::Stub> stub_;
  const uint64_t session_id_;
  const EnvSpec spec_;
  const v1::DType observation_dtype_;
  const int64_t observation_size_;

  // Reused by every call (the caller's thread only).
  v1::EnvResetRequest reset_request_;
  v1::EnvResetResponse reset_response_;
  v1::StepRequest step_request_;
  v1::StepResponse step_response_;
  int steps_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Env>> MakeRemoteEnv(const EnvOptions& options) {
  if (options.remote_address.empty()) {
    return absl::InvalidArgumentError(
        "remote_address is empty; want host:port of an EnvService");
  }
  if (options.remote_timeout_ms <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "remote_timeout_ms must be > 0, got ", options.remote_timeout_ms));
  }
  ChannelOptions channel_options;
  channel_options.target = options.remote_address;
  channel_options.tls = options.remote_tls;
  channel_options.token_file = options.remote_token_file;
  channel_options.max_receive_message_bytes = kMaxReceiveBytes;
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                         MakeChannel(channel_options));
  auto stub = v1::EnvService::NewStub(channel);

  v1::OpenRequest request;
  request.set_env(options.remote_env);
  v1::OpenResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(options.remote_timeout_ms));
  const grpc::Status status = stub->Open(&context, request, &response);
  if (!status.ok()) return CallError(status, "Open", options.remote_address);

  absl::StatusOr<EnvSpec> spec = SpecFromProto(response, options);
  if (!spec.ok()) {
    // The server made a session this client cannot use: give it back.
    v1::CloseRequest close;
    close.set_session_id(response.session_id());
    v1::CloseResponse closed;
    grpc::ClientContext close_context;
    close_context.set_deadline(
        DeadlineIn(std::min(options.remote_timeout_ms, kCloseTimeoutMs)));
    (void)stub->Close(&close_context, close, &closed);
    return absl::Status(
        spec.status().code(),
        absl::StrCat("EnvService.Open on ", options.remote_address, ": ",
                     spec.status().message()));
  }
  return std::unique_ptr<Env>(new RemoteEnv(
      options, std::move(channel), std::move(stub), response.session_id(),
      *std::move(spec), response.spec().observation().dtype()));
}

}  // namespace shoal
