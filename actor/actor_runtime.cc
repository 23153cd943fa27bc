#include "actor/actor_runtime.h"

#include <string>
#include <utility>

#include "absl/time/clock.h"

#include "common/grpc_channel.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<ActorRuntime>> ActorRuntime::Start(
    const ExperimentConfig& config, ActorLoopOptions loop_options) {
  std::unique_ptr<ActorRuntime> r(new ActorRuntime());
  if (!loop_options.eval) {
    ReplayWriterOptions options;
    options.addresses = config.replay.addresses;
    options.channel = ChannelOptionsFromConfig(config, "");
    options.writer_id = static_cast<uint64_t>(loop_options.actor_index);
    options.max_unacked_bytes = config.actor.max_unacked_bytes;
    options.max_unacked_items = config.ActorMaxUnackedItems();
    options.items_per_insert = static_cast<int>(config.actor.items_per_insert);
    options.max_message_bytes = config.replay.max_message_bytes;
    spdlog::info("resend buffer: {} bytes, {} items", options.max_unacked_bytes,
                 options.max_unacked_items > 0
                     ? std::to_string(options.max_unacked_items)
                     : std::string("unbounded"));
    SHOAL_ASSIGN_OR_RETURN(r->writer_,
                           ReplayWriter::Create(std::move(options)));
  }
  if (!config.learner.address.empty()) {
    EpisodeReporterOptions options;
    options.channel = ChannelOptionsFromConfig(config, config.learner.address);
    SHOAL_ASSIGN_OR_RETURN(r->reporter_, EpisodeReporter::Create(options));
  }
  loop_options.writer = r->writer_.get();
  loop_options.reporter = r->reporter_.get();
  SHOAL_ASSIGN_OR_RETURN(r->loop_, ActorLoop::Create(config, loop_options));
  if (!config.learner.address.empty()) {
    ParameterWatcherOptions options;
    options.channel = ChannelOptionsFromConfig(config, config.learner.address);
    PolicyRunner* runner = r->loop_->runner();
    SHOAL_ASSIGN_OR_RETURN(
        r->watcher_,
        ParameterWatcher::Create(
            options, [runner](std::shared_ptr<const v1::Parameters> params,
                              absl::Time published) {
              runner->OnParameters(std::move(params), published);
            }));
  } else {
    spdlog::warn("no learner address: acting with the initial policy only");
  }
  return r;
}

// The watcher, destroyed first (declared last), stops itself.
ActorRuntime::~ActorRuntime() = default;

void ActorRuntime::CloseWriter(absl::Duration flush_timeout) {
  if (writer_ == nullptr) return;
  absl::Status closed = writer_->Close(absl::Now() + flush_timeout);
  if (!closed.ok()) spdlog::warn("replay flush: {}", closed.ToString());
}

void ActorRuntime::Finish(absl::Duration flush_timeout) {
  if (watcher_ != nullptr) watcher_->Stop();
  CloseWriter(flush_timeout);
  if (reporter_ != nullptr) reporter_->Close(absl::Now() + absl::Seconds(2));
  const ActorLoopStats stats = loop_->stats();
  const ReplayWriterStats written =
      writer_ != nullptr ? writer_->stats() : ReplayWriterStats();
  spdlog::info(
      "stopped: env_steps={} episodes={} items_appended={} items_acked={} "
      "policy_version={}",
      stats.env_steps, stats.episodes, written.items_appended,
      written.items_acked, stats.policy_version);
}

}  // namespace shoal
