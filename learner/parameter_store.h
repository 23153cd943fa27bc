// ParameterStore: the newest published network weights, ready to send.
//
// Publish() serialises a v1::Parameters once and cuts the bytes into
// v1::ParametersChunk messages of at most max_chunk_bytes each. The result
// is an immutable PublishedParameters held by shared_ptr; publishing swaps
// that pointer under a short lock, so readers (every GetParameters and
// WatchParameters stream) share the same chunk messages and keep an old
// version alive for as long as they are still sending it.
//
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<ParameterStore> store,
//                          ParameterStore::Create({}));
//   SHOAL_RETURN_IF_ERROR(store->Publish(params, /*learner_step=*/step));
//   std::shared_ptr<const PublishedParameters> newest = store->Latest();
//
// Listeners (one per watching stream) are called after every publish.
//
// Thread-safe. Lock order: listeners_mu_ before whatever a listener takes,
// before mu_.
#ifndef SHOAL_LEARNER_PARAMETER_STORE_H_
#define SHOAL_LEARNER_PARAMETER_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "shoal/v1/learner.pb.h"

namespace shoal {

// One published version, cut into chunks. Immutable once published; many
// streams read `chunks` at once.
struct PublishedParameters {
  int64_t version = 0;
  // Size of the serialised v1::Parameters (the sum of the chunks' data).
  int64_t total_bytes = 0;
  int64_t published_unix_ms = 0;
  int64_t learner_step = 0;
  // chunk_index 0 .. chunks.size() - 1, each with every header field set.
  // At least one chunk, even for an empty message.
  std::vector<v1::ParametersChunk> chunks;
};

struct ParameterStoreOptions {
  // Largest data field of one chunk. Default 1 MiB; >= 1.
  int64_t max_chunk_bytes = 1 << 20;
};

class ParameterStore {
 public:
  // Called after each publish, on the publishing thread, with listeners_mu_
  // held: it must be quick, must not block and must not call Subscribe or
  // Unsubscribe.
  using Listener = std::function<void()>;

  // INVALID_ARGUMENT naming the option when it is out of range.
  static absl::StatusOr<std::unique_ptr<ParameterStore>> Create(
      const ParameterStoreOptions& options);

  ParameterStore(const ParameterStore&) = delete;
  ParameterStore& operator=(const ParameterStore&) = delete;

  // Serialises `parameters` once, cuts it into chunks and makes it the
  // newest version; then calls every listener. INVALID_ARGUMENT when
  // parameters.version() is not greater than latest_version() (versions
  // are strictly increasing and never repeated) or the message is larger
  // than 2 GiB. O(size of parameters), mostly outside the lock.
  absl::Status Publish(const v1::Parameters& parameters, int64_t learner_step)
      ABSL_LOCKS_EXCLUDED(mu_, listeners_mu_);

  // The newest version; nullptr before the first publish. O(1).
  std::shared_ptr<const PublishedParameters> Latest() const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Its version number; 0 before the first publish.
  int64_t latest_version() const ABSL_LOCKS_EXCLUDED(mu_);

  // Serialisations done so far: one per successful Publish.
  int64_t serializations() const ABSL_LOCKS_EXCLUDED(mu_);

  // Adds `listener`; returns an id for Unsubscribe.
  int64_t Subscribe(Listener listener) ABSL_LOCKS_EXCLUDED(listeners_mu_);
  // Removes the listener. When this returns, the listener is not running
  // and is never called again, so its owner may be deleted.
  void Unsubscribe(int64_t id) ABSL_LOCKS_EXCLUDED(listeners_mu_);
  int num_listeners() const ABSL_LOCKS_EXCLUDED(listeners_mu_);

 private:
  explicit ParameterStore(const ParameterStoreOptions& options)
      : options_(options) {}

  // Constant after construction.
  const ParameterStoreOptions options_;

  // Held while listeners run (see Listener).
  mutable absl::Mutex listeners_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::flat_hash_map<int64_t, Listener> listeners_
      ABSL_GUARDED_BY(listeners_mu_);
  int64_t next_listener_id_ ABSL_GUARDED_BY(listeners_mu_) = 1;

  mutable absl::Mutex mu_;
  std::shared_ptr<const PublishedParameters> latest_ ABSL_GUARDED_BY(mu_);
  int64_t serializations_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoal

#endif  // SHOAL_LEARNER_PARAMETER_STORE_H_
