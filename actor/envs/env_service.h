// EnvServiceImpl serves Envs over gRPC (proto/shoal/v1/env.proto): each
// Open makes one Env with the factory and names it by a session id; Reset,
// Step and Close act on that session.
//
// Bad requests are refused with the field named and leave the session as it
// was: an unknown session is NOT_FOUND; a missing action or one of the
// wrong dtype, shape or size, or a NaN/Inf box action, or a discrete index
// out of range, is INVALID_ARGUMENT; stepping before Reset or after the
// episode ended is FAILED_PRECONDITION. The env's own errors keep their
// code.
//
// Thread-safe. Sessions live in a map under `mu_`; each session has its own
// mutex, so different sessions step in parallel and one session's calls are
// serialised. Open, Reset and Step run on the service's own `num_threads`
// workers, never on gRPC's callback threads (which must not block: a slow
// or paced env would stall every call on the server). At most
// `max_sessions` sessions exist; sessions idle for `idle_timeout` are
// reaped when Open runs (so the count stays bounded without a thread of its
// own), and ReapIdleSessions can be called too.
//
// With EnvServiceOptions::metrics set it counts sessions, steps, resets and
// refused calls and times Step calls there (actor/envs/env_service_metrics.h);
// each update is an atomic, so the step path takes no extra lock.
//
// The service must outlive the grpc::Server it is registered with (the
// server's Shutdown waits for calls the workers are still running).
#ifndef SHOAL_ACTOR_ENVS_ENV_SERVICE_H_
#define SHOAL_ACTOR_ENVS_ENV_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "shoal/v1/env.grpc.pb.h"

#include "actor/envs/env.h"
#include "actor/envs/env_service_metrics.h"

namespace shoal {

// Makes the env named by OpenRequest.env (which may be empty). Called
// without any lock held, possibly from several threads at once.
using EnvMaker = std::function<absl::StatusOr<std::unique_ptr<Env>>(
    const std::string& env_name)>;

struct EnvServiceOptions {
  // Open fails with RESOURCE_EXHAUSTED beyond this many live sessions.
  int max_sessions = 1024;
  // A session with no call for this long may be reaped.
  absl::Duration idle_timeout = absl::Minutes(10);
  // Worker threads that run the envs: how many sessions step at once.
  // 0 runs the envs inline on gRPC's callback threads: a little faster per
  // call, but only for envs that never block or sleep.
  int num_threads = 16;
  // Where the service's Prometheus series are kept; null: none. Not owned;
  // must outlive the service.
  EnvServiceMetrics* metrics = nullptr;
};

class EnvServiceImpl final : public v1::EnvService::CallbackService {
 public:
  explicit EnvServiceImpl(EnvMaker make_env,
                          EnvServiceOptions options = EnvServiceOptions());

  grpc::ServerUnaryReactor* Open(grpc::CallbackServerContext* context,
                                 const v1::OpenRequest* request,
                                 v1::OpenResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  grpc::ServerUnaryReactor* Reset(grpc::CallbackServerContext* context,
                                  const v1::EnvResetRequest* request,
                                  v1::EnvResetResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  grpc::ServerUnaryReactor* Step(grpc::CallbackServerContext* context,
                                 const v1::StepRequest* request,
                                 v1::StepResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* context,
                                  const v1::CloseRequest* request,
                                  v1::CloseResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the workers after they finish the queued calls.
  ~EnvServiceImpl() override;

  // Removes the sessions that have no call in flight and whose last call
  // ended before `now - idle_timeout`. Returns how many. O(sessions).
  int ReapIdleSessions(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  int num_sessions() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Session;

  absl::StatusOr<v1::OpenResponse> OpenSession(const std::string& env_name)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ResetSession(const v1::EnvResetRequest& request,
                            v1::EnvResetResponse* response)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status StepSession(const v1::StepRequest& request,
                           v1::StepResponse* response) ABSL_LOCKS_EXCLUDED(mu_);
  // The session, marked busy until the caller calls Release on it.
  absl::StatusOr<std::shared_ptr<Session>> Acquire(uint64_t session_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  static void Release(Session& session);
  int ReapIdleSessionsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the sessions gauge to sessions_.size() (when there are metrics).
  void UpdateSessionsGauge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts `status` as refused when it is not OK, then finishes the call.
  void Finish(grpc::ServerUnaryReactor* reactor, const absl::Status& status);
  // Queues `work` for a worker thread.
  void Schedule(absl::AnyInvocable<void()> work) ABSL_LOCKS_EXCLUDED(queue_mu_);
  void WorkerLoop() ABSL_LOCKS_EXCLUDED(queue_mu_);
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return stopping_ || !queue_.empty();
  }

  // Constant after construction.
  const EnvMaker make_env_;
  const EnvServiceOptions options_;
  EnvServiceMetrics* const metrics_;  // options_.metrics; may be null

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> sessions_
      ABSL_GUARDED_BY(mu_);
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
  absl::Time last_reap_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  // The workers' queue; independent of mu_ (never held together).
  absl::Mutex queue_mu_;
  std::deque<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Started by the constructor, joined by the destructor; the vector itself
  // is constant in between.
  std::vector<std::thread> workers_;
};

}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_ENV_SERVICE_H_
