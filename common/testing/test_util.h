// Helpers for tests that run real servers: temporary directories, files,
// throw-away TLS certificates (made with the `openssl` command) and a
// minimal gRPC health client. For tests only; nothing here is fast or
// hardened.
#ifndef SHOAL_COMMON_TESTING_TEST_UTIL_H_
#define SHOAL_COMMON_TESTING_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

#include "common/child_process.h"
#include <sys/types.h>

namespace shoal {

// Creates a fresh directory under $TEST_TMPDIR (else /tmp), named
// "<prefix>XXXXXX". The caller removes it when it cares to.
absl::StatusOr<std::string> MakeTempDir(absl::string_view prefix);

// The resident set of process `pid` in bytes (VmRSS of /proc/<pid>/status);
// -1 when it cannot be read.
int64_t ResidentBytes(pid_t pid);

// Writes `contents` to `path`, replacing it.
absl::Status WriteTestFile(const std::string& path, absl::string_view contents);

// The whole file at `path`; "" when it cannot be read (a log not yet
// written reads as empty).
std::string ReadTestFile(const std::string& path);

// Starts `argv` (argv[0] a binary's path) as a ChildProcess named after the
// binary, its stdout and stderr in `log_file`.
absl::StatusOr<std::unique_ptr<ChildProcess>> StartTestProcess(
    std::vector<std::string> argv, const std::string& log_file);

// PEM files made by MakeTestCertificates, all in one directory.
struct TestCertificates {
  std::string ca_cert;  // self-signed CA, "shoal test CA"
  std::string ca_key;
  std::string server_cert;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::string server_key;
  std::string client_cert;  // CN=shoal test client, clientAuth
  std::string client_key;
  std::string other_ca_cert;  // an unrelated CA that signed nothing here
  std::string other_ca_key;
};

// Makes a CA, a server and a client certificate (ECDSA P-256, valid for 2
// days) in `dir` by running `openssl`. About 50 ms. The error carries
// openssl's output.
absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir);

// Calls grpc.health.v1.Health/Check for `service` ("" = whole server) and
// returns the status name: "SERVING", "NOT_SERVING", "UNKNOWN" or
// "SERVICE_UNKNOWN"; RPC errors as they come.
absl::StatusOr<std::string> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view service,
    absl::Duration timeout = absl::Seconds(10));

}  // namespace shoal

#endif  // SHOAL_COMMON_TESTING_TEST_UTIL_H_
