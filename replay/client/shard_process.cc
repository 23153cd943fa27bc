#include "replay/client/shard_process.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "common/test_util.h"
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

constexpr char kListening[] = "shoal-replay listening on ";

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

// The port of the "listening" line in `text`, or -1.
int ListeningPort(const std::string& text) {
  const size_t at = text.find(kListening);
  if (at == std::string::npos) return -1;
  const size_t port_at = text.find(" port ", at);
  const size_t end = text.find('\n', at);
  if (port_at == std::string::npos || end == std::string::npos) return -1;
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

absl::StatusOr<std::unique_ptr<ShardProcess>> ShardProcess::Start(
    ShardProcessOptions options) {
  if (options.config_file.empty()) {
    return absl::InvalidArgumentError("ShardProcess: config_file is required");
  }
  if (options.binary.empty()) {
    const char* dir = std::getenv("SHOAL_BINARY_DIR");
    if (dir == nullptr || *dir == '\0') {
      return absl::FailedPreconditionError(
          "ShardProcess: SHOAL_BINARY_DIR is not set (ctest sets it to the "
          "build directory) and no binary was given");
    }
    options.binary = absl::StrCat(dir, "/replay/shoal-replay");
  }
  if (access(options.binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("ShardProcess: ", options.binary,
                     " is not an executable (build the "
                     "shoal-replay target)"));
  }
  if (options.port == 0) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    options.port = *port;
  }
  if (options.log_file.empty()) {
    absl::StatusOr<std::string> dir = MakeTempDir("shoal-shard-");
    if (!dir.ok()) return dir.status();
    options.log_file =
        absl::StrCat(*dir, "/shard-", options.shard_index, ".log");
  }
  std::unique_ptr<ShardProcess> shard(new ShardProcess(std::move(options)));
  if (absl::Status started = shard->Spawn(); !started.ok()) return started;
  return shard;
}

ShardProcess::~ShardProcess() { Kill().IgnoreError(); }

std::string ShardProcess::address() const {
  return absl::StrCat("127.0.0.1:", options_.port);
}

absl::Status ShardProcess::Spawn() {
  std::vector<std::string> args = {
      options_.binary,
      absl::StrCat("--config=", options_.config_file),
      "--host=127.0.0.1",
      absl::StrCat("--port=", options_.port),
      absl::StrCat("--shard_index=", options_.shard_index),
      absl::StrCat("--checkpoint_dir=", options_.checkpoint_dir)};
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const int64_t offset = FileSize(options_.log_file);
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

  const absl::Time deadline = absl::Now() + options_.start_timeout;
  while (true) {
    const int port = ListeningPort(ReadFrom(options_.log_file, offset));
    if (port == options_.port) return absl::OkStatus();
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat(
          "shoal-replay exited with code ", ExitCodeOf(wstatus),
          " before listening; log ", options_.log_file, ":\n", LogTail()));
    }
    if (port >= 0 || absl::Now() >= deadline) {
      Kill().IgnoreError();
      return absl::InternalError(absl::StrCat(
          port >= 0 ? absl::StrCat("shoal-replay listens on port ", port,
                                   ", not ", options_.port)
                    : "shoal-replay did not print its port in time",
          "; log ", options_.log_file, ":\n", LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::string ShardProcess::LogTail() const {
  const int64_t size = FileSize(options_.log_file);
  return ReadFrom(options_.log_file, size > 4000 ? size - 4000 : 0);
}

absl::Status ShardProcess::Kill() {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return absl::OkStatus();
}

absl::StatusOr<int> ShardProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) {
    return absl::FailedPreconditionError("ShardProcess: not running");
  }
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  int wstatus = 0;
  while (true) {
    const pid_t done = waitpid(pid_, &wstatus, WNOHANG);
    if (done == pid_) break;
    if (done < 0 && errno != EINTR) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("waitpid: ", std::strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
  return ExitCodeOf(wstatus);
}

absl::Status ShardProcess::Restart() {
  if (pid_ > 0) {
    return absl::FailedPreconditionError(
        "ShardProcess: Restart while running; Kill or Terminate first");
  }
  return Spawn();
}

}  // namespace shoal
