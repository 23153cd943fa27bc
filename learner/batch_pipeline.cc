#include "learner/batch_pipeline.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "torch/torch.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/torch/tensor_torch.h"
#include "learner/algorithms/losses.h"

namespace shoal {
namespace {

// Deadline of one priority update.
constexpr absl::Duration kPriorityTimeout = absl::Seconds(5);
// Pause after a sampling error other than a missed deadline (shards down).
constexpr absl::Duration kRetryPause = absl::Milliseconds(100);

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& s) {
  return ShapeString(std::vector<int64_t>(s.begin(), s.end()));
}

PipelineColumn Column(const std::string& name, v1::DType dtype,
                      std::vector<int64_t> shape) {
  return PipelineColumn{name, dtype, std::move(shape), 0};
}

std::string ColumnWhere(const std::string& table,
                        const PipelineColumn& column) {
  return absl::StrCat("table '", table, "' column '", column.name,
                      "' (item column ", column.position, ")");
}

}  // namespace

absl::StatusOr<std::vector<PipelineColumn>> LearnerColumns(
    const ExperimentConfig& config, const EnvShape& shape) {
  const TableConfig* table = config.FindTable(config.learner.table);
  if (table == nullptr) {
    return absl::NotFoundError(absl::StrCat("learner.table '",
                                            config.learner.table,
                                            "' is not a configured table"));
  }
  const int64_t obs = shape.observation_size;
  const v1::DType action_dtype =
      shape.discrete ? v1::DTYPE_INT64 : v1::DTYPE_FLOAT32;
  std::vector<PipelineColumn> want;
  if (config.algorithm.name == AlgorithmKind::kImpala) {
    const int64_t t = config.algorithm.impala.unroll_length;
    want.push_back(Column("observation", v1::DTYPE_FLOAT32, {t + 1, obs}));
    want.push_back(Column("action", action_dtype,
                          shape.discrete
                              ? std::vector<int64_t>{t}
                              : std::vector<int64_t>{t, shape.action_dim()}));
    want.push_back(Column("reward", v1::DTYPE_FLOAT32, {t}));
    want.push_back(Column("discount", v1::DTYPE_FLOAT32, {t}));
    want.push_back(Column("behaviour_log_prob", v1::DTYPE_FLOAT32, {t}));
    // Optional: 1 on real steps, 0 on padding after an episode end.
    const bool has_mask =
        table->signature.empty() ||
        std::any_of(table->signature.begin(), table->signature.end(),
                    [](const ColumnConfig& c) { return c.name == "mask"; });
    if (has_mask) want.push_back(Column("mask", v1::DTYPE_FLOAT32, {t}));
  } else {
    want.push_back(Column("observation", v1::DTYPE_FLOAT32, {obs}));
    want.push_back(Column("action", action_dtype,
                          shape.discrete
                              ? std::vector<int64_t>{}
                              : std::vector<int64_t>{shape.action_dim()}));
    want.push_back(Column("reward", v1::DTYPE_FLOAT32, {}));
    want.push_back(Column("discount", v1::DTYPE_FLOAT32, {}));
    want.push_back(Column("next_observation", v1::DTYPE_FLOAT32, {obs}));
  }
  for (size_t i = 0; i < want.size(); ++i) {
    want[i].position = static_cast<int>(i);
  }
  if (table->signature.empty()) return want;
  for (PipelineColumn& column : want) {
    const auto it = std::find_if(
        table->signature.begin(), table->signature.end(),
        [&](const ColumnConfig& c) { return c.name == column.name; });
    const std::string where =
        absl::StrCat("table '", table->name, "' column '", column.name, "'");
    if (it == table->signature.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": missing from the signature, and the ",
                       EnumName(config.algorithm.name), " learner needs it"));
    }
    std::vector<int64_t> got_shape = it->shape;
    if (it->dtype != column.dtype || got_shape != column.shape) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": signature has ", EnumName(it->dtype), " ",
                       ShapeString(got_shape), ", the ",
                       EnumName(config.algorithm.name), " learner needs ",
                       EnumName(column.dtype), " ", ShapeString(column.shape)));
    }
    column.position = static_cast<int>(it - table->signature.begin());
  }
  return want;
}

void BatchPipeline::Releaser::operator()(SampledBatch* batch) const {
  pipeline->Release(batch);
}

absl::StatusOr<std::unique_ptr<BatchPipeline>> BatchPipeline::Create(
    ShardedSampler* sampler, BatchPipelineOptions options) {
  if (sampler == nullptr) {
    return absl::InvalidArgumentError("the pipeline needs a sampler");
  }
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", options.batch_size));
  }
  if (options.prefetch_batches < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefetch_batches must be >= 1, got ", options.prefetch_batches));
  }
  if (options.priority_queue_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "priority_queue_size must be >= 1, got ", options.priority_queue_size));
  }
  if (options.columns.empty()) {
    return absl::InvalidArgumentError("the pipeline needs at least one column");
  }
  std::unique_ptr<BatchPipeline> pipeline(
      new BatchPipeline(sampler, std::move(options)));
  const BatchPipelineOptions& o = pipeline->options_;
  const int num_buffers = o.prefetch_batches + 2;
  try {
    for (int b = 0; b < num_buffers; ++b) {
      auto buffer = std::make_unique<SampledBatch>();
      for (const PipelineColumn& column : o.columns) {
        SHOAL_ASSIGN_OR_RETURN(torch::ScalarType type,
                               ToTorchDType(column.dtype));
        std::vector<int64_t> dims = {o.batch_size};
        dims.insert(dims.end(), column.shape.begin(), column.shape.end());
        torch::Tensor t = torch::empty(dims, torch::dtype(type));
        if (o.pin_memory) t = t.pin_memory();
        buffer->batch.columns[column.name] = t;
      }
      if (o.prioritized) {
        torch::Tensor w = torch::empty({o.batch_size}, torch::kFloat32);
        buffer->batch.importance_weights = o.pin_memory ? w.pin_memory() : w;
      }
      buffer->keys.reserve(o.batch_size);
      buffer->policy_versions.reserve(o.batch_size);
      pipeline->buffers_.push_back(std::move(buffer));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("allocating batch buffers: ", e.what_without_backtrace()));
  }
  {
    absl::MutexLock lock(&pipeline->mu_);
    for (const auto& buffer : pipeline->buffers_) {
      pipeline->free_.push_back(buffer.get());
    }
  }
  BatchPipeline* p = pipeline.get();
  pipeline->sample_thread_ = std::thread([p] { p->SampleLoop(); });
  pipeline->priority_thread_ = std::thread([p] { p->PriorityLoop(); });
  return pipeline;
}

BatchPipeline::~BatchPipeline() { Stop(); }

void BatchPipeline::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  if (sample_thread_.joinable()) sample_thread_.join();
  if (priority_thread_.joinable()) priority_thread_.join();
}

absl::StatusOr<BatchPipeline::Lease> BatchPipeline::Next(absl::Time deadline) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  if (first_next_ == absl::InfiniteFuture()) first_next_ = start;
  while (ready_.empty() && error_.ok() && !stopping_) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) break;
  }
  stats_.wait_seconds += absl::ToDoubleSeconds(absl::Now() - start);
  if (!ready_.empty()) {
    SampledBatch* batch = ready_.front();
    ready_.pop_front();
    ++stats_.batches;
    changed_.SignalAll();
    return Lease(batch, Releaser{this});
  }
  if (!error_.ok()) return error_;
  if (stopping_) return absl::CancelledError("the batch pipeline stopped");
  return absl::DeadlineExceededError("no batch sampled before the deadline");
}

void BatchPipeline::Release(SampledBatch* batch) {
  absl::MutexLock lock(&mu_);
  free_.push_back(batch);
  changed_.SignalAll();
}

void BatchPipeline::UpdatePrioritiesAsync(std::vector<uint64_t> keys,
                                          std::vector<double> priorities) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(priorities_.size()) >= options_.priority_queue_size) {
    priorities_.pop_front();
    ++stats_.priority_updates_dropped;
  }
  priorities_.emplace_back(std::move(keys), std::move(priorities));
  changed_.SignalAll();
}

BatchPipelineStats BatchPipeline::stats() const {
  absl::MutexLock lock(&mu_);
  BatchPipelineStats stats = stats_;
  if (first_next_ != absl::InfiniteFuture()) {
    stats.wall_seconds = absl::ToDoubleSeconds(absl::Now() - first_next_);
  }
  if (stats.wall_seconds > 0.0) {
    stats.data_wait_fraction =
        std::min(1.0, stats.wait_seconds / stats.wall_seconds);
  }
  return stats;
}

void BatchPipeline::SampleLoop() {
  while (true) {
    SampledBatch* buffer = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto can_fill = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (!free_.empty() && static_cast<int>(ready_.size()) <
                                                   options_.prefetch_batches);
      };
      mu_.Await(absl::Condition(&can_fill));
      if (stopping_) return;
      buffer = free_.back();
      free_.pop_back();
    }
    absl::StatusOr<std::vector<v1::SampledItem>> items = sampler_->Sample(
        options_.batch_size, absl::Now() + options_.sample_timeout);
    absl::Status status = items.ok() ? Fill(*items, buffer) : items.status();
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      ready_.push_back(buffer);
      changed_.SignalAll();
      continue;
    }
    free_.push_back(buffer);
    const bool retry = !items.ok() && (absl::IsDeadlineExceeded(status) ||
                                       absl::IsUnavailable(status) ||
                                       absl::IsResourceExhausted(status));
    if (!retry) {
      error_ = status;
      changed_.SignalAll();
      return;
    }
    ++stats_.sample_retries;
    if (!absl::IsDeadlineExceeded(status)) {
      changed_.WaitWithTimeout(&mu_, kRetryPause);
    }
  }
}

absl::Status BatchPipeline::Fill(const std::vector<v1::SampledItem>& items,
                                 SampledBatch* out) {
  if (static_cast<int>(items.size()) != options_.batch_size) {
    return absl::InternalError(absl::StrCat("sampler returned ", items.size(),
                                            " items, wanted ",
                                            options_.batch_size));
  }
  out->keys.clear();
  out->policy_versions.clear();
  absl::flat_hash_map<uint64_t, int64_t> shard_sizes;
  std::vector<double> probabilities;
  if (options_.prioritized) probabilities.reserve(items.size());
  std::vector<torch::Tensor> targets;
  targets.reserve(options_.columns.size());
  for (const PipelineColumn& column : options_.columns) {
    targets.push_back(out->batch.columns[column.name]);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const v1::SampledItem& sampled = items[i];
    const v1::Item& item = sampled.item();
    for (size_t c = 0; c < options_.columns.size(); ++c) {
      const PipelineColumn& column = options_.columns[c];
      if (column.position >= item.columns_size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            ColumnWhere(options_.table, column), ": items have only ",
            item.columns_size(), " columns"));
      }
      const v1::Tensor& tensor = item.columns(column.position);
      if (tensor.dtype() != column.dtype ||
          !std::equal(tensor.shape().begin(), tensor.shape().end(),
                      column.shape.begin(), column.shape.end())) {
        return absl::InvalidArgumentError(absl::StrCat(
            ColumnWhere(options_.table, column), ": sampled ",
            EnumName(tensor.dtype()), " ", ShapeString(tensor.shape()),
            ", the learner needs ", EnumName(column.dtype), " ",
            ShapeString(column.shape)));
      }
      SHOAL_RETURN_IF_ERROR(DecodeIntoTorch(
          tensor, targets[c][static_cast<int64_t>(i)], column.name));
    }
    out->keys.push_back(sampled.key());
    out->policy_versions.push_back(item.policy_version());
    int64_t& size = shard_sizes[sampled.key() >> 48];
    size = std::max(size, sampled.table_size());
    if (options_.prioritized) probabilities.push_back(sampled.probability());
  }
  out->replay_size = 0;
  for (const auto& [shard, size] : shard_sizes) out->replay_size += size;
  if (options_.prioritized) {
    try {
      torch::Tensor p = torch::from_blob(
          probabilities.data(), {options_.batch_size}, torch::kFloat64);
      const double beta = ImportanceBeta(options_.importance, learner_step_);
      out->batch.importance_weights.copy_(
          ImportanceWeights(p, std::max<int64_t>(out->replay_size, 1), beta));
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("importance weights: ", e.what_without_backtrace()));
    }
  }
  return absl::OkStatus();
}

void BatchPipeline::PriorityLoop() {
  while (true) {
    std::pair<std::vector<uint64_t>, std::vector<double>> update;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !priorities_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (priorities_.empty()) return;  // stopping, nothing left to send
      update = std::move(priorities_.front());
      priorities_.pop_front();
    }
    absl::Status status = sampler_->UpdatePriorities(
        update.first, update.second, absl::Now() + kPriorityTimeout);
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      ++stats_.priority_updates;
    } else {
      if (stats_.priority_update_errors++ == 0) {
        spdlog::warn("priority update failed: {}", status.ToString());
      }
    }
  }
}

}  // namespace shoal
