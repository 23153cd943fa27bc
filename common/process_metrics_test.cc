#include "common/process_metrics.h"

#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

// name -> value of every sample line; every name has HELP and TYPE lines.
std::map<std::string, double> Parse(const std::string& text) {
  std::map<std::string, double> samples;
  std::map<std::string, int> described;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# HELP ") ||
        absl::ConsumePrefix(&line, "# TYPE ")) {
      ++described[std::string(line.substr(0, line.find(' ')))];
      continue;
    }
    const std::vector<std::string> parts = absl::StrSplit(line, ' ');
    EXPECT_EQ(parts.size(), 2u) << line;
    double value = 0;
    EXPECT_TRUE(absl::SimpleAtod(parts.back(), &value)) << line;
    samples[parts[0]] = value;
    EXPECT_EQ(described[parts[0]], 2) << parts[0] << " lacks HELP or TYPE";
  }
  return samples;
}

TEST(ProcessMetricsTest, ExportsTheStandardProcessSeriesWithPlausibleValues) {
  const std::map<std::string, double> m = Parse(ProcessMetricsText());
  ASSERT_EQ(m.size(), 6u);
  EXPECT_GE(m.at("process_cpu_seconds_total"), 0.0);
  EXPECT_GT(m.at("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(m.at("process_virtual_memory_bytes"),
            m.at("process_resident_memory_bytes"));
  const double now = absl::ToUnixSeconds(absl::Now());
  // To the tick: a start time rounded to 6 digits would be off by an hour.
  EXPECT_LE(m.at("process_start_time_seconds"), now + 1);
  EXPECT_GT(m.at("process_start_time_seconds"), now - 600);
  EXPECT_GE(m.at("process_open_fds"), 3);
  EXPECT_GE(m.at("process_max_fds"), m.at("process_open_fds"));
}

// CPU time only grows.
TEST(ProcessMetricsTest, CpuSecondsGrowWithWork) {
  const double before =
      Parse(ProcessMetricsText()).at("process_cpu_seconds_total");
  volatile double sink = 0;
  const absl::Time until = absl::Now() + absl::Milliseconds(300);
  while (absl::Now() < until) {
    for (int i = 0; i < 100000; ++i) sink = sink + i * 0.5;
  }
  EXPECT_GT(Parse(ProcessMetricsText()).at("process_cpu_seconds_total"),
            before);
}

}  // namespace
}  // namespace shoal
