// MakeChannel: a grpc::Channel with shoal's standard client setup: TLS or
// mutual TLS, a bearer token on every call (auth.h), a bounded receive
// size and keepalive.
//
//   ChannelOptions options;
//   options.target = "dns:///replay-0:7000";
//   options.tls.ca_file = "ca.pem";
//   options.token_file = "actor.token";
//   SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
//                          MakeChannel(options));
//   auto stub = shoal::v1::ReplayService::NewStub(channel);
//
// The channel is thread-safe and connects lazily: a bad address shows up
// as UNAVAILABLE on the first call, not here.
#ifndef SHOAL_COMMON_GRPC_CHANNEL_H_
#define SHOAL_COMMON_GRPC_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

#include "common/config.h"

namespace shoal {

struct ChannelTlsOptions {
  // PEM CA bundle that the server's certificate must chain to. TLS is on
  // when ca_file or cert_file is set; with only cert_file the system's
  // roots verify the server.
  std::string ca_file;
  // PEM client certificate chain and key, for mutual TLS. Both or neither.
  std::string cert_file;
  std::string key_file;
  // Name to verify the server's certificate against instead of the
  // target's host. Tests only.
  std::string server_name_override;
};

struct ChannelKeepaliveOptions {
  // Ping the server this often while the connection is idle...
  absl::Duration time = absl::Seconds(20);
  // ...and drop the connection when no ack comes within this.
  absl::Duration timeout = absl::Seconds(10);
  // Keep pinging while no call is open.
  bool permit_without_calls = true;
};

struct ChannelOptions {
  // Any gRPC target: "host:port", "dns:///name:port", "unix:/path".
  std::string target;
  ChannelTlsOptions tls;
  // File holding the bearer token sent on every call (auth.h,
  // ReadTokenFile). Empty: no token.
  std::string token_file;
  // Largest inbound message; 1 byte to 2 GiB - 1.
  int64_t max_receive_message_bytes = 4 << 20;
  ChannelKeepaliveOptions keepalive;
  // gRPC's own reconnect backoff after a lost connection (the first delay,
  // then growing to max). Short, because
  // shoal's clients back off themselves (common/backoff.h) and a restarted
  // server should be picked up promptly. > 0, min <= max.
  absl::Duration min_reconnect_backoff = absl::Milliseconds(100);
  absl::Duration max_reconnect_backoff = absl::Seconds(1);
};

// Errors name the bad option: an unreadable CA, certificate, key or token
// file, an empty target, a size out of range.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelOptions& options);

// A shoal process's client options for `target` from its experiment:
// TLS when security.tls_ca is set (mutual with tls_cert and tls_key), the
// bearer token of security.token_file, replay.max_message_bytes.
ChannelOptions ChannelOptionsFromConfig(const ExperimentConfig& config,
                                        const std::string& target);

}  // namespace shoal

#endif  // SHOAL_COMMON_GRPC_CHANNEL_H_
