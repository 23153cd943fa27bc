#include "common/testing/test_util.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"

#include "common/grpc_status.h"
#include "common/status_macros.h"
#include <stdlib.h>

namespace shoal {
namespace {

constexpr absl::string_view kOpensslConfig = R"(
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

constexpr absl::string_view kNewKey =
    "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

absl::Status Run(const std::string& dir, const std::string& command) {
  const std::string log = dir + "/openssl.log";
  const std::string line =
      absl::StrCat("cd '", dir, "' && ", command, " >'", log, "' 2>&1");
  if (std::system(line.c_str()) == 0) return absl::OkStatus();
  std::ifstream in(log);
  std::ostringstream output;
  output << in.rdbuf();
  return absl::InternalError(
      absl::StrCat("`", command, "` failed: ", output.str()));
}

// Makes <name>.key and <name>.pem signed by `ca` with extensions `ext`.
absl::Status MakeSignedCertificate(const std::string& dir,
                                   absl::string_view name,
                                   absl::string_view subject,
                                   absl::string_view ext) {
  SHOAL_RETURN_IF_ERROR(
      Run(dir, absl::StrCat("openssl req -new -config openssl.cnf ", kNewKey,
                            " -keyout ", name, ".key -out ", name,
                            ".csr -subj '", subject, "'")));
  return Run(dir, absl::StrCat("openssl x509 -req -in ", name,
                               ".csr -CA ca.pem -CAkey ca.key -set_serial ",
                               name == "server" ? 2 : 3,
                               " -days 2 -extfile openssl.cnf -extensions ",
                               ext, " -out ", name, ".pem"));
}

absl::Status MakeSelfSignedCa(const std::string& dir, absl::string_view name,
                              absl::string_view subject) {
  return Run(dir, absl::StrCat("openssl req -x509 -config openssl.cnf ",
                               "-extensions ca_ext ", kNewKey, " -keyout ",
                               name, ".key -out ", name, ".pem -days 2 -subj '",
                               subject, "'"));
}

}  // namespace

absl::StatusOr<std::string> MakeTempDir(absl::string_view prefix) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(
      root != nullptr && *root != '\0' ? root : "/tmp", "/", prefix, "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    const int error = errno;
    return absl::InternalError(
        absl::StrCat("mkdtemp('", pattern, "'): ", std::strerror(error)));
  }
  return pattern;
}

int64_t ResidentBytes(pid_t pid) {
  const std::string status =
      ReadTestFile(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    int64_t kib = 0;
    if (absl::ConsumeSuffix(&line, " kB") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) {
      return kib << 10;
    }
  }
  return -1;
}

absl::Status WriteTestFile(const std::string& path,
                           absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) {
    const int error = errno;
    return absl::InternalError(
        absl::StrCat("cannot write '", path, "': ", std::strerror(error)));
  }
  return absl::OkStatus();
}

std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::unique_ptr<ChildProcess>> StartTestProcess(
    std::vector<std::string> argv, const std::string& log_file) {
  ChildProcessOptions options;
  if (!argv.empty()) options.name = std::filesystem::path(argv[0]).filename();
  options.argv = std::move(argv);
  options.log_file = log_file;
  return ChildProcess::Start(std::move(options));
}

absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir) {
  SHOAL_RETURN_IF_ERROR(WriteTestFile(dir + "/openssl.cnf", kOpensslConfig));
  SHOAL_RETURN_IF_ERROR(MakeSelfSignedCa(dir, "ca", "/CN=shoal test CA"));
  SHOAL_RETURN_IF_ERROR(
      MakeSelfSignedCa(dir, "other_ca", "/CN=shoal other test CA"));
  SHOAL_RETURN_IF_ERROR(
      MakeSignedCertificate(dir, "server", "/CN=localhost", "server_ext"));
  SHOAL_RETURN_IF_ERROR(MakeSignedCertificate(
      dir, "client", "/CN=shoal test client", "client_ext"));
  TestCertificates certs;
  certs.ca_cert = dir + "/ca.pem";
  certs.ca_key = dir + "/ca.key";
  certs.server_cert = dir + "/server.pem";
  certs.server_key = dir + "/server.key";
  certs.client_cert = dir + "/client.pem";
  certs.client_key = dir + "/client.key";
  certs.other_ca_cert = dir + "/other_ca.pem";
  certs.other_ca_key = dir + "/other_ca.key";
  return certs;
}

absl::StatusOr<std::string> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view service,
    absl::Duration timeout) {
  // HealthCheckRequest { string service = 1; }, hand-encoded (the health
  // .proto is not installed); services here have short names.
  if (service.size() > 127) {
    return absl::InvalidArgumentError("service name longer than 127 bytes");
  }
  std::string request;
  if (!service.empty()) {
    request = absl::StrCat(
        "\x0a", std::string(1, static_cast<char>(service.size())), service);
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::GenericStub stub(channel);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request_buffer, &response_buffer,
                 [&done](grpc::Status status) { done.set_value(status); });
  SHOAL_RETURN_IF_ERROR(FromGrpcStatus(done.get_future().get()));
  // HealthCheckResponse { ServingStatus status = 1; }: 08 <status>, or
  // nothing for status 0 (UNKNOWN).
  std::vector<grpc::Slice> slices;
  SHOAL_RETURN_IF_ERROR(FromGrpcStatus(response_buffer.Dump(&slices)));
  std::string response;
  for (const grpc::Slice& s : slices) {
    response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  int status = 0;
  if (response.size() == 2 && response[0] == '\x08') {
    status = response[1];
  } else if (!response.empty()) {
    return absl::DataLossError("unexpected HealthCheckResponse encoding");
  }
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
  }
  return absl::DataLossError(absl::StrCat("unknown health status ", status));
}

}  // namespace shoal
