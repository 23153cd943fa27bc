// TcpProxy: a flaky TCP forwarder for fault tests. Accepts on a loopback
// port, connects each accepted client to 127.0.0.1:target_port and copies
// bytes both ways, and cuts connections (RST to both ends, SO_LINGER 0):
//
// - after a connection has carried about `cut_after_bytes` bytes from the
//   client (each connection draws its own limit in [1/2, 3/2] of it from a
//   seeded generator, so cuts land at varied offsets, mid-frame included;
//   the bytes up to the limit are forwarded, the rest is not), and/or
// - every `cut_every`, whatever the connection carries.
//
//   TcpProxyOptions options;
//   options.target_port = shard_port;
//   options.cut_after_bytes = 64 << 10;
//   SHOAL_ASSIGN_OR_RETURN(auto proxy, TcpProxy::Start(options));
//   ... connect clients to 127.0.0.1:proxy->port() ...
//
// One thread forwards every connection (poll; writes block, which is fine
// on loopback). Thread-safe: the counters may be read from any thread.
#ifndef SHOAL_TESTS_FAULT_TCP_PROXY_H_
#define SHOAL_TESTS_FAULT_TCP_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shoal {
namespace fault {

struct TcpProxyOptions {
  // Where to forward (on 127.0.0.1); required.
  int target_port = 0;
  // Cut each connection after about this many client bytes; 0 = never.
  int64_t cut_after_bytes = 0;
  // Cut every open connection this often; zero = never.
  absl::Duration cut_every = absl::ZeroDuration();
  // Seed of the per-connection limits.
  uint64_t seed = 1;
};

class TcpProxy {
 public:
  // Listens on 127.0.0.1:<free port> and starts forwarding.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(
      TcpProxyOptions options);
  // Stops the thread and closes every socket.
  ~TcpProxy();

  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  int64_t connections() const { return connections_.load(); }
  int64_t cuts() const { return cuts_.load(); }
  // Client -> server bytes forwarded, over all connections.
  int64_t bytes_up() const { return bytes_up_.load(); }

 private:
  TcpProxy(TcpProxyOptions options, int listen_fd, int port)
      : options_(options), listen_fd_(listen_fd), port_(port) {}
  void Loop();

  const TcpProxyOptions options_;
  const int listen_fd_;
  const int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> cuts_{0};
  std::atomic<int64_t> bytes_up_{0};
  std::thread thread_;
};

}  // namespace fault
}  // namespace shoal

#endif  // SHOAL_TESTS_FAULT_TCP_PROXY_H_
