#include "learner/parameter_store.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shoal {
namespace {

absl::Status StaleVersion(int64_t version, int64_t latest) {
  return absl::InvalidArgumentError(
      absl::StrCat("version: must be greater than the latest published ",
                   latest, ", got ", version));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ParameterStore>> ParameterStore::Create(
    const ParameterStoreOptions& options) {
  if (options.max_chunk_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_chunk_bytes must be >= 1, got ", options.max_chunk_bytes));
  }
  return std::unique_ptr<ParameterStore>(new ParameterStore(options));
}

absl::Status ParameterStore::Publish(const v1::Parameters& parameters,
                                     int64_t learner_step) {
  const int64_t version = parameters.version();
  if (const int64_t latest = latest_version(); version <= latest) {
    return StaleVersion(version, latest);
  }
  const size_t size = parameters.ByteSizeLong();
  if (size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameters: ", size, " bytes, more than 2 GiB"));
  }
  std::string bytes;
  if (!parameters.SerializeToString(&bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameters: version ", version, " does not serialise"));
  }

  auto published = std::make_shared<PublishedParameters>();
  published->version = version;
  published->total_bytes = static_cast<int64_t>(bytes.size());
  published->published_unix_ms = absl::ToUnixMillis(absl::Now());
  published->learner_step = learner_step;
  const int64_t chunk = options_.max_chunk_bytes;
  const int64_t num_chunks =
      std::max<int64_t>(1, (published->total_bytes + chunk - 1) / chunk);
  published->chunks.resize(num_chunks);
  for (int64_t i = 0; i < num_chunks; ++i) {
    v1::ParametersChunk& c = published->chunks[i];
    c.set_version(version);
    c.set_chunk_index(static_cast<int32_t>(i));
    c.set_num_chunks(static_cast<int32_t>(num_chunks));
    c.set_total_bytes(published->total_bytes);
    c.set_published_unix_ms(published->published_unix_ms);
    c.set_learner_step(learner_step);
    const int64_t begin = i * chunk;
    const int64_t len = std::min(chunk, published->total_bytes - begin);
    if (len > 0) c.set_data(bytes.data() + begin, len);
  }

  {
    absl::MutexLock lock(&mu_);
    ++serializations_;
    const int64_t latest = latest_ == nullptr ? 0 : latest_->version;
    if (version <= latest) return StaleVersion(version, latest);
    latest_ = std::move(published);
  }
  absl::MutexLock lock(&listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener();
  return absl::OkStatus();
}

std::shared_ptr<const PublishedParameters> ParameterStore::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

int64_t ParameterStore::latest_version() const {
  absl::MutexLock lock(&mu_);
  return latest_ == nullptr ? 0 : latest_->version;
}

int64_t ParameterStore::serializations() const {
  absl::MutexLock lock(&mu_);
  return serializations_;
}

int64_t ParameterStore::Subscribe(Listener listener) {
  absl::MutexLock lock(&listeners_mu_);
  const int64_t id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void ParameterStore::Unsubscribe(int64_t id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

int ParameterStore::num_listeners() const {
  absl::MutexLock lock(&listeners_mu_);
  return static_cast<int>(listeners_.size());
}

}  // namespace shoal
