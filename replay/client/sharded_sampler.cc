#include "replay/client/sharded_sampler.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"

#include "common/grpc_status.h"
#include "replay/client/shard_addresses.h"

namespace shoal {
namespace {

// Sleep between weight refreshes while no shard can serve.
constexpr absl::Duration kIdlePoll = absl::Milliseconds(20);
// Longest wait for one round of Info calls.
constexpr absl::Duration kInfoTimeout = absl::Seconds(2);

absl::Time Earlier(absl::Time a, absl::Duration from_now) {
  return std::min(a, absl::Now() + from_now);
}

}  // namespace

// One SampleStream to one shard. Keeps a read pending from start to end and
// a hold until the sampler detaches it, so the sampler may StartWrite from
// any thread while attached. Deletes itself in OnDone; its TrackedContext
// then releases the sampler's CallTracker.
class ShardedSampler::SampleCall final
    : public grpc::ClientBidiReactor<v1::SampleRequest, v1::SampleResponse> {
 public:
  SampleCall(ShardedSampler* sampler, int shard, CallTracker::Handle handle)
      : sampler_(sampler), shard_(shard), context_(std::move(handle)) {}

  void Begin(v1::ReplayService::Stub* stub) {
    stub->async()->SampleStream(context_.get(), this);
    AddHold();
    StartRead(&response_);
    StartCall();
  }
  int shard() const { return shard_; }
  grpc::ClientContext* context() { return context_.get(); }
  // Written by the sampler under its mutex while no write is in flight.
  v1::SampleRequest* request() { return &request_; }

  void OnReadDone(bool ok) override {
    if (!ok) {
      sampler_->OnBroken(this);
      return;
    }
    sampler_->OnResponse(this, &response_);
    StartRead(&response_);
  }
  void OnWriteDone(bool ok) override { sampler_->OnWriteDone(this, ok); }
  void OnDone(const grpc::Status& status) override {
    sampler_->OnCallDone(this, status);
    delete this;  // the sampler may go once context_ has (stream_client.h)
  }

 private:
  ShardedSampler* const sampler_;
  const int shard_;
  TrackedContext context_;
  v1::SampleRequest request_;
  v1::SampleResponse response_;
};

absl::StatusOr<std::unique_ptr<ShardedSampler>> ShardedSampler::Create(
    ShardedSamplerOptions options) {
  if (options.table.empty()) {
    return absl::InvalidArgumentError("ShardedSampler: table is required");
  }
  if (options.info_max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("info_max_age must be >= 0, got ",
                     absl::FormatDuration(options.info_max_age)));
  }
  if (absl::Status valid = Backoff::Validate(options.backoff); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<ShardAddresses> shards =
      ResolveShardAddresses(options.addresses);
  if (!shards.ok()) return shards.status();
  const absl::Time connect_deadline = absl::Now() + options.connect_timeout;
  std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs;
  for (const std::string& address : shards->addresses) {
    ChannelOptions channel_options = options.channel;
    channel_options.target = address;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        MakeChannel(channel_options);
    if (!channel.ok()) return channel.status();
    stubs.push_back(v1::ReplayService::NewStub(*channel));
  }
  std::vector<std::string> addresses = std::move(shards->addresses);
  if (shards->resolved) {         // order the resolved addresses by shard_index
    std::map<int, int> by_index;  // shard_index -> position
    for (int i = 0; i < static_cast<int>(stubs.size()); ++i) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(connect_deadline));
      v1::InfoResponse info;
      grpc::Status status = stubs[i]->Info(&context, {}, &info);
      if (!status.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "replay shard ", addresses[i], " (resolved from '",
            options.addresses, "') did not answer: ", status.error_message()));
      }
      by_index[info.shard_index()] = i;
    }
    std::vector<std::string> sorted_addresses;
    std::vector<std::unique_ptr<v1::ReplayService::Stub>> sorted_stubs;
    for (const auto& [index, position] : by_index) {
      if (index != static_cast<int>(sorted_addresses.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("replay shards resolved from '", options.addresses,
                         "' do not have shard indices 0..", stubs.size() - 1,
                         " (missing ", sorted_addresses.size(), ")"));
      }
      sorted_addresses.push_back(addresses[position]);
      sorted_stubs.push_back(std::move(stubs[position]));
    }
    addresses = std::move(sorted_addresses);
    stubs = std::move(sorted_stubs);
  }
  std::unique_ptr<ShardedSampler> sampler(new ShardedSampler(
      std::move(options), std::move(addresses), std::move(stubs)));
  if (absl::Status checked = sampler->RefreshShards(connect_deadline, true);
      !checked.ok()) {
    return checked;
  }
  return sampler;
}

ShardedSampler::ShardedSampler(
    ShardedSamplerOptions options, std::vector<std::string> addresses,
    std::vector<std::unique_ptr<v1::ReplayService::Stub>> stubs)
    : options_(std::move(options)),
      addresses_(std::move(addresses)),
      stubs_(std::move(stubs)) {
  {
    absl::MutexLock lock(&batch_mu_);
    rng_.seed(options_.seed != 0 ? options_.seed : std::random_device()());
  }
  absl::MutexLock lock(&mu_);
  shards_.resize(addresses_.size());
  for (size_t i = 0; i < shards_.size(); ++i) {
    shards_[i].schedule = std::make_unique<ReconnectSchedule>(
        options_.backoff, StableHash(options_.seed + i));
  }
  stats_.items_per_shard.assign(addresses_.size(), 0);
  stats_.shard_up.assign(addresses_.size(), false);
}

ShardedSampler::~ShardedSampler() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    for (ShardState& shard : shards_) {
      if (shard.call != nullptr) shard.call->context()->TryCancel();
    }
  }
  calls_.WaitUntilNone();
}

ShardedSamplerStats ShardedSampler::stats() const {
  absl::MutexLock lock(&mu_);
  ShardedSamplerStats stats = stats_;
  for (size_t i = 0; i < shards_.size(); ++i) {
    stats.items_per_shard[i] = shards_[i].items;
    stats.shard_up[i] = shards_[i].up;
  }
  return stats;
}

absl::Status ShardedSampler::RefreshShards(absl::Time deadline, bool force) {
  struct InfoCall {
    int shard;
    grpc::ClientContext context;
    v1::InfoRequest request;
    v1::InfoResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<InfoCall>> calls;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    for (int i = 0; i < num_shards(); ++i) {
      const ShardState& shard = shards_[i];
      const bool due =
          shard.up ? force || now - shard.info_time >= options_.info_max_age
                   : shard.schedule->Due(now);
      if (!due) continue;
      auto call = std::make_unique<InfoCall>();
      call->shard = i;
      call->request.set_table(options_.table);
      call->context.set_deadline(absl::ToChronoTime(std::max(
          Earlier(deadline, kInfoTimeout), now + absl::Milliseconds(50))));
      calls.push_back(std::move(call));
    }
  }
  if (calls.empty()) return absl::OkStatus();
  absl::Mutex done_mu;
  int pending = static_cast<int>(calls.size());
  for (auto& call : calls) {
    InfoCall* c = call.get();
    stubs_[c->shard]->async()->Info(
        &c->context, &c->request, &c->response,
        [c, &done_mu, &pending](grpc::Status status) {
          absl::MutexLock lock(&done_mu);
          c->status = std::move(status);
          --pending;
        });
  }
  done_mu.LockWhen(absl::Condition(
      +[](int* left) { return *left == 0; }, &pending));
  done_mu.Unlock();
  absl::Status first_error;
  absl::MutexLock lock(&mu_);
  for (const auto& call : calls) {
    absl::Status applied =
        ApplyInfoLocked(call->shard, call->status, call->response);
    if (first_error.ok()) first_error = applied;
  }
  return first_error;
}

absl::Status ShardedSampler::ApplyInfoLocked(int i, const grpc::Status& status,
                                             const v1::InfoResponse& info) {
  ShardState& shard = shards_[i];
  if (!status.ok()) {
    shard.status = FromGrpcStatus(status);
    MarkDownLocked(i);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {  // no table
      return absl::NotFoundError(absl::StrCat("replay shard ", i, " (",
                                              addresses_[i],
                                              "): ", status.error_message()));
    }
    return absl::OkStatus();
  }
  if (info.shard_index() != i) {
    MarkDownLocked(i);
    return absl::InvalidArgumentError(absl::StrCat(
        "replay address list: position ", i, " (", addresses_[i],
        ") is served by shard_index ", info.shard_index(),
        "; list the shards in shard-index order (position i = shard i)"));
  }
  const v1::TableInfo* table = nullptr;
  for (const v1::TableInfo& t : info.tables()) {
    if (t.name() == options_.table) table = &t;
  }
  if (table == nullptr) {
    MarkDownLocked(i);
    return absl::NotFoundError(absl::StrCat("replay shard ", i, " (",
                                            addresses_[i], ") has no table '",
                                            options_.table, "'"));
  }
  const bool prioritized = table->sampler() == "prioritized";
  const bool can_sample =
      table->size() > 0 &&
      table->size() >= table->rate_limiter().min_size_to_sample();
  shard.weight = !can_sample   ? 0.0
                 : prioritized ? table->total_priority()
                               : static_cast<double>(table->size());
  if (!shard.up && shard.ever_up) ++stats_.reconnects;
  shard.up = true;
  shard.ever_up = true;
  shard.info_time = absl::Now();
  shard.status = absl::OkStatus();
  shard.schedule->Progressed();
  return absl::OkStatus();
}

void ShardedSampler::MarkDownLocked(int i) {
  ShardState& shard = shards_[i];
  const absl::Time now = absl::Now();
  if (shard.up || shard.schedule->Due(now)) {
    shard.schedule->Ended(now, absl::OkStatus());
  }
  shard.up = false;
  shard.weight = 0.0;
  if (shard.call != nullptr) shard.call->context()->TryCancel();
}

void ShardedSampler::EnsureCallLocked(int i) {
  ShardState& shard = shards_[i];
  if (shard.call != nullptr) return;
  auto* call = new SampleCall(this, i, calls_.Start());
  held_calls_.insert(call);
  shard.call = call;
  shard.writing = false;
  shard.queued = false;
  // Reactions never run inline in Start* (can_inline is false for client
  // streams), so this is safe under mu_.
  call->Begin(stubs_[i].get());
}

void ShardedSampler::DetachLocked(SampleCall* call) {
  if (held_calls_.erase(call) > 0) call->RemoveHold();
}

absl::StatusOr<std::vector<v1::SampledItem>> ShardedSampler::Sample(
    int batch_size, absl::Time deadline) {
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", batch_size));
  }
  absl::MutexLock batch_lock(&batch_mu_);
  std::vector<v1::SampledItem> out;
  out.reserve(batch_size);
  int remaining = batch_size;
  bool force = false;
  std::string last_error;
  while (true) {
    if (absl::Status refreshed = RefreshShards(deadline, force);
        !refreshed.ok()) {
      return refreshed;
    }
    force = false;
    std::vector<double> weights(num_shards(), 0.0);
    double total = 0.0;
    bool any_up = false;
    {
      absl::MutexLock lock(&mu_);
      for (int i = 0; i < num_shards(); ++i) {
        if (shards_[i].up) weights[i] = shards_[i].weight;
        any_up = any_up || shards_[i].up;
        if (!shards_[i].status.ok()) {
          last_error = absl::StrCat("shard ", i, " (", addresses_[i],
                                    "): ", shards_[i].status.ToString());
        }
        total += weights[i];
      }
    }
    if (total > 0.0) {
      // The multinomial split of what is still owed.
      std::vector<int> counts(num_shards(), 0);
      std::discrete_distribution<int> pick(weights.begin(), weights.end());
      for (int k = 0; k < remaining; ++k) ++counts[pick(rng_)];
      absl::MutexLock lock(&mu_);
      const int64_t timeout_ms = std::max<int64_t>(
          1, absl::ToInt64Milliseconds(deadline - absl::Now()));
      for (int i = 0; i < num_shards(); ++i) {
        ShardState& shard = shards_[i];
        if (counts[i] == 0) continue;
        EnsureCallLocked(i);
        shard.request_id = next_request_id_++;
        shard.wanted = counts[i];
        shard.done = false;
        shard.status = absl::OkStatus();
        shard.got.clear();
        v1::SampleRequest* request = shard.call->request();
        request->set_table(options_.table);
        request->set_num_samples(counts[i]);
        request->set_timeout_ms(timeout_ms);
        request->set_max_response_bytes(options_.max_response_bytes);
        request->set_request_id(shard.request_id);
        if (shard.writing) {
          shard.queued = true;
        } else {
          shard.writing = true;
          shard.call->StartWrite(request);
        }
      }
      auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        for (int i = 0; i < num_shards(); ++i) {
          if (counts[i] > 0 && !shards_[i].done) return false;
        }
        return true;
      };
      while (!all_done()) {
        if (changed_.WaitWithDeadline(&mu_, deadline)) break;
      }
      for (int i = 0; i < num_shards(); ++i) {
        ShardState& shard = shards_[i];
        if (counts[i] == 0) continue;
        if (!shard.done) {  // deadline: abandon the stream, answers and all
          shard.done = true;
          if (shard.call != nullptr) shard.call->context()->TryCancel();
        }
        if (!shard.status.ok()) {
          last_error = absl::StrCat("shard ", i, " (", addresses_[i],
                                    "): ", shard.status.ToString());
        }
        const double scale = weights[i] / total;
        for (v1::SampledItem& item : shard.got) {
          if (remaining == 0) break;
          item.set_probability(item.probability() * scale);
          out.push_back(std::move(item));
          --remaining;
          ++shard.items;
        }
        shard.got.clear();
      }
      if (remaining == 0) {
        ++stats_.batches;
        return out;
      }
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      if (!any_up) {
        return absl::UnavailableError(absl::StrCat(
            "all ", num_shards(), " replay shards are down; ", last_error));
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "sampled ", batch_size - remaining, " of ", batch_size,
          " items from table '", options_.table, "' before the deadline",
          last_error.empty() ? "" : "; last error: ", last_error));
    }
    if (total <= 0.0) {
      absl::SleepFor(std::min(kIdlePoll, deadline - now));
      force = true;
    }
  }
}

absl::Status ShardedSampler::UpdatePriorities(
    absl::Span<const uint64_t> keys, absl::Span<const double> priorities,
    absl::Time deadline) {
  if (keys.size() != priorities.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("UpdatePriorities: ", keys.size(), " keys but ",
                     priorities.size(), " priorities"));
  }
  std::vector<v1::UpdatePrioritiesRequest> requests(num_shards());
  for (size_t k = 0; k < keys.size(); ++k) {
    const int shard = ShardOfKey(keys[k]);
    if (shard >= num_shards()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "UpdatePriorities: keys[", k, "] = ", keys[k], " belongs to shard ",
          shard, " but there are only ", num_shards(), " shards"));
    }
    requests[shard].add_keys(keys[k]);
    requests[shard].add_priorities(priorities[k]);
  }
  absl::Status first_error;
  for (int i = 0; i < num_shards(); ++i) {
    if (requests[i].keys_size() == 0) continue;
    requests[i].set_table(options_.table);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    v1::UpdatePrioritiesResponse response;
    grpc::Status status =
        stubs_[i]->UpdatePriorities(&context, requests[i], &response);
    if (!status.ok() && first_error.ok()) {
      first_error = absl::Status(
          FromGrpcStatus(status).code(),
          absl::StrCat("UpdatePriorities on shard ", i, " (", addresses_[i],
                       "): ", status.error_message()));
    }
  }
  return first_error;
}

void ShardedSampler::OnResponse(SampleCall* call,
                                v1::SampleResponse* response) {
  absl::MutexLock lock(&mu_);
  ShardState& shard = shards_[call->shard()];
  if (shard.call != call || shard.done ||
      response->request_id() != shard.request_id) {
    return;  // an abandoned request's answer
  }
  for (v1::SampledItem& item : *response->mutable_items()) {
    shard.got.push_back(std::move(item));
  }
  if (response->end_of_request()) {
    shard.done = true;
    changed_.SignalAll();
  }
}

void ShardedSampler::OnWriteDone(SampleCall* call, bool ok) {
  absl::MutexLock lock(&mu_);
  ShardState& shard = shards_[call->shard()];
  if (shard.call != call) return;
  shard.writing = false;
  if (ok && shard.queued) {
    shard.queued = false;
    shard.writing = true;
    call->StartWrite(call->request());
  }
}

void ShardedSampler::OnBroken(SampleCall* call) {
  absl::MutexLock lock(&mu_);
  DetachLocked(call);
}

void ShardedSampler::OnCallDone(SampleCall* call, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  DetachLocked(call);
  const int i = call->shard();
  ShardState& shard = shards_[i];
  if (shard.call == call) {
    shard.call = nullptr;
    shard.writing = false;
    shard.queued = false;
    if (!shard.done) {
      shard.done = true;
      shard.status = status.ok() ? absl::UnavailableError("stream ended")
                                 : FromGrpcStatus(status);
    }
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !closing_) {
      MarkDownLocked(i);
    }
  }
  changed_.SignalAll();
}

}  // namespace shoal
