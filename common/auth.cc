#include "common/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "common/grpc_status.h"

namespace shoal {
namespace {

constexpr absl::string_view kBearerPrefix = "Bearer ";

// Equal contents, in time that depends only on the lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// A "<service>/<method>" list with the same roles.
void AddMethods(MethodRoles& map, absl::string_view service,
                std::initializer_list<absl::string_view> methods,
                std::vector<Role> roles) {
  for (absl::string_view method : methods) {
    map[absl::StrCat("/", service, "/", method)] = roles;
  }
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kActor:
      return "actor";
    case Role::kLearner:
      return "learner";
    case Role::kAdmin:
      return "admin";
    case Role::kReader:
      return "reader";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role :
       {Role::kActor, Role::kLearner, Role::kAdmin, Role::kReader}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role '", name, "' (expected actor, learner, admin or reader)"));
}

MethodRoles ShoalMethodRoles() {
  MethodRoles map;
  AddMethods(map, "shoal.v1.ReplayService", {"InsertStream"}, {Role::kActor});
  AddMethods(map, "shoal.v1.ReplayService",
             {"SampleStream", "UpdatePriorities"}, {Role::kLearner});
  AddMethods(map, "shoal.v1.ReplayService", {"Info"},
             {Role::kReader, Role::kActor, Role::kLearner});
  // Checkpoint and Reset: admin only, so not listed.
  AddMethods(map, "shoal.v1.LearnerService",
             {"GetParameters", "WatchParameters", "ReportEpisodes"},
             {Role::kActor});
  AddMethods(map, "shoal.v1.EnvService", {"Open", "Reset", "Step", "Close"},
             {Role::kActor});
  return map;
}

bool IsPublicMethod(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.v1.Health/") ||
         absl::StartsWith(method, "/grpc.reflection.");
}

absl::StatusOr<std::string> ReadCredentialFile(const std::string& path,
                                               absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " '", path,
                                            "': ", std::strerror(error)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(
        absl::StrCat("error reading ", what, " '", path, "'"));
  }
  return contents.str();
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view what) {
  absl::StatusOr<std::string> pem = ReadCredentialFile(path, what);
  if (pem.ok() && !absl::StrContains(*pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", path, "' is not a PEM file"));
  }
  return pem;
}

absl::StatusOr<TokenTable> TokenTable::FromFile(const std::string& path) {
  absl::StatusOr<std::string> contents =
      ReadCredentialFile(path, "tokens file");
  if (!contents.ok()) return contents.status();
  return Parse(*contents, path);
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view contents,
                                             absl::string_view source) {
  std::vector<std::pair<std::string, Role>> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": ", what));
    };
    if (fields.size() != 2) {
      return error(absl::StrCat("expected '<role> <token>', got ",
                                fields.size(), " fields"));
    }
    absl::StatusOr<Role> role = ParseRole(fields[0]);
    if (!role.ok()) return error(role.status().message());
    for (const auto& [token, unused_role] : entries) {
      if (token == fields[1]) return error("duplicate token");
    }
    entries.emplace_back(std::string(fields[1]), *role);
  }
  return TokenTable(std::move(entries));
}

std::optional<Role> TokenTable::Find(absl::string_view token) const {
  std::optional<Role> found;
  for (const auto& [candidate, role] : entries_) {
    if (ConstantTimeEquals(candidate, token)) found = role;
  }
  return found;
}

absl::StatusOr<std::shared_ptr<const Authorizer>> Authorizer::Create(
    const std::string& tokens_file, MethodRoles method_roles) {
  absl::StatusOr<TokenTable> tokens = TokenTable::FromFile(tokens_file);
  if (!tokens.ok()) return tokens.status();
  if (tokens->size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(tokens_file, ": no tokens; every call would be refused"));
  }
  return std::make_shared<const Authorizer>(*std::move(tokens),
                                            std::move(method_roles));
}

absl::Status Authorizer::Check(
    absl::string_view method,
    std::optional<absl::string_view> authorization) const {
  if (IsPublicMethod(method)) return absl::OkStatus();
  if (!authorization.has_value()) {
    return absl::UnauthenticatedError(
        absl::StrCat(method, " needs 'authorization: Bearer <token>'"));
  }
  if (authorization->size() < kBearerPrefix.size() ||
      !absl::EqualsIgnoreCase(authorization->substr(0, kBearerPrefix.size()),
                              kBearerPrefix)) {
    return absl::UnauthenticatedError(absl::StrCat(
        method, ": authorization metadata is not 'Bearer <token>'"));
  }
  std::optional<Role> role = tokens_.Find(
      absl::StripAsciiWhitespace(authorization->substr(kBearerPrefix.size())));
  if (!role.has_value()) {
    return absl::UnauthenticatedError(
        absl::StrCat(method, ": unknown bearer token"));
  }
  if (*role == Role::kAdmin) return absl::OkStatus();
  if (auto it = method_roles_.find(method); it != method_roles_.end()) {
    for (Role allowed : it->second) {
      if (allowed == *role) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat("role '", RoleName(*role), "' may not call ", method));
}

grpc::Status TokenAuthMetadataProcessor::Process(
    const InputMetadata& auth_metadata, grpc::AuthContext* /*context*/,
    OutputMetadata* consumed_auth_metadata,
    OutputMetadata* /*response_metadata*/) {
  absl::string_view method;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) {
    method = absl::string_view(it->second.data(), it->second.size());
  }
  std::optional<absl::string_view> authorization;
  if (auto it = auth_metadata.find("authorization");
      it != auth_metadata.end()) {
    authorization = absl::string_view(it->second.data(), it->second.size());
    consumed_auth_metadata->emplace("authorization",
                                    std::string(*authorization));
  }
  return ToGrpcStatus(authorizer_->Check(method, authorization));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadCredentialFile(path, "token file");
  if (!contents.ok()) return contents.status();
  for (absl::string_view line : absl::StrSplit(*contents, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.find_first_of(" \t") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the token must not contain whitespace"));
    }
    return std::string(line);
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": no token"));
}

}  // namespace shoal
