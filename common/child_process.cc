#include "common/child_process.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace shoal {
namespace {

std::string ReadFrom(const std::string& path, int64_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(offset);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

// The N of the first complete "<prefix>HOST port N" line in `text`, or -1.
int ListeningPort(const std::string& text, absl::string_view prefix) {
  const size_t at = text.find(prefix.data(), 0, prefix.size());
  if (at == std::string::npos) return -1;
  const size_t end = text.find('\n', at);
  if (end == std::string::npos) return -1;
  const size_t port_at = text.rfind(" port ", end);
  if (port_at == std::string::npos || port_at < at) return -1;
  int port = -1;
  if (!absl::SimpleAtoi(text.substr(port_at + 6, end - port_at - 6), &port)) {
    return -1;
  }
  return port;
}

int ExitCodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", error));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    ChildProcessOptions options) {
  if (options.argv.empty() || access(options.argv[0].c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        options.name, ": ",
        options.argv.empty() ? std::string("no binary") : options.argv[0],
        " is not an executable"));
  }
  if (options.log_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": a log file is required"));
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess(std::move(options)));
  if (absl::Status started = child->Spawn(); !started.ok()) return started;
  return child;
}

ChildProcess::~ChildProcess() { Kill(); }

absl::Status ChildProcess::Spawn() {
  std::vector<std::string> args = options_.argv;
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  log_offset_ = FileSize(options_.log_file);
  const int log_fd =
      open(options_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", options_.log_file, ": ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {  // child: async-signal-safe calls only
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::WaitForPort(absl::string_view prefix,
                                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int port =
        ListeningPort(ReadFrom(options_.log_file, log_offset_), prefix);
    if (port >= 0) return port;
    if (std::optional<int> code = Poll(); code.has_value()) {
      return absl::InternalError(absl::StrCat(
          options_.name, " exited with code ", *code, " before listening; log ",
          options_.log_file, ":\n", LogTail()));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(options_.name, " did not print its port within ",
                       absl::FormatDuration(timeout), "; log ",
                       options_.log_file, ":\n", LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::optional<int> ChildProcess::Poll() {
  if (pid_ <= 0) return exit_code_;
  int wstatus = 0;
  const pid_t done = waitpid(pid_, &wstatus, WNOHANG);
  if (done != pid_) return std::nullopt;
  pid_ = -1;
  exit_code_ = ExitCodeOf(wstatus);
  return exit_code_;
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

int ChildProcess::Wait(absl::Time deadline) {
  while (pid_ > 0) {
    if (Poll().has_value()) break;
    if (absl::Now() >= deadline) {
      Kill();
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return exit_code_;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  exit_code_ = ExitCodeOf(wstatus);
}

absl::Status ChildProcess::Restart() {
  if (pid_ > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.name, ": Restart while running"));
  }
  return Spawn();
}

std::string ChildProcess::LogTail(int64_t bytes) const {
  const int64_t size = FileSize(options_.log_file);
  return ReadFrom(options_.log_file, size > bytes ? size - bytes : 0);
}

}  // namespace shoal
