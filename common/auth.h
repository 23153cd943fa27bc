// Bearer-token authentication and role-based authorization for shoal's gRPC
// servers (DESIGN.md, "Reliability and security").
//
// A tokens file maps secrets to roles, one `<role> <token>` per line:
//
//   # replay shard 0
//   actor   3f9c...e1
//   learner 77a0...5d
//   admin   c2d4...90
//
// Clients send `authorization: Bearer <token>` on every call (see
// grpc_channel.h). The server looks the token up (unknown or missing:
// UNAUTHENTICATED) and checks the caller's role against the per-server
// MethodRoles map (role not listed: PERMISSION_DENIED). `admin` may call
// every method. Health and reflection methods need no token.
//
// Where the check runs: grpc_server.h installs it below the service code,
// in gRPC's transport auth step, so every service (callback, sync or async)
// is covered without calling anything. On TLS servers it is the
// TokenAuthMetadataProcessor below, set with the standard
// ServerCredentials::SetAuthMetadataProcessor. The C++
// InsecureServerCredentials() refuses processors (it asserts), but gRPC's
// C core runs them for insecure credentials too; so for plaintext servers
// grpc_server.cc wraps grpc_insecure_server_credentials_create() plus a
// C processor calling the same Authorizer::Check in a small
// grpc::ServerCredentials subclass. Calls are refused before any handler
// runs, with the codes above. On plaintext the token travels in the
// clear: use TLS anywhere but a trusted network.
#ifndef SHOAL_COMMON_AUTH_H_
#define SHOAL_COMMON_AUTH_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace shoal {

enum class Role {
  kActor,    // inserts items, reads parameters
  kLearner,  // samples, updates priorities, publishes parameters
  kAdmin,    // checkpoints, resets; may call every method
  kReader,   // info and health only
};

// "actor", "learner", "admin" or "reader".
absl::string_view RoleName(Role role);
// Inverse of RoleName; InvalidArgument names `name` otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view name);

// Full method name ("/shoal.v1.ReplayService/InsertStream") -> the roles
// that may call it, besides admin. A method missing here is admin-only.
using MethodRoles = absl::flat_hash_map<std::string, std::vector<Role>>;

// The standard map for shoal's ReplayService, LearnerService and
// EnvService.
MethodRoles ShoalMethodRoles();

// True for methods anyone may call without a token: grpc.health.v1.Health
// and grpc.reflection.*.
bool IsPublicMethod(absl::string_view method);

// Token -> role, from a tokens file. Immutable, so thread-safe.
class TokenTable {
 public:
  // Reads `path`. Errors name the file, and the line of a bad entry:
  // "<path>:<line>: <what is wrong>".
  static absl::StatusOr<TokenTable> FromFile(const std::string& path);
  // Parses file contents; `source` names them in error messages.
  static absl::StatusOr<TokenTable> Parse(absl::string_view contents,
                                          absl::string_view source);

  // The role of `token`, or nullopt. Compares against every entry in
  // constant time per entry, so timing does not reveal a token's prefix.
  std::optional<Role> Find(absl::string_view token) const;
  size_t size() const { return entries_.size(); }

 private:
  explicit TokenTable(std::vector<std::pair<std::string, Role>> entries)
      : entries_(std::move(entries)) {}

  std::vector<std::pair<std::string, Role>> entries_;
};

// Decides whether a call may proceed. Immutable, so thread-safe.
class Authorizer {
 public:
  Authorizer(TokenTable tokens, MethodRoles method_roles)
      : tokens_(std::move(tokens)), method_roles_(std::move(method_roles)) {}

  // Reads `tokens_file` (see TokenTable::FromFile); it must hold a token.
  static absl::StatusOr<std::shared_ptr<const Authorizer>> Create(
      const std::string& tokens_file, MethodRoles method_roles);

  // `authorization` is the value of the call's "authorization" metadata,
  // nullopt when absent. OK, UNAUTHENTICATED or PERMISSION_DENIED; the
  // message names the method and role, never the token.
  absl::Status Check(absl::string_view method,
                     std::optional<absl::string_view> authorization) const;

 private:
  const TokenTable tokens_;
  const MethodRoles method_roles_;
};

// A grpc::AuthMetadataProcessor running Authorizer::Check on the ":path"
// and "authorization" metadata; it consumes the "authorization" entry so
// handlers never see the token. Non-blocking, so gRPC calls it inline.
class TokenAuthMetadataProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenAuthMetadataProcessor(
      std::shared_ptr<const Authorizer> authorizer)
      : authorizer_(std::move(authorizer)) {}

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const std::shared_ptr<const Authorizer> authorizer_;
};

// Reads a client's token file: the first line that is neither blank nor a
// `#` comment, trimmed. Errors name the file.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Reads a whole key, certificate or token file. `what` says which option
// named it ("TLS cert_file"); errors name it, `path` and the reason.
absl::StatusOr<std::string> ReadCredentialFile(const std::string& path,
                                               absl::string_view what);
// ReadCredentialFile, and InvalidArgument when the file holds no PEM block.
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view what);

}  // namespace shoal

#endif  // SHOAL_COMMON_AUTH_H_
