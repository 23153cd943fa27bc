// The operator's client subcommands of shoalctl: each talks to one running
// shoal server over gRPC, prints a human report (or one JSON object with
// `json`) on `out`, errors as one line on `err`, and returns the process
// exit code: 0 on success, 1 when the server answered with an error or
// could not be reached, 2 for bad arguments.
//
//   ClientFlags flags;
//   flags.timeout = absl::Seconds(5);
//   return InfoCommand(flags, "127.0.0.1:7000", std::cout, std::cerr);
//
// Thread-compatible: no state between calls.
#ifndef SHOAL_TOOLS_CLIENT_COMMANDS_H_
#define SHOAL_TOOLS_CLIENT_COMMANDS_H_

#include <ostream>
#include <string>

#include "absl/time/time.h"

namespace shoal {

// How every client subcommand connects (the TLS and token flags).
struct ClientFlags {
  // PEM CA bundle; set (or cert_file set) = TLS.
  std::string tls_ca;
  // Client certificate and key for mutual TLS; both or neither.
  std::string tls_cert;
  std::string tls_key;
  // File holding the bearer token; "" = none. Never a command-line value.
  std::string token_file;
  // Per-call deadline.
  absl::Duration timeout = absl::Seconds(10);
  // One JSON object on `out` instead of the human report.
  bool json = false;
};

// `shoalctl info --replay ADDR`: every table's size, bytes, inserts,
// samples, rates and rate-limiter state (ReplayService.Info).
int InfoCommand(const ClientFlags& flags, const std::string& replay,
                std::ostream& out, std::ostream& err);

// `shoalctl sample --replay ADDR --table T -n N`: N items of table T, each
// with its key, priority, times sampled and every column's dtype, shape
// and first values. Sampling is real: it counts against the table's rate
// limiter, and on a table with max_times_sampled it may remove items.
int SampleCommand(const ClientFlags& flags, const std::string& replay,
                  const std::string& table, int n, std::ostream& out,
                  std::ostream& err);

// `shoalctl checkpoint --replay ADDR`: asks the shard to write a
// checkpoint now and prints its path.
int CheckpointCommand(const ClientFlags& flags, const std::string& replay,
                      std::ostream& out, std::ostream& err);

// `shoalctl params --learner ADDR`: the published parameters' version,
// learner step, size in bytes, number of tensors and age.
int ParamsCommand(const ClientFlags& flags, const std::string& learner,
                  std::ostream& out, std::ostream& err);

// `shoalctl health ADDR`: the gRPC health service's overall status; exit 0
// only when SERVING (what container health checks call).
int HealthCommand(const ClientFlags& flags, const std::string& address,
                  std::ostream& out, std::ostream& err);

}  // namespace shoal

#endif  // SHOAL_TOOLS_CLIENT_COMMANDS_H_
