#include "actor/envs/env_service_metrics.h"

#include <string>

#include "common/metrics.h"

namespace shoal {
namespace {

prometheus::Counter* MakeCounter(prometheus::Registry& registry,
                                 const std::string& name,
                                 const std::string& help) {
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(registry)
              .Add({});
}

}  // namespace

EnvServiceMetrics::EnvServiceMetrics(prometheus::Registry& registry)
    : sessions_(&prometheus::BuildGauge()
                     .Name("shoal_env_server_sessions")
                     .Help("Env sessions open now.")
                     .Register(registry)
                     .Add({})),
      sessions_opened_(MakeCounter(registry,
                                   "shoal_env_server_sessions_opened_total",
                                   "Env sessions opened.")),
      steps_(MakeCounter(
          registry, "shoal_env_server_steps_total",
          "Env steps served: Step calls the env completed, one per env "
          "instance stepped.")),
      resets_(MakeCounter(registry, "shoal_env_server_resets_total",
                          "Env resets served: Reset calls the env "
                          "completed.")),
      rejected_requests_(MakeCounter(
          registry, "shoal_env_server_rejected_requests_total",
          "Open, Reset, Step and Close calls answered with an error (bad "
          "action, unknown session, no running episode, env error, too many "
          "sessions).")),
      step_seconds_(&prometheus::BuildHistogram()
                         .Name("shoal_env_server_step_seconds")
                         .Help("Time to handle one Step call, from its "
                               "arrival to its answer: the wait for a worker "
                               "and the env step included, refused calls "
                               "too.")
                         .Register(registry)
                         .Add({}, LatencyBuckets())) {}

}  // namespace shoal
