// Builds environments by name: the built-in ones (env_registry.h, listed
// in builtin_envs.cc) and "remote" (an env served by another process).
//
//   EnvOptions options;
//   options.name = "cartpole";
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> env, MakeEnv(options));
//
// Thread-safe (no shared state); each returned Env is thread-compatible.
#ifndef SHOAL_ACTOR_ENVS_ENV_FACTORY_H_
#define SHOAL_ACTOR_ENVS_ENV_FACTORY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "actor/envs/env.h"
#include "common/grpc_channel.h"

namespace shoal {

struct EnvOptions {
  // Registered name: one of KnownEnvNames(), or "remote".
  std::string name;
  // The step on which episodes are truncated; 0 = the env's default
  // (Gymnasium's max_episode_steps, 400 for "ks").
  int max_episode_steps = 0;
  // When > 0, every Step takes at least this long (the env sleeps for the
  // rest), to emulate an expensive simulator. Default 0: no pacing.
  int64_t step_cost_us = 0;
  // "remote" only: the env server's address, the env it should serve, and
  // the per-call deadline.
  std::string remote_address;
  std::string remote_env;
  int64_t remote_timeout_ms = 5000;
  // "remote" only: TLS toward the env server (plaintext when empty) and the
  // file of the bearer token sent on every call (none when empty).
  ChannelTlsOptions remote_tls;
  std::string remote_token_file;
};

// The names MakeEnv builds in-process (the built-ins), sorted.
const std::vector<std::string>& KnownEnvNames();

// Returns a new environment for `options`. An unknown name, a negative
// max_episode_steps or a negative step_cost_us is INVALID_ARGUMENT (the
// message lists the known names).
absl::StatusOr<std::unique_ptr<Env>> MakeEnv(const EnvOptions& options);

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_FACTORY_H_
