// remote_env_bench: steps per second of one remote CartPole, served by the
// C++ EnvServiceImpl on 127.0.0.1 and stepped through MakeRemoteEnv (one
// unary call per step, one client thread). Prints one JSON line:
//   {"bench": "remote_env_steps_per_s", "value": 12345.6, "unit": "steps/s"}
// Runs about 4 s. An optional argument sets the server's worker threads
// (EnvServiceOptions::num_threads; 0 = envs run on gRPC's threads).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "actor/envs/env_service.h"
#include "actor/envs/remote_env.h"
#include "common/grpc_server.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

constexpr int kWarmupSteps = 1000;
constexpr absl::Duration kMeasureFor = absl::Seconds(3);

// Steps `env` `steps` times (or until `until`), resetting on episode end.
// Returns the number of steps taken.
absl::StatusOr<int64_t> Run(Env& env, int64_t steps, absl::Time until) {
  std::vector<float> observation(env.spec().observation_size());
  uint64_t seed = 0;
  SHOAL_RETURN_IF_ERROR(env.Reset(seed, absl::MakeSpan(observation)));
  int64_t done = 0;
  for (; done < steps && (done % 256 != 0 || absl::Now() < until); ++done) {
    Action action;
    action.discrete = observation[2] > 0.0f ? 1 : 0;
    SHOAL_ASSIGN_OR_RETURN(StepResult result,
                           env.Step(action, absl::MakeSpan(observation)));
    if (result.terminated || result.truncated) {
      SHOAL_RETURN_IF_ERROR(env.Reset(++seed, absl::MakeSpan(observation)));
    }
  }
  return done;
}

absl::Status Main(const EnvServiceOptions& service_options) {
  EnvServiceImpl service(
      [](const std::string& name) {
        EnvOptions options;
        options.name = name;
        return MakeEnv(options);
      },
      service_options);
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<GrpcServer> server,
                         GrpcServer::Start(ServerOptions(), {&service}));
  EnvOptions options;
  options.name = "remote";
  options.remote_address = server->address();
  options.remote_env = "cartpole";
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> env, MakeRemoteEnv(options));

  SHOAL_RETURN_IF_ERROR(
      Run(*env, kWarmupSteps, absl::InfiniteFuture()).status());
  const absl::Time start = absl::Now();
  SHOAL_ASSIGN_OR_RETURN(int64_t steps,
                         Run(*env, INT64_MAX, start + kMeasureFor));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "{\"bench\": \"remote_env_steps_per_s\", \"value\": %.1f, \"unit\": "
      "\"steps/s\"}\n",
      static_cast<double>(steps) / seconds);
  env.reset();
  server->Shutdown(absl::Now() + absl::Seconds(1));
  return absl::OkStatus();
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::EnvServiceOptions options;
  if (argc > 1 && !absl::SimpleAtoi(argv[1], &options.num_threads)) {
    std::fprintf(stderr, "usage: remote_env_bench [num_threads]\n");
    return 2;
  }
  if (absl::Status status = shoal::Main(options); !status.ok()) {
    std::fprintf(stderr, "remote_env_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
