// A fixed set of worker threads running queued tasks in FIFO order. The
// queue is bounded: Schedule blocks while it is full, so producers are paced
// by the workers (no unbounded growth).
//
// Thread-safe. The destructor stops accepting tasks, runs the ones already
// queued, and joins the workers.
#ifndef SHOAL_COMMON_THREAD_POOL_H_
#define SHOAL_COMMON_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shoal {

class ThreadPool {
 public:
  // REQUIRES: num_threads >= 1, max_queued >= 1.
  ThreadPool(std::string name, int num_threads, int max_queued);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `task`; waits while max_queued tasks are waiting. A task
  // scheduled after destruction began is run inline.
  void Schedule(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& name() const { return name_; }

 private:
  void WorkerLoop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  const size_t max_queued_;

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Constant after construction.
  std::vector<std::thread> workers_;
};

}  // namespace shoal

#endif  // SHOAL_COMMON_THREAD_POOL_H_
