// ChildProcess: one child process running a binary, with its stdout and
// stderr appended to a log file. Used by `shoalctl run` to run a cluster
// and by tests that kill and restart real servers.
//
//   ChildProcessOptions options;
//   options.name = "replay-0";
//   options.argv = {binary, "--config=x.yaml", "--port=0"};
//   options.log_file = run_dir + "/replay-0.log";
//   SHOAL_ASSIGN_OR_RETURN(auto child, ChildProcess::Start(options));
//   SHOAL_ASSIGN_OR_RETURN(int port, child->WaitForPort(
//       "shoal-replay listening on ", absl::Seconds(30)));
//   ...
//   child->Signal(SIGTERM);
//   SHOAL_ASSIGN_OR_RETURN(int code, child->Wait(absl::Now() +
//   absl::Seconds(20)));
//
// The child runs in a process group of its own (a terminal's Ctrl-C reaches
// only the parent, which then stops children in order) and gets SIGKILL
// when the parent dies (PR_SET_PDEATHSIG), so no child outlives it. That
// signal follows the THREAD that started the child: start and restart from
// a thread that lives as long as the child should (main).
//
// Thread-compatible: one thread drives a ChildProcess. The destructor
// kills a running child.
#ifndef SHOAL_COMMON_CHILD_PROCESS_H_
#define SHOAL_COMMON_CHILD_PROCESS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include <sys/types.h>

namespace shoal {

struct ChildProcessOptions {
  // For messages, e.g. "learner" or "actor-3".
  std::string name;
  // argv[0] is the binary's path; required and executable.
  std::vector<std::string> argv;
  // stdout and stderr are appended here; required.
  std::string log_file;
};

class ChildProcess {
 public:
  // Forks and execs. FAILED_PRECONDITION when argv[0] is not executable;
  // INTERNAL when the log cannot be opened or fork fails.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      ChildProcessOptions options);
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits until the output written since the last (re)start has a line
  // "<prefix>HOST port N" and returns N. INTERNAL (with the log's tail) when
  // the child exits first; DEADLINE_EXCEEDED after `timeout` (the child is
  // left running).
  absl::StatusOr<int> WaitForPort(absl::string_view prefix,
                                  absl::Duration timeout);

  // Reaps the child if it has exited; its exit code (128 + signal when
  // killed) once it has, nullopt while it runs.
  std::optional<int> Poll();
  // Sends `signal` when running.
  void Signal(int signal);
  // Waits for the exit until `deadline`, then SIGKILLs; returns the exit
  // code. The code of the last exit when not running.
  int Wait(absl::Time deadline);
  // SIGKILL and reap; a no-op when not running.
  void Kill();
  // Starts the same command again. FAILED_PRECONDITION while running.
  absl::Status Restart();

  // The last `bytes` of the log file.
  std::string LogTail(int64_t bytes = 4000) const;

  const std::string& name() const { return options_.name; }
  const std::string& log_file() const { return options_.log_file; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // The last exit code; -1 before the first exit.
  int exit_code() const { return exit_code_; }

 private:
  explicit ChildProcess(ChildProcessOptions options)
      : options_(std::move(options)) {}
  absl::Status Spawn();

  const ChildProcessOptions options_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  int64_t log_offset_ = 0;  // log size when the current child started
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind 0, close).
absl::StatusOr<int> PickFreePort();

}  // namespace shoal

#endif  // SHOAL_COMMON_CHILD_PROCESS_H_
