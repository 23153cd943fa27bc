#include "learner/trainer.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "torch/torch.h"

#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/torch/tensor_torch.h"

namespace shoal {
namespace {

// How long one wait for a batch lasts before Run checks Stop() again.
constexpr absl::Duration kPollInterval = absl::Milliseconds(100);

}  // namespace

struct Trainer::Interval {
  absl::Time start = absl::Now();
  int64_t start_step = 0;
  double start_wait_seconds = 0.0;
  int64_t batches = 0;
  double lag_sum = 0.0;
  int64_t lag_max = 0;
  int64_t replay_size = 0;
  std::map<std::string, double> sums;  // Update scalars, summed
};

struct Trainer::Gauges {
  explicit Gauges(prometheus::Registry& registry)
      : steps(prometheus::BuildCounter()
                  .Name("shoal_learner_steps_total")
                  .Help("Gradient steps taken.")
                  .Register(registry)
                  .Add({})),
        version(prometheus::BuildGauge()
                    .Name("shoal_learner_parameter_version")
                    .Help("Newest published parameter version.")
                    .Register(registry)
                    .Add({})),
        data_wait(prometheus::BuildGauge()
                      .Name("shoal_learner_data_wait_ratio")
                      .Help("Fraction of wall time the train loop waited "
                            "for batches, last logging interval.")
                      .Register(registry)
                      .Add({})),
        lag_family(prometheus::BuildGauge()
                       .Name("shoal_learner_policy_lag")
                       .Help("Learner version minus the version that acted, "
                             "last logging interval.")
                       .Register(registry)),
        lag_mean(lag_family.Add({{"stat", "mean"}})),
        lag_max(lag_family.Add({{"stat", "max"}})),
        replay_size(prometheus::BuildGauge()
                        .Name("shoal_learner_replay_size")
                        .Help("Items in the sampled table, all shards.")
                        .Register(registry)
                        .Add({})) {}

  prometheus::Counter& steps;
  prometheus::Gauge& version;
  prometheus::Gauge& data_wait;
  prometheus::Family<prometheus::Gauge>& lag_family;
  prometheus::Gauge& lag_mean;
  prometheus::Gauge& lag_max;
  prometheus::Gauge& replay_size;
};

Trainer::Trainer(TrainerOptions options, std::unique_ptr<Algorithm> algorithm,
                 BatchPipeline* pipeline, ParameterStore* store,
                 EpisodeStats* episodes, LearnerCheckpointer* checkpointer,
                 int64_t version)
    : options_(std::move(options)),
      algorithm_(std::move(algorithm)),
      pipeline_(pipeline),
      store_(store),
      episodes_(episodes),
      checkpointer_(checkpointer),
      step_(algorithm_->step()),
      version_(version) {}

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    TrainerOptions options, std::unique_ptr<Algorithm> algorithm,
    BatchPipeline* pipeline, ParameterStore* store, EpisodeStats* episodes,
    LearnerCheckpointer* checkpointer, int64_t version) {
  if (algorithm == nullptr || pipeline == nullptr || store == nullptr) {
    return absl::InvalidArgumentError(
        "a trainer needs an algorithm, a pipeline and a parameter store");
  }
  if (options.publish_every_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "publish_every_steps must be >= 1, got ", options.publish_every_steps));
  }
  if (options.max_steps < 0 || version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_steps and version must be >= 0, got ",
                     options.max_steps, " and ", version));
  }
  std::unique_ptr<Trainer> trainer(
      new Trainer(std::move(options), std::move(algorithm), pipeline, store,
                  episodes, checkpointer, version));
  if (!trainer->options_.logdir.empty()) {
    SHOAL_ASSIGN_OR_RETURN(trainer->scalar_log_,
                           ScalarLog::Create(trainer->options_.logdir));
  }
  if (trainer->options_.registry != nullptr) {
    trainer->gauges_ = std::make_unique<Gauges>(*trainer->options_.registry);
    // A restored learner shows its step at once, not 0 until it trains.
    AdvanceCounterTo(trainer->gauges_->steps,
                     static_cast<double>(trainer->algorithm_->step()));
    trainer->gauges_->version.Set(static_cast<double>(version));
  }
  return trainer;
}

absl::Status Trainer::Publish() {
  const int64_t version = version_.load() + 1;
  v1::Parameters parameters;
  parameters.set_version(version);
  try {
    torch::NoGradGuard no_grad;
    torch::nn::Module& policy = algorithm_->policy();
    for (const auto& p : policy.named_parameters()) {
      v1::NamedTensor* named = parameters.add_tensors();
      named->set_name(p.key());
      SHOAL_RETURN_IF_ERROR(
          FromTorch(p.value().detach(), named->mutable_tensor()));
    }
    for (const auto& b : policy.named_buffers()) {
      v1::NamedTensor* named = parameters.add_tensors();
      named->set_name(b.key());
      SHOAL_RETURN_IF_ERROR(
          FromTorch(b.value().detach(), named->mutable_tensor()));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("encoding parameters: ", e.what_without_backtrace()));
  }
  SHOAL_RETURN_IF_ERROR(store_->Publish(parameters, algorithm_->step()));
  version_.store(version);
  published_step_ = algorithm_->step();
  if (gauges_ != nullptr) gauges_->version.Set(static_cast<double>(version));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Trainer::Checkpoint() {
  if (checkpointer_ == nullptr) {
    return absl::FailedPreconditionError("this trainer has no checkpointer");
  }
  return checkpointer_->Save(*algorithm_, version_.load());
}

absl::Status Trainer::Run() {
  Begin();
  while (!stop_.load() && !done()) {
    absl::StatusOr<bool> stepped = TrainStep(absl::Now() + kPollInterval);
    if (!stepped.ok()) {
      if (absl::IsCancelled(stepped.status())) break;
      return stepped.status();
    }
  }
  return End();
}

bool Trainer::done() const {
  return options_.max_steps != 0 && algorithm_->step() >= options_.max_steps;
}

void Trainer::Begin() {
  run_start_ = last_checkpoint_ = absl::Now();
  run_start_step_ = algorithm_->step();
  run_start_wait_ = pipeline_->stats().wait_seconds;
  interval_ = std::make_unique<Interval>();
  interval_->start_step = run_start_step_;
  interval_->start_wait_seconds = run_start_wait_;
  lag_sum_ = 0.0;
  stats_ = TrainerStats();
}

absl::StatusOr<bool> Trainer::TrainStep(absl::Time deadline) {
  if (done()) return false;
  absl::StatusOr<BatchPipeline::Lease> lease = pipeline_->Next(deadline);
  bool stepped = false;
  if (lease.ok()) {
    SHOAL_RETURN_IF_ERROR(Step(*std::move(lease)));
    stepped = true;
    if (algorithm_->step() % options_.publish_every_steps == 0) {
      SHOAL_RETURN_IF_ERROR(Publish());
    }
  } else if (!absl::IsDeadlineExceeded(lease.status())) {
    return lease.status();  // CANCELLED when the pipeline stopped
  }
  const absl::Time now = absl::Now();
  if (now - interval_->start >= options_.log_every) Log(now);
  if (checkpointer_ != nullptr &&
      options_.checkpoint_every > absl::ZeroDuration() &&
      now - last_checkpoint_ >= options_.checkpoint_every) {
    SHOAL_RETURN_IF_ERROR(Checkpoint().status());
    last_checkpoint_ = absl::Now();
  }
  return stepped;
}

absl::Status Trainer::End() {
  stats_.steps = algorithm_->step() - run_start_step_;
  stats_.seconds = absl::ToDoubleSeconds(absl::Now() - run_start_);
  if (stats_.seconds > 0) {
    stats_.updates_per_second =
        static_cast<double>(stats_.steps) / stats_.seconds;
    stats_.data_wait_fraction =
        std::min(1.0, (pipeline_->stats().wait_seconds - run_start_wait_) /
                          stats_.seconds);
  }
  if (stats_.steps > 0) stats_.mean_policy_lag = lag_sum_ / stats_.steps;
  Log(absl::Now());
  if (published_step_ != algorithm_->step()) SHOAL_RETURN_IF_ERROR(Publish());
  if (checkpointer_ != nullptr) {
    SHOAL_ASSIGN_OR_RETURN(std::string path, Checkpoint());
    spdlog::info("checkpoint {} (step {}, version {})", path,
                 algorithm_->step(), version_.load());
  }
  return absl::OkStatus();
}

absl::Status Trainer::Step(BatchPipeline::Lease lease) {
  pipeline_->set_learner_step(algorithm_->step());
  Batch batch;
  try {
    for (const auto& [name, tensor] : lease->batch.columns) {
      batch.columns[name] = tensor.to(options_.device, /*non_blocking=*/true);
    }
    if (lease->batch.importance_weights.defined()) {
      batch.importance_weights = lease->batch.importance_weights.to(
          options_.device, /*non_blocking=*/true);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("moving a batch to ",
                                            options_.device.str(), ": ",
                                            e.what_without_backtrace()));
  }
  SHOAL_ASSIGN_OR_RETURN(UpdateResult result, algorithm_->Update(batch));
  step_.store(algorithm_->step());
  if (options_.prioritized && result.new_priorities.defined()) {
    std::vector<double> priorities;
    try {
      torch::Tensor p = result.new_priorities.detach()
                            .to(torch::kCPU, torch::kFloat64)
                            .contiguous();
      priorities.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("reading new priorities: ", e.what_without_backtrace()));
    }
    pipeline_->UpdatePrioritiesAsync(lease->keys, std::move(priorities));
  }
  const int64_t version = version_.load();
  int64_t lag_sum = 0, lag_max = 0;
  for (int64_t v : lease->policy_versions) {
    const int64_t lag = std::max<int64_t>(0, version - v);
    lag_sum += lag;
    lag_max = std::max(lag_max, lag);
  }
  const double lag_mean =
      lease->policy_versions.empty()
          ? 0.0
          : static_cast<double>(lag_sum) / lease->policy_versions.size();
  lag_sum_ += lag_mean;
  stats_.max_policy_lag = std::max(stats_.max_policy_lag, lag_max);
  interval_->lag_sum += lag_mean;
  interval_->lag_max = std::max(interval_->lag_max, lag_max);
  interval_->replay_size = lease->replay_size;
  ++interval_->batches;
  for (const auto& [name, value] : result.scalars)
    interval_->sums[name] += value;
  if (gauges_ != nullptr) {
    AdvanceCounterTo(gauges_->steps, static_cast<double>(step_.load()));
  }
  return absl::OkStatus();
}

void Trainer::Log(absl::Time now) {
  Interval& in = *interval_;
  const double seconds = std::max(1e-9, absl::ToDoubleSeconds(now - in.start));
  const double wait_seconds = pipeline_->stats().wait_seconds;
  const int64_t step = algorithm_->step();
  const double updates_per_second = (step - in.start_step) / seconds;
  const double wait_fraction =
      std::min(1.0, (wait_seconds - in.start_wait_seconds) / seconds);
  const double n = static_cast<double>(std::max<int64_t>(in.batches, 1));
  std::vector<std::pair<std::string, double>> scalars = {
      {"learner/updates_per_s", updates_per_second},
      {"learner/data_wait_fraction", wait_fraction},
      {"learner/policy_lag_mean", in.lag_sum / n},
      {"learner/policy_lag_max", static_cast<double>(in.lag_max)},
      {"learner/version", static_cast<double>(version_.load())},
      {"replay/size", static_cast<double>(in.replay_size)},
  };
  for (const auto& [name, sum] : in.sums) {
    scalars.emplace_back(absl::StrCat("train/", name), sum / n);
  }
  std::string returns;
  if (episodes_ != nullptr) {
    const EpisodeStatsSnapshot snapshot = episodes_->Snapshot();
    if (snapshot.train.window_episodes > 0) {
      scalars.emplace_back("episodes/train_return", snapshot.train.mean_return);
      absl::StrAppendFormat(&returns, " | return %.1f",
                            snapshot.train.mean_return);
    }
    if (snapshot.eval.window_episodes > 0) {
      scalars.emplace_back("episodes/eval_return", snapshot.eval.mean_return);
      absl::StrAppendFormat(&returns, " | eval %.1f",
                            snapshot.eval.mean_return);
    }
    scalars.emplace_back("episodes/env_steps",
                         static_cast<double>(snapshot.total_env_steps));
  }
  std::string losses;
  for (const auto& [name, sum] : in.sums) {
    if (name.find("loss") != std::string::npos) {
      absl::StrAppendFormat(&losses, " | %s %.4g", name, sum / n);
    }
  }
  spdlog::info(
      "step {} v{} | {:.1f} upd/s | data wait {:.1f}% | lag {:.2f}/{} | "
      "replay {}{}{}",
      step, version_.load(), updates_per_second, 100.0 * wait_fraction,
      in.lag_sum / n, in.lag_max, in.replay_size, losses, returns);
  if (scalar_log_ != nullptr) {
    absl::Status status = scalar_log_->Write(step, now, scalars);
    if (!status.ok()) spdlog::warn("scalar log: {}", status.ToString());
  }
  if (gauges_ != nullptr) {
    gauges_->data_wait.Set(wait_fraction);
    gauges_->lag_mean.Set(in.lag_sum / n);
    gauges_->lag_max.Set(static_cast<double>(in.lag_max));
    gauges_->replay_size.Set(static_cast<double>(in.replay_size));
  }
  const int64_t replay_size = in.replay_size;
  in = Interval();
  in.start = now;
  in.start_step = step;
  in.start_wait_seconds = wait_seconds;
  in.replay_size = replay_size;
}

}  // namespace shoal
