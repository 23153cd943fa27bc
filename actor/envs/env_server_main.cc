// shoal-env-server: serves shoal's built-in environments over EnvService, so
// actors can step them in another process or on another machine.
//
//   shoal-env-server --env=cartpole --port=0 --metrics_port=0
//   -> listening on 127.0.0.1:40513
//   -> shoal-env-server metrics on port 40517
//
// The first line on stdout names the bound address (useful with --port=0);
// with --metrics_port (-1 = off, 0 picks a free port) Prometheus /metrics
// is served on the same --address and a second line names its port.
// --tls_cert/--tls_key (and --tls_ca for mutual TLS) serve TLS;
// --tokens_file requires a bearer token with the actor role on every call.
// SIGTERM or SIGINT shuts the server down (open calls get 5 s) and exits 0.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "actor/envs/env_factory.h"
#include "actor/envs/env_registry.h"
#include "actor/envs/env_service.h"
#include "actor/envs/env_service_metrics.h"
#include "common/auth.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/quote.h"
#include <signal.h>

ABSL_FLAG(std::string, env, "",
          "Built-in env to serve to every session (one of those listed "
          "above --help's flags); empty serves whichever built-in each "
          "OpenRequest.env names.");
ABSL_FLAG(int, port, 0, "Port to listen on; 0 picks a free one.");
ABSL_FLAG(std::string, address, "127.0.0.1",
          "Address to bind (the gRPC port and --metrics_port).");
ABSL_FLAG(int, metrics_port, -1,
          "Prometheus /metrics port; 0 picks one, -1 = off.");
ABSL_FLAG(int, max_episode_steps, 0,
          "Truncate episodes on this step; 0 = each env's default.");
ABSL_FLAG(int, max_sessions, 1024, "Most sessions open at once.");
ABSL_FLAG(int, threads, 16, "Worker threads: how many sessions step at once.");
ABSL_FLAG(int, idle_timeout_s, 600,
          "Sessions with no call for this many seconds may be reaped.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain to serve TLS with (needs --tls_key); empty: "
          "plaintext.");
ABSL_FLAG(std::string, tls_key, "", "File of the PEM key of --tls_cert.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle: clients must show a certificate it signed (mutual "
          "TLS).");
ABSL_FLAG(std::string, tokens_file, "",
          "File of 'role token' lines (common/auth.h): every call needs a "
          "bearer token with the actor role. Empty: no tokens.");

namespace shoal {
namespace {

constexpr char kProgram[] = "shoal-env-server";
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

// "cartpole, pendulum, ...": the envs this server can serve.
std::string ServableEnvs() { return absl::StrJoin(BuiltinEnvNames(), ", "); }

// Builds the built-in `name`; any other name (remote included: the server
// does not proxy) is INVALID_ARGUMENT listing the servable ones.
absl::StatusOr<std::unique_ptr<Env>> MakeServedEnv(const std::string& name,
                                                   int max_episode_steps) {
  if (FindBuiltinEnv(name) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no built-in env named ", Quote(name), "; served: ", ServableEnvs()));
  }
  EnvOptions options;
  options.name = name;
  options.max_episode_steps = max_episode_steps;
  return MakeEnv(options);
}

absl::Status Run() {
  const std::string fixed_env = absl::GetFlag(FLAGS_env);
  const int max_episode_steps = absl::GetFlag(FLAGS_max_episode_steps);
  auto make_env = [fixed_env, max_episode_steps](const std::string& name) {
    return MakeServedEnv(fixed_env.empty() ? name : fixed_env,
                         max_episode_steps);
  };
  if (!fixed_env.empty()) {
    // Fail at start, not on the first Open, for a bad --env.
    absl::StatusOr<std::unique_ptr<Env>> probe = make_env(fixed_env);
    if (!probe.ok()) {
      return absl::Status(probe.status().code(),
                          absl::StrCat("--env: ", probe.status().message()));
    }
  }
  // Signals go to sigwait below, never to a handler on a gRPC thread: block
  // them before any thread starts (the /metrics server's, the service's
  // workers, gRPC's), since threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string host = absl::GetFlag(FLAGS_address);
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    host = absl::StrCat("[", host, "]");  // IPv6
  }
  // Both outlive the service, which counts into them.
  std::unique_ptr<MetricsServer> metrics_server;
  std::unique_ptr<EnvServiceMetrics> metrics;
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(
            absl::StrCat(host, ":", absl::GetFlag(FLAGS_metrics_port)));
    if (!started.ok()) return started.status();
    metrics_server = *std::move(started);
    metrics = std::make_unique<EnvServiceMetrics>(*metrics_server->registry());
  }
  EnvServiceOptions service_options;
  service_options.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  service_options.idle_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_idle_timeout_s));
  service_options.num_threads = absl::GetFlag(FLAGS_threads);
  service_options.metrics = metrics.get();
  EnvServiceImpl service(make_env, service_options);

  ServerOptions server_options;
  server_options.address = absl::StrCat(host, ":", absl::GetFlag(FLAGS_port));
  server_options.tls = {absl::GetFlag(FLAGS_tls_cert),
                        absl::GetFlag(FLAGS_tls_key),
                        absl::GetFlag(FLAGS_tls_ca)};
  server_options.tokens_file = absl::GetFlag(FLAGS_tokens_file);
  server_options.method_roles = ShoalMethodRoles();
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(server_options, {&service});
  if (!server.ok()) return server.status();

  std::printf("listening on %s\n", (*server)->address().c_str());
  if (metrics_server) {
    std::printf("%s metrics on port %d\n", kProgram, metrics_server->port());
  }
  std::fflush(stdout);
  spdlog::info("serving env '{}' on {}",
               fixed_env.empty() ? "<any built-in>" : fixed_env,
               (*server)->address());

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("signal {}: shutting down", signal_number);
  (*server)->Shutdown(absl::Now() + kShutdownGrace);
  return absl::OkStatus();
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "Serves built-in envs over EnvService: shoal-env-server --env NAME "
      "[--port 0]\nBuilt-in envs: ",
      shoal::ServableEnvs());
  shoal::ParseFlags(argc, argv, usage);
  if (absl::Status status = shoal::InitLogging(shoal::kProgram); !status.ok()) {
    std::fprintf(stderr, "%s: %s\n", shoal::kProgram,
                 status.ToString().c_str());
    return 2;
  }
  if (absl::Status status = shoal::Run(); !status.ok()) {
    spdlog::error("{}", status.ToString());
    return 1;
  }
  return 0;
}
