#include "common/grpc_channel.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

#include "common/auth.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

// Adds "authorization: Bearer <token>" to every call. An interceptor, not
// call credentials, because gRPC only sends call credentials over TLS.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header)
      : header_(header) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* const header_;  // Owned by the factory.
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(absl::string_view token)
      : header_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ChannelTlsOptions& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS needs both cert_file and key_file, got cert_file '",
                     tls.cert_file, "' and key_file '", tls.key_file, "'"));
  }
  if (tls.ca_file.empty() && tls.cert_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    SHOAL_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                           ReadPemFile(tls.ca_file, "TLS ca_file"));
  }
  if (!tls.cert_file.empty()) {
    SHOAL_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                           ReadPemFile(tls.cert_file, "TLS cert_file"));
    SHOAL_ASSIGN_OR_RETURN(ssl.pem_private_key,
                           ReadPemFile(tls.key_file, "TLS key_file"));
  }
  return grpc::SslCredentials(ssl);
}

int Milliseconds(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d),
                                            std::numeric_limits<int>::max()));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("channel target is empty");
  }
  if (options.max_receive_message_bytes < 1 ||
      options.max_receive_message_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_receive_message_bytes must be in [1, 2^31 - 1], got ",
                     options.max_receive_message_bytes));
  }
  if (options.min_reconnect_backoff <= absl::ZeroDuration() ||
      options.max_reconnect_backoff < options.min_reconnect_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reconnect backoff must satisfy 0 < min <= max, got ",
        absl::FormatDuration(options.min_reconnect_backoff), " and ",
        absl::FormatDuration(options.max_reconnect_backoff)));
  }
  const ChannelKeepaliveOptions& keepalive = options.keepalive;
  if (keepalive.time <= absl::ZeroDuration() ||
      keepalive.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("keepalive time and timeout must be > 0, got ",
                     absl::FormatDuration(keepalive.time), " and ",
                     absl::FormatDuration(keepalive.timeout)));
  }
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                         MakeCredentials(options.tls));

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(
      static_cast<int>(options.max_receive_message_bytes));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(keepalive.time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Milliseconds(keepalive.timeout));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
              keepalive.permit_without_calls ? 1 : 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              Milliseconds(options.min_reconnect_backoff));
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the time
  // one connection attempt may take, so a short value fails any handshake
  // slower than that (a loaded machine, TLS) at once with UNAVAILABLE. Its
  // default (20 s) bounds an attempt; call deadlines bound the calls.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              Milliseconds(options.max_reconnect_backoff));
  // Without this, gRPC stops pinging after two pings with no data.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  if (!options.tls.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.tls.server_name_override);
  }

  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!options.token_file.empty()) {
    SHOAL_ASSIGN_OR_RETURN(std::string token,
                           ReadTokenFile(options.token_file));
    interceptors.push_back(
        std::make_unique<BearerTokenInterceptorFactory>(token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      options.target, creds, args, std::move(interceptors));
}

ChannelOptions ChannelOptionsFromConfig(const ExperimentConfig& config,
                                        const std::string& target) {
  ChannelOptions channel;
  channel.target = target;
  channel.tls.ca_file = config.security.tls_ca;
  if (!config.security.tls_ca.empty()) {
    channel.tls.cert_file = config.security.tls_cert;
    channel.tls.key_file = config.security.tls_key;
  }
  channel.token_file = config.security.token_file;
  channel.max_receive_message_bytes = config.replay.max_message_bytes;
  return channel;
}

}  // namespace shoal
