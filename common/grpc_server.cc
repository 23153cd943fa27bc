#include "common/grpc_server.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "grpc/grpc_security.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "shoal/v1/env.grpc.pb.h"
#include "shoal/v1/learner.grpc.pb.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/auth.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

// Calls `authorizer` from gRPC's C-core metadata-processing step. gRPC
// runs this step on plaintext servers too, as long as the server
// credentials carry a processor; only the C++ InsecureServerCredentials()
// refuses to take one. `state` is a heap std::shared_ptr<const Authorizer>.
void ProcessAuthMetadata(void* state, grpc_auth_context* /*context*/,
                         const grpc_metadata* md, size_t num_md,
                         grpc_process_auth_metadata_done_cb done,
                         void* user_data) {
  const auto& authorizer =
      *static_cast<std::shared_ptr<const Authorizer>*>(state);
  absl::string_view method;
  std::optional<absl::string_view> authorization;
  const grpc_metadata* authorization_md = nullptr;
  for (size_t i = 0; i < num_md; ++i) {
    absl::string_view key(
        reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(md[i].key)),
        GRPC_SLICE_LENGTH(md[i].key));
    absl::string_view value(
        reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(md[i].value)),
        GRPC_SLICE_LENGTH(md[i].value));
    if (key == ":path") {
      method = value;
    } else if (key == "authorization") {
      authorization = value;
      authorization_md = &md[i];
    }
  }
  absl::Status status = authorizer->Check(method, authorization);
  if (status.ok()) {
    // Consuming the token keeps it out of the handlers' client_metadata().
    done(user_data, authorization_md, authorization_md == nullptr ? 0 : 1,
         /*response_md=*/nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  const std::string message(status.message());
  done(user_data, nullptr, 0, nullptr, 0,
       static_cast<grpc_status_code>(status.code()), message.c_str());
}

void DestroyAuthState(void* state) {
  delete static_cast<std::shared_ptr<const Authorizer>*>(state);
}

// Plaintext server credentials that run `authorizer` on every call: the
// plaintext twin of SslServerCredentials + TokenAuthMetadataProcessor.
class PlaintextTokenServerCredentials final : public grpc::ServerCredentials {
 public:
  explicit PlaintextTokenServerCredentials(
      std::shared_ptr<const Authorizer> authorizer)
      : authorizer_(std::move(authorizer)) {}

  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>& /*processor*/)
      override {}  // The authorizer is the processor.

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    grpc_server_credentials* creds = grpc_insecure_server_credentials_create();
    grpc_auth_metadata_processor processor;
    processor.process = &ProcessAuthMetadata;
    processor.destroy = &DestroyAuthState;
    processor.state = new std::shared_ptr<const Authorizer>(authorizer_);
    grpc_server_credentials_set_auth_metadata_processor(creds, processor);
    const int port = grpc_server_add_http2_port(server, addr.c_str(), creds);
    grpc_server_credentials_release(creds);
    return port;
  }

  const std::shared_ptr<const Authorizer> authorizer_;
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerOptions& options) {
  std::shared_ptr<const Authorizer> authorizer;
  if (!options.tokens_file.empty()) {
    SHOAL_ASSIGN_OR_RETURN(
        authorizer,
        Authorizer::Create(options.tokens_file, options.method_roles));
  }
  const ServerTlsOptions& tls = options.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS needs both cert_file and key_file, got cert_file '",
                     tls.cert_file, "' and key_file '", tls.key_file, "'"));
  }
  if (tls.cert_file.empty()) {
    if (!tls.ca_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TLS ca_file '", tls.ca_file, "' needs cert_file and key_file"));
    }
    if (authorizer == nullptr) return grpc::InsecureServerCredentials();
    return std::make_shared<PlaintextTokenServerCredentials>(
        std::move(authorizer));
  }
  grpc::SslServerCredentialsOptions ssl(
      tls.ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  SHOAL_ASSIGN_OR_RETURN(pair.cert_chain,
                         ReadPemFile(tls.cert_file, "TLS cert_file"));
  SHOAL_ASSIGN_OR_RETURN(pair.private_key,
                         ReadPemFile(tls.key_file, "TLS key_file"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.ca_file.empty()) {
    SHOAL_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                           ReadPemFile(tls.ca_file, "TLS ca_file"));
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::SslServerCredentials(ssl);
  if (authorizer != nullptr) {
    creds->SetAuthMetadataProcessor(
        std::make_shared<TokenAuthMetadataProcessor>(std::move(authorizer)));
  }
  return creds;
}

absl::Status ValidateOptions(const ServerOptions& options) {
  if (options.max_receive_message_bytes < 1 ||
      options.max_receive_message_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_receive_message_bytes must be in [1, 2^31 - 1], got ",
                     options.max_receive_message_bytes));
  }
  if (options.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_concurrent_streams must be >= 1, got ",
                     options.max_concurrent_streams));
  }
  const ServerKeepaliveOptions& keepalive = options.keepalive;
  if (keepalive.time <= absl::ZeroDuration() ||
      keepalive.timeout <= absl::ZeroDuration() ||
      keepalive.min_ping_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("keepalive time and timeout must be > 0, got ",
                     absl::FormatDuration(keepalive.time), " and ",
                     absl::FormatDuration(keepalive.timeout)));
  }
  return absl::OkStatus();
}

int Milliseconds(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d),
                                            std::numeric_limits<int>::max()));
}

void SetChannelArguments(const ServerOptions& options,
                         grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(options.max_receive_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             options.max_concurrent_streams);
  const ServerKeepaliveOptions& keepalive = options.keepalive;
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             Milliseconds(keepalive.time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Milliseconds(keepalive.timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                             keepalive.permit_without_calls ? 1 : 0);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      Milliseconds(keepalive.min_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Without this, Linux lets a second server bind a port that is in use
  // (SO_REUSEPORT) and the two silently share its calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

// `address` with a requested port 0 replaced by the bound `port`.
std::string BoundAddress(const std::string& address, int port) {
  if (!absl::EndsWith(address, ":0")) return address;
  return absl::StrCat(address.substr(0, address.size() - 1), port);
}

// The full names of the shoal services among `services` (for health).
std::vector<std::string> ShoalServiceNames(
    const std::vector<grpc::Service*>& services) {
  std::vector<std::string> names;
  for (grpc::Service* service : services) {
    if (dynamic_cast<v1::ReplayService::Service*>(service) != nullptr) {
      names.emplace_back(v1::ReplayService::service_full_name());
    } else if (dynamic_cast<v1::LearnerService::Service*>(service) != nullptr) {
      names.emplace_back(v1::LearnerService::service_full_name());
    } else if (dynamic_cast<v1::EnvService::Service*>(service) != nullptr) {
      names.emplace_back(v1::EnvService::service_full_name());
    }
  }
  return names;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  SHOAL_RETURN_IF_ERROR(ValidateOptions(options));
  SHOAL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                         MakeCredentials(options));
  // Both are process-wide switches read when a builder is made.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address, creds, &port);
  SetChannelArguments(options, builder);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "gRPC server cannot listen on '", options.address,
        "': address already in use or not a local address",
        options.tls.cert_file.empty()
            ? ""
            : ", or TLS rejected the certificate, key or CA files"));
  }
  std::unique_ptr<GrpcServer> started(new GrpcServer(
      std::move(server), port, BoundAddress(options.address, port),
      !options.tls.cert_file.empty(), ShoalServiceNames(services)));
  started->SetServing(true);
  return started;
}

GrpcServer::~GrpcServer() { Shutdown(absl::Now()); }

void GrpcServer::SetServing(bool serving) {
  if (grpc::HealthCheckServiceInterface* health =
          server_->GetHealthCheckService();
      health != nullptr) {
    health->SetServingStatus(serving);
    for (const std::string& name : health_names_) {
      health->SetServingStatus(name, serving);
    }
  }
}

void GrpcServer::Shutdown(absl::Time deadline) {
  SetServing(false);
  // gRPC reads a time before 1970 as "never", so clamp to now.
  server_->Shutdown(absl::ToChronoTime(std::max(deadline, absl::Now())));
}

void GrpcServer::Wait() { server_->Wait(); }

}  // namespace shoal
