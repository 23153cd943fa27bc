#include "tools/metrics_scrape.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/gauge.h"

#include "common/metrics.h"

namespace shoal {
namespace {

TEST(ParseMetricsTextTest, ReadsSeriesWithAndWithoutLabels) {
  const MetricSamples m = ParseMetricsText(
      "# HELP shoal_x help text\n"
      "# TYPE shoal_x gauge\n"
      "shoal_x 3.5\n"
      "shoal_lag{stat=\"mean\"} 2\n"
      "shoal_lag{stat=\"max\",note=\"a b\"} 9 1700000000000\n"
      "garbage line\n"
      "shoal_nan NaN\n");
  EXPECT_DOUBLE_EQ(m.Get("shoal_x"), 3.5);
  EXPECT_DOUBLE_EQ(m.Get("shoal_lag{stat=\"mean\"}"), 2.0);
  EXPECT_DOUBLE_EQ(m.Get("shoal_lag{stat=\"max\",note=\"a b\"}"), 9.0);
  EXPECT_FALSE(m.Has("garbage"));
  EXPECT_TRUE(m.Has("shoal_nan"));
  EXPECT_DOUBLE_EQ(m.Get("absent", -1.0), -1.0);
}

TEST(ScrapeMetricsTest, ReadsARealMetricsServer) {
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  prometheus::BuildGauge()
      .Name("shoal_test_value")
      .Help("a test gauge")
      .Register(*(*server)->registry())
      .Add({})
      .Set(42);
  auto scraped = ScrapeMetrics((*server)->port(), absl::Seconds(5));
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  EXPECT_DOUBLE_EQ(scraped->Get("shoal_test_value"), 42.0);
}

TEST(ScrapeMetricsTest, FetchReturnsTheExpositionTextAsServed) {
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  prometheus::BuildGauge()
      .Name("shoal_test_value")
      .Help("a test gauge")
      .Register(*(*server)->registry())
      .Add({})
      .Set(7);
  auto text = FetchMetricsText((*server)->port(), absl::Seconds(5));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, ::testing::HasSubstr("# HELP shoal_test_value a test "
                                          "gauge\n# TYPE shoal_test_value "
                                          "gauge\nshoal_test_value 7\n"));
  EXPECT_THAT(*text, ::testing::Not(::testing::HasSubstr("HTTP/1.")));
}

TEST(ScrapeMetricsTest, NothingListeningIsUnavailable) {
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  server->reset();  // closes the port
  auto scraped = ScrapeMetrics(port, absl::Milliseconds(500));
  EXPECT_TRUE(absl::IsUnavailable(scraped.status())) << scraped.status();
}

}  // namespace
}  // namespace shoal
