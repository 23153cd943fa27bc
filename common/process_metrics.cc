#include "common/process_metrics.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

#include <sys/resource.h>
#include <unistd.h>

namespace shoal {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Appends one series with its HELP and TYPE lines.
void Append(const char* name, const char* type, const char* help, double value,
            std::string* out) {
  // %.17g: StrCat's 6 digits would round a start time by over an hour.
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n", name, " ", absl::StrFormat("%.17g", value), "\n");
}

// Seconds since the Unix epoch at which the system booted (/proc/stat).
bool BootTime(double* seconds) {
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/stat"), '\n')) {
    int64_t btime = 0;
    if (absl::ConsumePrefix(&line, "btime ") &&
        absl::SimpleAtoi(line, &btime)) {
      *seconds = static_cast<double>(btime);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string ProcessMetricsText() {
  std::string out;
  // /proc/self/stat: the fields after the ")" that ends the command name
  // start at field 3 (state); utime is 14, stime 15, starttime 22, vsize
  // 23, rss 24 (proc(5)).
  const std::string stat = ReadFile("/proc/self/stat");
  const size_t close = stat.rfind(')');
  const std::vector<absl::string_view> fields =
      close == std::string::npos
          ? std::vector<absl::string_view>()
          : absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ');
  auto field = [&](int number, double* value) {
    const size_t index = static_cast<size_t>(number - 3);
    return index < fields.size() && absl::SimpleAtod(fields[index], value);
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0, boot = 0;
  if (field(14, &utime) && field(15, &stime)) {
    Append("process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.",
           (utime + stime) / ticks, &out);
  }
  if (field(24, &rss)) {
    Append("process_resident_memory_bytes", "gauge",
           "Resident memory size in bytes.", rss * page, &out);
  }
  if (field(23, &vsize)) {
    Append("process_virtual_memory_bytes", "gauge",
           "Virtual memory size in bytes.", vsize, &out);
  }
  if (field(22, &start) && BootTime(&boot)) {
    Append("process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.",
           boot + start / ticks, &out);
  }
  std::error_code error;
  int64_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++fds;
  }
  if (!error) {
    Append("process_open_fds", "gauge", "Number of open file descriptors.",
           static_cast<double>(fds), &out);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    Append("process_max_fds", "gauge",
           "Maximum number of open file descriptors.",
           static_cast<double>(limit.rlim_cur), &out);
  }
  return out;
}

}  // namespace shoal
