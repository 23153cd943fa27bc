// shoalctl's client subcommands: connect (client_rpc.h), make one call,
// print its report (client_report.h) and map the outcome to an exit code.
#include "tools/client_commands.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "grpcpp/channel.h"

#include "tools/client_report.h"
#include "tools/client_rpc.h"

namespace shoal {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadArguments = 2;

// One line on `err`: "shoalctl <command>: <CODE>: <message>".
void PrintError(absl::string_view command, const absl::Status& status,
                std::ostream& err) {
  const std::string message = absl::StrReplaceAll(
      status.message(), {{"\r\n", " "}, {"\n", " "}, {"\r", " "}});
  err << "shoalctl " << command << ": "
      << absl::StatusCodeToString(status.code()) << ": " << message << "\n";
}

// Reports `status` of a call to the server and returns the exit code.
int Failed(absl::string_view command, const absl::Status& status,
           std::ostream& err) {
  PrintError(command, status, err);
  return kExitFailed;
}

// Reports a problem with the command's own arguments.
int BadArguments(absl::string_view command, const absl::Status& status,
                 std::ostream& err) {
  PrintError(command, status, err);
  return kExitBadArguments;
}

// Checks the address and the flags and makes the channel; nullptr (after
// printing the error) when they are unusable.
std::shared_ptr<grpc::Channel> Connect(absl::string_view command,
                                       const ClientFlags& flags,
                                       const std::string& address,
                                       std::ostream& err) {
  absl::Status problem;
  if (address.empty()) {
    problem = absl::InvalidArgumentError("the server address is empty");
  } else if (flags.timeout <= absl::ZeroDuration()) {
    problem = absl::InvalidArgumentError(absl::StrCat(
        "the timeout must be > 0, got ", absl::FormatDuration(flags.timeout)));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      problem.ok() ? ConnectForCommand(flags, address) : problem;
  if (!channel.ok()) {
    BadArguments(command, channel.status(), err);
    return nullptr;
  }
  return *std::move(channel);
}

// `status` of an Info call for an unknown table, with the names of the
// tables the shard has (for typos); other statuses unchanged.
absl::Status WithTableNames(const std::shared_ptr<grpc::Channel>& channel,
                            const ClientFlags& flags,
                            const absl::Status& status) {
  if (!absl::IsNotFound(status)) return status;
  absl::StatusOr<v1::InfoResponse> all =
      CallInfo(channel, /*table=*/"", flags.timeout);
  if (!all.ok()) return status;
  std::vector<std::string> names;
  for (const v1::TableInfo& table : all->tables()) {
    names.push_back(table.name());
  }
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (tables: ",
                                   absl::StrJoin(names, ", "), ")"));
}

// One line of JSON. Any string that is not UTF-8 gets U+FFFD for its bad
// bytes instead of making dump() throw.
void PrintJson(const Json& json, std::ostream& out) {
  out << json.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                   Json::error_handler_t::replace)
      << "\n";
}

}  // namespace

int InfoCommand(const ClientFlags& flags, const std::string& replay,
                std::ostream& out, std::ostream& err) {
  constexpr char kCommand[] = "info";
  std::shared_ptr<grpc::Channel> channel =
      Connect(kCommand, flags, replay, err);
  if (channel == nullptr) return kExitBadArguments;
  absl::StatusOr<v1::InfoResponse> info =
      CallInfo(channel, /*table=*/"", flags.timeout);
  if (!info.ok()) return Failed(kCommand, info.status(), err);
  if (flags.json) {
    PrintJson(InfoJson(replay, *info), out);
  } else {
    PrintInfo(replay, *info, out);
  }
  return kExitOk;
}

int SampleCommand(const ClientFlags& flags, const std::string& replay,
                  const std::string& table, int n, std::ostream& out,
                  std::ostream& err) {
  constexpr char kCommand[] = "sample";
  if (table.empty() || n < 1) {
    return BadArguments(
        kCommand,
        absl::InvalidArgumentError(absl::StrCat(
            "needs a table and n >= 1, got table '", table, "' and n ", n)),
        err);
  }
  std::shared_ptr<grpc::Channel> channel =
      Connect(kCommand, flags, replay, err);
  if (channel == nullptr) return kExitBadArguments;
  // Info first: the column names, and an unknown table is refused before
  // anything is sampled.
  absl::StatusOr<v1::InfoResponse> info =
      CallInfo(channel, table, flags.timeout);
  if (!info.ok()) {
    return Failed(kCommand, WithTableNames(channel, flags, info.status()), err);
  }
  if (info->tables_size() != 1) {
    return Failed(kCommand,
                  absl::DataLossError(
                      absl::StrCat("Info of table '", table, "' answered ",
                                   info->tables_size(), " tables")),
                  err);
  }
  absl::StatusOr<std::vector<v1::SampledItem>> items =
      CallSample(channel, table, n, flags.timeout);
  if (!items.ok()) return Failed(kCommand, items.status(), err);
  if (flags.json) {
    PrintJson(SampleJson(replay, info->tables(0), *items), out);
  } else {
    PrintSample(replay, info->tables(0), *items, out);
  }
  return kExitOk;
}

int CheckpointCommand(const ClientFlags& flags, const std::string& replay,
                      std::ostream& out, std::ostream& err) {
  constexpr char kCommand[] = "checkpoint";
  std::shared_ptr<grpc::Channel> channel =
      Connect(kCommand, flags, replay, err);
  if (channel == nullptr) return kExitBadArguments;
  absl::StatusOr<v1::CheckpointResponse> checkpoint =
      CallCheckpoint(channel, flags.timeout);
  if (!checkpoint.ok()) return Failed(kCommand, checkpoint.status(), err);
  if (flags.json) {
    PrintJson(CheckpointJson(replay, *checkpoint), out);
  } else {
    PrintCheckpoint(replay, *checkpoint, out);
  }
  return kExitOk;
}

int ParamsCommand(const ClientFlags& flags, const std::string& learner,
                  std::ostream& out, std::ostream& err) {
  constexpr char kCommand[] = "params";
  std::shared_ptr<grpc::Channel> channel =
      Connect(kCommand, flags, learner, err);
  if (channel == nullptr) return kExitBadArguments;
  absl::StatusOr<AssembledParameters> params =
      CallGetParameters(channel, flags.timeout);
  if (!params.ok()) return Failed(kCommand, params.status(), err);
  const absl::Time now = absl::Now();
  if (flags.json) {
    PrintJson(ParamsJson(learner, *params, now), out);
  } else {
    PrintParams(learner, *params, now, out);
  }
  return kExitOk;
}

int HealthCommand(const ClientFlags& flags, const std::string& address,
                  std::ostream& out, std::ostream& err) {
  constexpr char kCommand[] = "health";
  std::shared_ptr<grpc::Channel> channel =
      Connect(kCommand, flags, address, err);
  if (channel == nullptr) return kExitBadArguments;
  absl::StatusOr<std::string> status = CallHealthCheck(channel, flags.timeout);
  if (!status.ok()) return Failed(kCommand, status.status(), err);
  if (flags.json) {
    PrintJson(Json{{"address", address}, {"status", *status}}, out);
  } else {
    out << *status << "\n";
  }
  return *status == "SERVING" ? kExitOk : kExitFailed;
}

}  // namespace shoal
