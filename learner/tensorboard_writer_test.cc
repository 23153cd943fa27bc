#include "learner/tensorboard_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "common/testing/test_util.h"
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace shoal {
namespace {

// What the test's own reader decodes from one Event.
struct DecodedEvent {
  double wall_time = 0.0;
  int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> values;
};

uint64_t ReadVarint(absl::string_view* in) {
  uint64_t v = 0;
  for (int shift = 0; !in->empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return v;
}

uint64_t ReadFixed(absl::string_view* in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>((*in)[i])) << (8 * i);
  }
  in->remove_prefix(bytes);
  return v;
}

absl::string_view ReadBytes(absl::string_view* in) {
  const uint64_t n = ReadVarint(in);
  absl::string_view out = in->substr(0, n);
  in->remove_prefix(n);
  return out;
}

DecodedEvent DecodeEvent(absl::string_view in) {
  DecodedEvent event;
  while (!in.empty()) {
    const uint64_t tag = ReadVarint(&in);
    switch (tag) {
      case (1 << 3) | 1: {
        const uint64_t bits = ReadFixed(&in, 8);
        std::memcpy(&event.wall_time, &bits, 8);
        break;
      }
      case (2 << 3) | 0:
        event.step = static_cast<int64_t>(ReadVarint(&in));
        break;
      case (3 << 3) | 2:
        event.file_version = std::string(ReadBytes(&in));
        break;
      case (5 << 3) | 2: {
        absl::string_view summary = ReadBytes(&in);
        while (!summary.empty()) {
          EXPECT_EQ(ReadVarint(&summary), (1u << 3) | 2);
          absl::string_view value = ReadBytes(&summary);
          std::pair<std::string, float> entry;
          while (!value.empty()) {
            const uint64_t vtag = ReadVarint(&value);
            if (vtag == ((1 << 3) | 2)) {
              entry.first = std::string(ReadBytes(&value));
            } else {
              EXPECT_EQ(vtag, (2u << 3) | 5);
              const auto bits = static_cast<uint32_t>(ReadFixed(&value, 4));
              std::memcpy(&entry.second, &bits, 4);
            }
          }
          event.values.push_back(entry);
        }
        break;
      }
      default:
        ADD_FAILURE() << "unexpected tag " << tag;
        return event;
    }
  }
  return event;
}

// Splits a TFRecord file into its records' data, checking every length and
// CRC on the way.
std::vector<std::string> ReadRecords(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string contents = buffer.str();
  absl::string_view in = contents;
  std::vector<std::string> records;
  while (!in.empty()) {
    EXPECT_GE(in.size(), 12u);
    const absl::string_view length_bytes = in.substr(0, 8);
    const uint64_t length = ReadFixed(&in, 8);
    EXPECT_EQ(ReadFixed(&in, 4), MaskedCrc32c(length_bytes));
    EXPECT_GE(in.size(), length + 4);
    const absl::string_view data = in.substr(0, length);
    in.remove_prefix(length);
    EXPECT_EQ(ReadFixed(&in, 4), MaskedCrc32c(data));
    records.emplace_back(data);
  }
  return records;
}

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  // 32 zero bytes (RFC 3720, B.4).
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8a9136aau);
}

TEST(TensorBoardWriterTest, WritesFileVersionThenScalarEvents) {
  absl::StatusOr<std::string> made = MakeTempDir("tb");
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string dir = *made;
  auto writer = TensorBoardWriter::Create(dir);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_TRUE(absl::StrContains((*writer)->path(), "events.out.tfevents."));
  const absl::Time t = absl::FromUnixMillis(1700000000500);
  ASSERT_TRUE((*writer)->WriteScalar("loss", /*step=*/7, 0.25f, t).ok());
  ASSERT_TRUE((*writer)
                  ->WriteScalars(/*step=*/300,
                                 {{"a/b", -1.5f}, {"updates_per_s", 1e4f}}, t)
                  .ok());
  ASSERT_TRUE((*writer)->Flush().ok());

  const std::vector<std::string> records = ReadRecords((*writer)->path());
  ASSERT_EQ(records.size(), 3u);
  const DecodedEvent first = DecodeEvent(records[0]);
  EXPECT_EQ(first.file_version, "brain.Event:2");
  EXPECT_GT(first.wall_time, 1.6e9);

  const DecodedEvent second = DecodeEvent(records[1]);
  EXPECT_EQ(second.step, 7);
  EXPECT_DOUBLE_EQ(second.wall_time, 1700000000.5);
  ASSERT_EQ(second.values.size(), 1u);
  EXPECT_EQ(second.values[0].first, "loss");
  EXPECT_FLOAT_EQ(second.values[0].second, 0.25f);

  const DecodedEvent third = DecodeEvent(records[2]);
  EXPECT_EQ(third.step, 300);
  ASSERT_EQ(third.values.size(), 2u);
  EXPECT_EQ(third.values[0].first, "a/b");
  EXPECT_FLOAT_EQ(third.values[0].second, -1.5f);
  EXPECT_EQ(third.values[1].first, "updates_per_s");
  EXPECT_FLOAT_EQ(third.values[1].second, 1e4f);
}

// The event files in `dir`.
std::vector<std::string> EventFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (absl::StrContains(entry.path().filename().string(),
                          "events.out.tfevents.")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A learner restarted twice within one second on one logdir: each run is a
// process of its own (a fork here) that opens a writer, writes a scalar and
// exits. Each run leaves a file of its own, named with its pid and count,
// and every record of both files has valid CRCs (ReadRecords checks them):
// nothing was appended to the other run's file.
TEST(TensorBoardWriterTest, ARestartWithinOneSecondStartsAFileOfItsOwn) {
  const std::string dir = MakeTempDir("tb").value();
  const absl::Time start = absl::Now();
  for (int run = 0; run < 2; ++run) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto writer = TensorBoardWriter::Create(dir);
      const bool ok = writer.ok() &&
                      (*writer)->WriteScalar("run", /*step=*/1, run).ok() &&
                      (*writer)->Flush().ok();
      _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  // In the same process, a second writer takes the next count.
  auto first = TensorBoardWriter::Create(dir);
  auto second = TensorBoardWriter::Create(dir);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE((*first)->path(), (*second)->path());
  // Usually all four share one second (the case that collided before); on
  // a loaded machine they may not, and the names must differ either way.
  if (absl::Now() - start >= absl::Seconds(1)) {
    std::printf("the runs took %s: not all within one second\n",
                absl::FormatDuration(absl::Now() - start).c_str());
  }
  const std::vector<std::string> files = EventFiles(dir);
  ASSERT_EQ(files.size(), 4u);
  for (const std::string& file : files) {
    const std::vector<std::string> records = ReadRecords(file);
    ASSERT_FALSE(records.empty()) << file;
    EXPECT_EQ(DecodeEvent(records[0]).file_version, "brain.Event:2") << file;
    EXPECT_LE(records.size(), 2u) << file << " was appended to";
  }
}

TEST(TensorBoardWriterTest, FailsNamingTheLogdirWhenItCannotBeCreated) {
  absl::StatusOr<std::string> made = MakeTempDir("tb");
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string dir = *made;
  const std::string file = dir + "/plain";
  std::ofstream(file) << "x";
  auto writer = TensorBoardWriter::Create(file + "/sub");
  ASSERT_FALSE(writer.ok());
  EXPECT_TRUE(absl::StrContains(writer.status().message(), file));
}

}  // namespace
}  // namespace shoal
