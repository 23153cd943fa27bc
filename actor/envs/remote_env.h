// An Env whose simulator runs in another process behind an EnvService
// (proto/shoal/v1/env.proto): a C++ shoal-env-server, a Python simulator,
// anything that speaks the protocol.
//
// MakeRemoteEnv opens one session on `options.remote_address` for
// `options.remote_env` and fetches its spec; Reset and Step are forwarded as
// unary calls, each with a deadline of `options.remote_timeout_ms`. A call
// never hangs: a server that is down is UNAVAILABLE, one slower than the
// deadline is DEADLINE_EXCEEDED, a malformed reply (missing field, wrong
// observation dtype, shape or size) is INTERNAL with the field named, and
// the server's own errors (INVALID_ARGUMENT for a bad action,
// FAILED_PRECONDITION for stepping an ended episode, NOT_FOUND for a session
// the server has reaped) keep their code. After an error the remote episode
// is in an unknown state: call Reset before stepping again.
//
// Observations: the server's spec may declare any numeric dtype of a fixed
// shape; float32 is copied, float64/int32/int64/uint8/bool are converted to
// float32. Actions go out as an int64 scalar (discrete) or float32 [dim]
// (box). The request and response messages are reused across calls, so a
// step allocates nothing beyond what gRPC itself needs.
//
// The returned Env is thread-compatible (one thread at a time, as every
// Env). Destroying it closes the session (best effort, short deadline).
// SetState is UNIMPLEMENTED: the protocol cannot carry a state.
// `options.max_episode_steps`, when > 0, truncates episodes on the client
// side too (the spec reports the smaller of it and the server's limit).
#ifndef SHOAL_ACTOR_ENVS_REMOTE_ENV_H_
#define SHOAL_ACTOR_ENVS_REMOTE_ENV_H_

#include <memory>

#include "absl/status/statusor.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"

namespace shoal {

// Opens a session on options.remote_address for options.remote_env.
// INVALID_ARGUMENT for an empty address or remote_timeout_ms <= 0;
// UNAVAILABLE / DEADLINE_EXCEEDED when the server cannot be reached in time;
// the server's error when it refuses the env; INTERNAL (naming the field)
// for a spec this client cannot serve.
absl::StatusOr<std::unique_ptr<Env>> MakeRemoteEnv(const EnvOptions& options);

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_REMOTE_ENV_H_
