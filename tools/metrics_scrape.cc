#include "tools/metrics_scrape.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace shoal {

double MetricSamples::Get(absl::string_view series, double fallback) const {
  auto it = values.find(series);
  return it == values.end() ? fallback : it->second;
}

bool MetricSamples::Has(absl::string_view series) const {
  return values.find(series) != values.end();
}

MetricSamples ParseMetricsText(absl::string_view text) {
  MetricSamples samples;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    // The series ends at the last space outside braces: labels may hold
    // spaces, values and timestamps do not. Drop an optional timestamp.
    const size_t close = line.rfind('}');
    const size_t search_from = close == absl::string_view::npos ? 0 : close;
    const size_t space = line.find(' ', search_from);
    if (space == absl::string_view::npos) continue;
    absl::string_view series = line.substr(0, space);
    absl::string_view value =
        absl::StripLeadingAsciiWhitespace(line.substr(space + 1));
    value = value.substr(0, value.find(' '));
    double parsed = 0.0;
    if (!absl::SimpleAtod(value, &parsed)) continue;
    samples.values[std::string(series)] = parsed;
  }
  return samples;
}

absl::StatusOr<std::string> FetchMetricsText(int port, absl::Duration timeout) {
  const std::string where = absl::StrCat("GET 127.0.0.1:", port, "/metrics: ");
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(where, std::strerror(errno)));
  }
  // One deadline for connect, send and every read.
  const timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string response;
  const std::string request =
      "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size());
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[16384];
  while (ok && absl::Now() < deadline) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) break;  // the server closed: the whole response is here
    if (n < 0) {
      ok = errno == EINTR;
      continue;
    }
    response.append(buffer, static_cast<size_t>(n));
  }
  const std::string error = std::strerror(errno);
  close(fd);
  if (!ok) return absl::UnavailableError(absl::StrCat(where, error));
  if (!absl::StartsWith(response, "HTTP/1.") ||
      response.find(" 200 ") > response.find('\n')) {
    return absl::UnavailableError(
        absl::StrCat(where, "not HTTP 200: ", response.substr(0, 40)));
  }
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) {
    return absl::UnavailableError(absl::StrCat(where, "no body"));
  }
  return response.substr(body + 4);
}

absl::StatusOr<MetricSamples> ScrapeMetrics(int port, absl::Duration timeout) {
  absl::StatusOr<std::string> text = FetchMetricsText(port, timeout);
  if (!text.ok()) return text.status();
  return ParseMetricsText(*text);
}

}  // namespace shoal
