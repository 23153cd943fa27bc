// The RPCs behind shoalctl's client subcommands: one blocking call each,
// under a deadline, returning the server's answer or its status unchanged
// (code and message), so the caller can report what the server said.
//
//   SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
//                          ConnectForCommand(flags, "127.0.0.1:7000"));
//   SHOAL_ASSIGN_OR_RETURN(v1::InfoResponse info,
//                          CallInfo(channel, /*table=*/"", flags.timeout));
//
// Calls never wait for a connection (wait_for_ready false): an unreachable
// server fails at once with UNAVAILABLE, a hung one at the deadline.
// Thread-safe: no state between calls.
#ifndef SHOAL_TOOLS_CLIENT_RPC_H_
#define SHOAL_TOOLS_CLIENT_RPC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "shoal/v1/learner.pb.h"
#include "shoal/v1/replay.pb.h"

#include "tools/client_commands.h"

namespace shoal {

// Largest message a command accepts: a sampled item larger than the
// server's response cap comes in a response of its own.
inline constexpr int64_t kCommandMaxReceiveBytes = int64_t{64} << 20;

// A channel to `target` with the TLS and token settings of `flags`.
// INVALID_ARGUMENT or NOT_FOUND naming the flag's file when a certificate,
// key or token file cannot be used; connects lazily.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectForCommand(
    const ClientFlags& flags, const std::string& target);

// ReplayService.Info of `table` ("" = every table).
absl::StatusOr<v1::InfoResponse> CallInfo(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& table,
    absl::Duration timeout);

// ReplayService.SampleStream: one request for `n` items of `table`. Fewer
// than `n` come back when the rate limiter admits only some before the
// deadline. Sampling is real: it counts against the rate limiter and may
// remove items of tables with max_times_sampled.
absl::StatusOr<std::vector<v1::SampledItem>> CallSample(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& table,
    int n, absl::Duration timeout);

// ReplayService.Checkpoint.
absl::StatusOr<v1::CheckpointResponse> CallCheckpoint(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout);

// The newest published parameters, put back together from their chunks.
struct AssembledParameters {
  int64_t version = 0;
  int64_t learner_step = 0;
  // Size of the serialised v1::Parameters.
  int64_t total_bytes = 0;
  int64_t published_unix_ms = 0;
  int num_chunks = 0;
  v1::Parameters parameters;
};

// Concatenates the chunks of one version and parses the v1::Parameters.
// DATA_LOSS naming the chunk when they are missing, out of order, of mixed
// versions, or do not add up to total_bytes.
absl::StatusOr<AssembledParameters> AssembleParameters(
    const std::vector<v1::ParametersChunk>& chunks);

// LearnerService.GetParameters, assembled.
absl::StatusOr<AssembledParameters> CallGetParameters(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout);

// grpc.health.v1.Health/Check for the whole server (service ""): "SERVING",
// "NOT_SERVING", "UNKNOWN" or "SERVICE_UNKNOWN".
absl::StatusOr<std::string> CallHealthCheck(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout);

}  // namespace shoal

#endif  // SHOAL_TOOLS_CLIENT_RPC_H_
