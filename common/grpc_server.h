// GrpcServer: builds, starts and owns a grpc::Server with shoal's standard
// setup: TLS or mutual TLS, bearer-token roles (auth.h), bounded message
// size and concurrent streams, keepalive, the gRPC health service and
// server reflection.
//
//   ReplayServiceImpl replay(...);
//   ServerOptions options;
//   options.address = "0.0.0.0:7000";
//   options.tls = {"server.pem", "server.key", "ca.pem"};  // mutual TLS
//   options.tokens_file = "tokens.txt";
//   options.method_roles = ShoalMethodRoles();
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<GrpcServer> server,
//                          GrpcServer::Start(options, {&replay}));
//   ...
//   server->Shutdown(absl::Now() + absl::Seconds(5));
//
// Thread-safe. Does not own the services; they must outlive the server's
// Shutdown() (or its destruction, which shuts it down at once).
#ifndef SHOAL_COMMON_GRPC_SERVER_H_
#define SHOAL_COMMON_GRPC_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "grpcpp/support/config.h"

#include "common/auth.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace shoal {

struct ServerTlsOptions {
  // PEM certificate chain and private key. Both empty: plaintext.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle. Non-empty: clients must present a certificate signed by
  // it (mutual TLS). Needs cert_file.
  std::string ca_file;
};

struct ServerKeepaliveOptions {
  // Server pings an idle connection this often...
  absl::Duration time = absl::Seconds(20);
  // ...and drops it when no ack comes within this.
  absl::Duration timeout = absl::Seconds(10);
  // Keepalive pings also while no call is open.
  bool permit_without_calls = true;
  // Clients pinging more often than this (with no data) are sent GOAWAY.
  // Must not exceed the clients' ChannelKeepaliveOptions::time.
  absl::Duration min_ping_interval = absl::Seconds(10);
};

struct ServerOptions {
  // "host:port"; port 0 picks a free one (see GrpcServer::port()).
  std::string address = "127.0.0.1:0";
  ServerTlsOptions tls;
  // Tokens file (auth.h). Empty: no authentication.
  std::string tokens_file;
  // Who may call which method, when tokens_file is set.
  MethodRoles method_roles;
  // Largest inbound message; 1 byte to 2 GiB - 1.
  int64_t max_receive_message_bytes = 4 << 20;
  // Concurrent streams (calls) per connection; >= 1.
  int max_concurrent_streams = 256;
  ServerKeepaliveOptions keepalive;
};

class GrpcServer {
 public:
  // Registers `services` (not owned), enables health (status SERVING for
  // the server as a whole, service name "", and for each shoal service by
  // its full name, e.g. "shoal.v1.ReplayService", as grpc_health_probe
  // -service and Kubernetes gRPC probes ask) and reflection, binds and
  // starts.
  // Errors name the bad option: an unreadable cert file, an address already in
  // use.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerOptions& options,
      const std::vector<grpc::Service*>& services);

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;
  // Shuts down at once (cancelling open calls) unless already shut down.
  ~GrpcServer();

  // The bound port, e.g. the one picked for port 0.
  int port() const { return port_; }
  // "host:port" with the bound port, e.g. "127.0.0.1:40513".
  const std::string& address() const { return bound_address_; }
  // Whether TLS is on.
  bool tls() const { return tls_; }

  // Health status of the server as a whole and of each of its services. A
  // draining server sets false so load balancers stop sending calls.
  void SetServing(bool serving);

  // Marks NOT_SERVING, refuses new calls, waits for open calls until
  // `deadline`, then cancels the rest. Idempotent.
  void Shutdown(absl::Time deadline);
  // Blocks until the server is shut down (by another thread).
  void Wait();

  // The underlying server, e.g. for InProcessChannel().
  grpc::Server* server() { return server_.get(); }

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port,
             std::string bound_address, bool tls,
             std::vector<std::string> health_names)
      : server_(std::move(server)),
        port_(port),
        bound_address_(std::move(bound_address)),
        tls_(tls),
        health_names_(std::move(health_names)) {}

  // Constant after construction.
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::string bound_address_;
  const bool tls_;
  // Service names health answers for besides "".
  const std::vector<std::string> health_names_;
};

}  // namespace shoal

#endif  // SHOAL_COMMON_GRPC_SERVER_H_
