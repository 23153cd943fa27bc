// shoal-replay: one replay shard. Serves ReplayService, gRPC health and
// reflection, and Prometheus /metrics. Tables come from the experiment
// config. SIGTERM/SIGINT: stop accepting, finish in-flight replies,
// checkpoint, exit 0.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "replay/replay_metrics.h"
#include "replay/replay_server.h"
#include "replay/replay_service.h"

ABSL_FLAG(std::string, config, "", "Experiment config (YAML); required.");
ABSL_FLAG(std::string, set, "",
          "Config overrides, 'key=value;key=value' (e.g. "
          "'tables[0].max_size=1000').");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 0, "Port; 0 picks a free one (printed on stdout).");
ABSL_FLAG(int, shard_index, 0, "Index of this shard, in [0, replay.shards).");
ABSL_FLAG(std::string, checkpoint_dir, "",
          "Checkpoint directory; the newest complete checkpoint in it is "
          "loaded at start. Empty: no checkpoints.");
ABSL_FLAG(int, checkpoint_every_s, -1,
          "Seconds between checkpoints; -1 = replay.checkpoint_every_s, "
          "0 = only on shutdown and on request.");
ABSL_FLAG(int, metrics_port, -1,
          "Prometheus /metrics port; 0 picks one, -1 = off.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");

namespace shoal {
namespace {

constexpr char kProgram[] = "shoal-replay";

absl::Status Run() {
  SHOAL_RETURN_IF_ERROR(InitLogging(kProgram, absl::GetFlag(FLAGS_log_level)));
  SHOAL_ASSIGN_OR_RETURN(ExperimentConfig config,
                         LoadConfigWithOverrides(absl::GetFlag(FLAGS_config),
                                                 absl::GetFlag(FLAGS_set)));
  const int shard = absl::GetFlag(FLAGS_shard_index);
  if (shard < 0 || shard >= config.replay.shards) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shard_index: must be in [0, ", config.replay.shards,
                     ") (replay.shards), got ", shard));
  }
  ReplayServerOptions options;
  options.shard_index = shard;
  options.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
  for (const TableConfig& table : config.tables) {
    options.tables.push_back(TableOptionsFromConfig(table, shard));
  }
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ReplayServer> server,
                         ReplayServer::Create(std::move(options)));

  std::unique_ptr<MetricsServer> metrics_server;
  std::unique_ptr<ReplayMetrics> metrics;
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) {
    SHOAL_ASSIGN_OR_RETURN(
        metrics_server,
        MetricsServer::Start(absl::StrCat(absl::GetFlag(FLAGS_host), ":",
                                          absl::GetFlag(FLAGS_metrics_port))));
    metrics =
        std::make_unique<ReplayMetrics>(metrics_server.get(), server.get());
  }
  ReplayServiceOptions service_options;
  auto service = std::make_unique<ReplayServiceImpl>(
      server.get(), service_options, metrics.get());

  ServerOptions grpc_options;
  grpc_options.address =
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  grpc_options.tls = {config.security.tls_cert, config.security.tls_key,
                      config.security.tls_ca};
  grpc_options.tokens_file = config.security.tokens_file;
  grpc_options.method_roles = ShoalMethodRoles();
  grpc_options.max_receive_message_bytes = config.replay.max_message_bytes;
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<GrpcServer> grpc_server,
                         GrpcServer::Start(grpc_options, {service.get()}));

  // One line each that scripts and shoalctl read.
  std::printf("%s listening on %s port %d\n", kProgram,
              absl::GetFlag(FLAGS_host).c_str(), grpc_server->port());
  if (metrics_server) {
    std::printf("%s metrics on port %d\n", kProgram, metrics_server->port());
  }
  std::fflush(stdout);
  spdlog::info("shard {} serving {} tables on port {}{}", shard,
               server->tables().size(), grpc_server->port(),
               server->restored_from().empty()
                   ? ""
                   : absl::StrCat(", restored from ", server->restored_from()));

  int every_s = absl::GetFlag(FLAGS_checkpoint_every_s);
  if (every_s < 0) every_s = static_cast<int>(config.replay.checkpoint_every_s);
  const bool checkpoints = !absl::GetFlag(FLAGS_checkpoint_dir).empty();
  absl::Time next_checkpoint = absl::Now() + absl::Seconds(every_s);
  while (!WaitForShutdownSignal(absl::Seconds(1))) {
    if (checkpoints && every_s > 0 && absl::Now() >= next_checkpoint) {
      absl::StatusOr<v1::CheckpointResponse> done = server->Checkpoint();
      if (done.ok()) {
        spdlog::info("checkpoint {} ({} items)", done->path(), done->items());
      } else {
        spdlog::error("checkpoint failed: {}", done.status().ToString());
      }
      next_checkpoint = absl::Now() + absl::Seconds(every_s);
    }
  }
  spdlog::info("shutting down: finishing in-flight calls");
  grpc_server->SetServing(false);
  server->Cancel();  // blocked inserts and samples end now
  // Calls still open after the grace period (idle insert streams that the
  // writer never closes) are cancelled; writers resend what was unacked.
  grpc_server->Shutdown(absl::Now() + absl::Seconds(1));
  service.reset();
  if (checkpoints) {
    SHOAL_ASSIGN_OR_RETURN(v1::CheckpointResponse done, server->Checkpoint());
    spdlog::info("final checkpoint {} ({} items)", done.path(), done.items());
  }
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace
}  // namespace shoal

int main(int argc, char** argv) {
  shoal::BlockShutdownSignals();
  shoal::ParseFlags(argc, argv,
                    "One replay shard: shoal-replay --config FILE [--port 0] "
                    "[--shard_index I] [--checkpoint_dir DIR]");
  absl::Status status = shoal::Run();
  if (!status.ok()) shoal::ExitWithError(shoal::kProgram, status);
  return 0;
}
