// LocalShard: one replay shard in this process (ReplayServer +
// ReplayServiceImpl + GrpcServer) on a loopback port, for tests of clients
// that need shards they can stop and start cheaply. ShardProcess runs the
// real binary instead.
//
// Thread-compatible: one thread starts and stops it; the served shard is
// thread-safe as usual.
#ifndef SHOAL_REPLAY_LOCAL_SHARD_H_
#define SHOAL_REPLAY_LOCAL_SHARD_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "common/grpc_server.h"
#include "replay/replay_server.h"
#include "replay/replay_service.h"

namespace shoal {

class LocalShard {
 public:
  // Serves `options` on 127.0.0.1:`port` (0 = a free one).
  static absl::StatusOr<std::unique_ptr<LocalShard>> Start(
      ReplayServerOptions options, int port = 0);
  ~LocalShard() { Stop(); }

  LocalShard(const LocalShard&) = delete;
  LocalShard& operator=(const LocalShard&) = delete;

  int port() const { return port_; }
  std::string address() const;
  // The shard's state; nullptr while stopped.
  ReplayServer* server() { return server_.get(); }
  // Table `name` of the running shard, or nullptr.
  Table* table(absl::string_view name);

  // Cancels blocked calls and shuts the server down; nothing listens on
  // the port afterwards. Idempotent.
  void Stop();
  // Serves again on the same port, with fresh state (loaded from the
  // checkpoint directory when there is one).
  absl::Status Restart();

 private:
  LocalShard(ReplayServerOptions options, int port)
      : options_(std::move(options)), port_(port) {}
  absl::Status Serve();

  const ReplayServerOptions options_;
  int port_;
  std::unique_ptr<ReplayServer> server_;
  std::unique_ptr<ReplayServiceImpl> service_;
  std::unique_ptr<GrpcServer> grpc_;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_LOCAL_SHARD_H_
