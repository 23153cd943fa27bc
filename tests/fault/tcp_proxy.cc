#include "tests/fault/tcp_proxy.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal {
namespace fault {
namespace {

// Closes `fd` with a reset (SO_LINGER 0), as a dropped link looks to the
// far end once it notices.
void Reset(int fd) {
  if (fd < 0) return;
  linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

// Writes all of `data`; false when the peer is gone.
bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

struct Connection {
  int client = -1;
  int server = -1;
  int64_t up = 0;     // client -> server bytes so far
  int64_t limit = 0;  // cut when `up` reaches it; 0 = never
};

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(
    TcpProxyOptions options) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::strerror(errno));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("proxy listen: ", error));
  }
  std::unique_ptr<TcpProxy> proxy(
      new TcpProxy(options, fd, ntohs(addr.sin_port)));
  proxy->thread_ = std::thread([p = proxy.get()] { p->Loop(); });
  return proxy;
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
}

void TcpProxy::Loop() {
  std::mt19937_64 rng(options_.seed);
  std::vector<Connection> connections;
  absl::Time next_cut = options_.cut_every > absl::ZeroDuration()
                            ? absl::Now() + options_.cut_every
                            : absl::InfiniteFuture();
  // Ends a connection that one side closed (not counted as a cut).
  auto drop = [&](Connection& c) {
    Reset(c.client);
    Reset(c.server);
    c.client = c.server = -1;
  };
  auto cut = [&](Connection& c) {
    drop(c);
    ++cuts_;
  };
  char buffer[16384];
  while (!stop_) {
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
    for (const Connection& c : connections) {
      fds.push_back({c.client, POLLIN, 0});
      fds.push_back({c.server, POLLIN, 0});
    }
    poll(fds.data(), fds.size(), /*timeout_ms=*/20);
    if (fds[0].revents & POLLIN) {
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        const int server = ConnectLoopback(options_.target_port);
        if (server < 0) {
          Reset(client);
        } else {
          Connection c;
          c.client = client;
          c.server = server;
          if (options_.cut_after_bytes > 0) {
            std::uniform_int_distribution<int64_t> draw(
                options_.cut_after_bytes / 2, options_.cut_after_bytes * 3 / 2);
            c.limit = std::max<int64_t>(1, draw(rng));
          }
          connections.push_back(c);
          ++connections_;
        }
      }
    }
    for (size_t i = 0; i < connections.size(); ++i) {
      Connection& c = connections[i];
      const short from_client = fds[1 + 2 * i].revents;
      const short from_server = fds[2 + 2 * i].revents;
      if (c.client < 0) continue;
      if (from_client & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = recv(c.client, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          drop(c);
          continue;
        }
        int64_t forward = n;
        const bool last = c.limit > 0 && c.up + n >= c.limit;
        if (last) forward = c.limit - c.up;
        if (!SendAll(c.server, buffer, static_cast<size_t>(forward))) {
          drop(c);
          continue;
        }
        c.up += forward;
        bytes_up_ += forward;
        if (last) {
          cut(c);
          continue;
        }
      }
      if (from_server & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = recv(c.server, buffer, sizeof(buffer), 0);
        if (n <= 0 || !SendAll(c.client, buffer, static_cast<size_t>(n))) {
          drop(c);
          continue;
        }
      }
    }
    if (absl::Now() >= next_cut) {
      for (Connection& c : connections) {
        if (c.client >= 0) cut(c);
      }
      next_cut = absl::Now() + options_.cut_every;
    }
    connections.erase(
        std::remove_if(connections.begin(), connections.end(),
                       [](const Connection& c) { return c.client < 0; }),
        connections.end());
  }
  for (Connection& c : connections) {
    Reset(c.client);
    Reset(c.server);
  }
}

}  // namespace fault
}  // namespace shoal
