#include "replay/client/shard_addresses.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace shoal {
namespace {

struct HostPort {
  std::string host;
  std::string port;
};

absl::StatusOr<HostPort> SplitHostPort(absl::string_view entry) {
  const size_t colon = entry.rfind(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      colon + 1 == entry.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replay address '", entry, "' must be host:port (e.g. replay-0:7000)"));
  }
  HostPort out{std::string(entry.substr(0, colon)),
               std::string(entry.substr(colon + 1))};
  if (out.host.size() >= 2 && out.host.front() == '[' &&
      out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Every address `hp.host` resolves to, as "ip:port" ("[ip6]:port"),
// IPv4 only when there are any, sorted and without duplicates.
absl::StatusOr<std::vector<std::string>> Resolve(const HostPort& hp) {
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* result = nullptr;
  const int rc = getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &result);
  if (rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("replay address '", hp.host, ":", hp.port,
                     "' does not resolve: ", gai_strerror(rc)));
  }
  std::vector<std::string> v4, v6;
  for (struct addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      v4.push_back(absl::StrCat(text, ":", hp.port));
    } else if (ai->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
      v6.push_back(absl::StrCat("[", text, "]:", hp.port));
    }
  }
  freeaddrinfo(result);
  std::vector<std::string> out = v4.empty() ? std::move(v6) : std::move(v4);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "replay address '", hp.host, "' resolves to no IPv4/IPv6 address"));
  }
  return out;
}

}  // namespace

absl::StatusOr<ShardAddresses> ResolveShardAddresses(
    absl::string_view addresses) {
  absl::string_view list = absl::StripAsciiWhitespace(addresses);
  if (absl::StartsWith(list, "dns:///")) list.remove_prefix(7);
  if (list.empty()) {
    return absl::InvalidArgumentError("replay addresses: the list is empty");
  }
  ShardAddresses out;
  if (absl::StrContains(list, ',')) {
    for (absl::string_view entry : absl::StrSplit(list, ',')) {
      entry = absl::StripAsciiWhitespace(entry);
      if (entry.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "replay addresses '", list, "': empty entry between commas"));
      }
      absl::StatusOr<HostPort> hp = SplitHostPort(entry);
      if (!hp.ok()) return hp.status();
      out.addresses.emplace_back(entry);
    }
    return out;
  }
  absl::StatusOr<HostPort> hp = SplitHostPort(list);
  if (!hp.ok()) return hp.status();
  if (IsIpLiteral(hp->host)) {
    out.addresses.emplace_back(list);
    return out;
  }
  absl::StatusOr<std::vector<std::string>> resolved = Resolve(*hp);
  if (!resolved.ok()) return resolved.status();
  out.addresses = std::move(*resolved);
  out.resolved = out.addresses.size() > 1;
  if (!out.resolved) out.addresses = {std::string(list)};  // keep the name
  return out;
}

uint64_t StableHash(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace shoal
