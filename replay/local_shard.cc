#include "replay/local_shard.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shoal {

absl::StatusOr<std::unique_ptr<LocalShard>> LocalShard::Start(
    ReplayServerOptions options, int port) {
  std::unique_ptr<LocalShard> shard(new LocalShard(std::move(options), port));
  if (absl::Status served = shard->Serve(); !served.ok()) return served;
  return shard;
}

std::string LocalShard::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

Table* LocalShard::table(absl::string_view name) {
  return server_ == nullptr ? nullptr : server_->FindTable(name);
}

absl::Status LocalShard::Serve() {
  absl::StatusOr<std::unique_ptr<ReplayServer>> server =
      ReplayServer::Create(options_);
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  service_ = std::make_unique<ReplayServiceImpl>(
      server_.get(), ReplayServiceOptions(), nullptr);
  ServerOptions grpc_options;
  grpc_options.address = absl::StrCat("127.0.0.1:", port_);
  absl::StatusOr<std::unique_ptr<GrpcServer>> grpc =
      GrpcServer::Start(grpc_options, {service_.get()});
  if (!grpc.ok()) {
    service_.reset();
    server_.reset();
    return grpc.status();
  }
  grpc_ = *std::move(grpc);
  port_ = grpc_->port();
  return absl::OkStatus();
}

void LocalShard::Stop() {
  if (server_ == nullptr) return;
  server_->Cancel();
  grpc_->Shutdown(absl::Now() + absl::Milliseconds(200));
  grpc_.reset();
  service_.reset();
  server_.reset();
}

absl::Status LocalShard::Restart() {
  Stop();
  return Serve();
}

}  // namespace shoal
