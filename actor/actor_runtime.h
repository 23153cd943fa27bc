// ActorRuntime: everything an actor process runs, built from an experiment
// config: the ReplayWriter to config.replay.addresses (none for eval
// actors), the EpisodeReporter and ParameterWatcher to
// config.learner.address (none when it is empty: the actor then acts with
// its initial policy), and the ActorLoop they serve. shoal-actor runs
// loop()->Run() on a thread; the synchronous baseline (sync/) steps it.
//
//   SHOAL_ASSIGN_OR_RETURN(auto actor, ActorRuntime::Start(config, options));
//   SHOAL_RETURN_IF_ERROR(actor->loop()->Run());
//   actor->Finish();  // stop watching, flush replay and episode reports
//
// Thread-compatible; the loop is as documented in actor_loop.h.
#ifndef SHOAL_ACTOR_ACTOR_RUNTIME_H_
#define SHOAL_ACTOR_ACTOR_RUNTIME_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "actor/actor_loop.h"
#include "common/config.h"
#include "learner/client/episode_reporter.h"
#include "learner/client/parameter_watcher.h"
#include "replay/client/replay_writer.h"

namespace shoal {

class ActorRuntime {
 public:
  // `loop_options.writer` and `.reporter` are filled in here.
  static absl::StatusOr<std::unique_ptr<ActorRuntime>> Start(
      const ExperimentConfig& config, ActorLoopOptions loop_options);
  ~ActorRuntime();

  ActorRuntime(const ActorRuntime&) = delete;
  ActorRuntime& operator=(const ActorRuntime&) = delete;

  ActorLoop* loop() { return loop_.get(); }
  // nullptr for eval actors.
  ReplayWriter* writer() { return writer_.get(); }

  // Stops watching for weights, flushes replay (up to `flush_timeout`) and
  // the episode reports, and logs the totals. Call after the loop ended
  // (or to wake a loop blocked on a full replay buffer: Close wakes it).
  void Finish(absl::Duration flush_timeout);
  // Closes the writer (waking a blocked Append) without waiting long.
  void CloseWriter(absl::Duration flush_timeout);

 private:
  ActorRuntime() = default;

  std::unique_ptr<ReplayWriter> writer_;
  std::unique_ptr<EpisodeReporter> reporter_;
  std::unique_ptr<ActorLoop> loop_;
  std::unique_ptr<ParameterWatcher> watcher_;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ACTOR_RUNTIME_H_
