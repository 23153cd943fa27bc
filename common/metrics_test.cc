#include "common/metrics.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/metric_family.h"

#include "common/build_info.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace shoal {
namespace {

using ::testing::HasSubstr;

// GETs http://127.0.0.1:<port>/metrics over a real TCP connection and
// returns the whole response (status line, headers, body), or an error
// text.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "error: socket";
  timeval timeout{/*tv_sec=*/5, /*tv_usec=*/0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response = "error: connect";
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    response.clear();
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return response;
}

TEST(MetricsServerTest, ServesACounterWithItsValue) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> metrics =
      MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_GT((*metrics)->port(), 0);
  prometheus::Counter& inserts = prometheus::BuildCounter()
                                     .Name("shoal_test_inserts_total")
                                     .Help("Items inserted.")
                                     .Register(*(*metrics)->registry())
                                     .Add({{"table", "main"}});
  inserts.Increment(3);

  const std::string body = Scrape((*metrics)->port());
  EXPECT_THAT(body, ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(body, HasSubstr("# TYPE shoal_test_inserts_total counter"));
  EXPECT_THAT(body, HasSubstr("shoal_test_inserts_total{table=\"main\"} 3"));
  // Every process exports the standard process series too.
  EXPECT_THAT(body, HasSubstr("# TYPE process_cpu_seconds_total counter"));
  EXPECT_THAT(body, HasSubstr("\nprocess_resident_memory_bytes "));
  EXPECT_THAT(body, HasSubstr("\nprocess_open_fds "));
}

TEST(MetricsServerTest, ServesARegistryItWasGiven) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge()
      .Name("shoal_test_queue_depth")
      .Help("Queued items.")
      .Register(*registry)
      .Add({})
      .Set(7);
  absl::StatusOr<std::unique_ptr<MetricsServer>> metrics =
      MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ((*metrics)->registry(), registry);
  EXPECT_THAT(Scrape((*metrics)->port()),
              HasSubstr("shoal_test_queue_depth 7"));
}

TEST(MetricsServerTest, EveryScrapeCarriesBuildInfo) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> metrics =
      MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const BuildInfo& info = GetBuildInfo();
  EXPECT_THAT(info.version,
              ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  EXPECT_STRNE(info.git_commit, "");
  EXPECT_STRNE(info.torch, "");
  EXPECT_THAT(
      Scrape((*metrics)->port()),
      HasSubstr(absl::StrCat("\n# TYPE shoal_build_info gauge\n"
                             "shoal_build_info{version=\"",
                             info.version, "\",git_commit=\"", info.git_commit,
                             "\",torch=\"", info.torch, "\"} 1\n")));
}

// Reports a gauge read when collected.
class ReadAtScrape final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::ClientMetric metric;
    metric.gauge.value = static_cast<double>(++reads_);
    return {{"shoal_test_reads",
             "Times collected.",
             prometheus::MetricType::Gauge,
             {metric}}};
  }

 private:
  mutable std::atomic<int> reads_{0};
};

TEST(MetricsServerTest, ReadsRegisteredCollectablesAtEachScrapeWhileTheyLive) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> metrics =
      MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  auto collectable = std::make_shared<ReadAtScrape>();
  (*metrics)->RegisterCollectable(collectable);
  EXPECT_THAT(Scrape((*metrics)->port()), HasSubstr("\nshoal_test_reads 1\n"));
  EXPECT_THAT(Scrape((*metrics)->port()), HasSubstr("\nshoal_test_reads 2\n"));
  collectable.reset();
  EXPECT_THAT(Scrape((*metrics)->port()),
              ::testing::Not(HasSubstr("shoal_test_reads")));
}

TEST(MetricsServerTest, AddressInUseIsAnErrorNamingTheAddress) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> first =
      MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string address = absl::StrCat("127.0.0.1:", (*first)->port());
  absl::StatusOr<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Start(address);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(address));
}

}  // namespace
}  // namespace shoal
