#include "common/metrics.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

#include "common/build_info.h"
#include "common/process_metrics.h"
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace shoal {

void AdvanceCounterTo(prometheus::Counter& counter, double total) {
  const double by = total - counter.Value();
  if (by > 0) counter.Increment(by);
}
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const kBuckets = [] {
    auto* bounds = new prometheus::Histogram::BucketBoundaries;
    for (double bound = 1e-4; bound < 14.0; bound *= 2)
      bounds->push_back(bound);
    return bounds;
  }();
  return *kBuckets;
}

namespace {

constexpr int kPollMs = 200;
constexpr size_t kMaxRequestBytes = 8192;

absl::Status ListenError(const std::string& address, absl::string_view why) {
  return absl::UnavailableError(
      absl::StrCat("metrics server cannot listen on '", address, "': ", why));
}

void WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address,
    std::shared_ptr<prometheus::Registry> registry) {
  if (registry == nullptr) {
    registry = std::make_shared<prometheus::Registry>();
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return ListenError(address, "expected host:port");
  }
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                   port.c_str(), &hints, &found);
      rc != 0) {
    return ListenError(address, ::gai_strerror(rc));
  }
  int fd = -1;
  std::string why = "no usable address";
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return ListenError(address, why);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const int bound_port =
      bound.ss_family == AF_INET6
          ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
          : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(fd, std::move(registry), bound_port));
}

MetricsServer::MetricsServer(int listen_fd,
                             std::shared_ptr<prometheus::Registry> registry,
                             int port)
    : listen_fd_(listen_fd), registry_(std::move(registry)), port_(port) {
  thread_ = std::thread([this] { ServeLoop(); });
}

void MetricsServer::RegisterCollectable(
    std::weak_ptr<prometheus::Collectable> collectable) {
  absl::MutexLock lock(&mu_);
  collectables_.push_back(std::move(collectable));
}

std::vector<prometheus::MetricFamily> MetricsServer::Collect() {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  absl::MutexLock lock(&mu_);
  for (auto it = collectables_.begin(); it != collectables_.end();) {
    std::shared_ptr<prometheus::Collectable> collectable = it->lock();
    if (collectable == nullptr) {
      it = collectables_.erase(it);
      continue;
    }
    for (prometheus::MetricFamily& family : collectable->Collect()) {
      families.push_back(std::move(family));
    }
    ++it;
  }
  return families;
}

MetricsServer::~MetricsServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

void MetricsServer::ServeLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Answer(fd);
    ::close(fd);
  }
}

void MetricsServer::Answer(int fd) {
  // A stalled client cannot hold the server for more than this.
  const timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buffer[1024];
  while (request.size() < kMaxRequestBytes &&
         request.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  const bool metrics = absl::StartsWith(request, "GET /metrics ") ||
                       absl::StartsWith(request, "GET /metrics?");
  std::string body;
  std::string status = "404 Not Found";
  std::string type = "text/plain";
  if (metrics) {
    body = prometheus::TextSerializer().Serialize(Collect()) +
           ProcessMetricsText() + BuildInfoText();
    status = "200 OK";
    type = "text/plain; version=0.0.4";
  } else {
    body = "only /metrics is served here\n";
  }
  WriteAll(fd, absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                            "\r\nContent-Length: ", body.size(),
                            "\r\nConnection: close\r\n\r\n", body));
}

}  // namespace shoal
