#include "actor/actor_loop.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "torch/utils.h"

#include "actor/envs/env_factory.h"
#include "common/grpc_channel.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/torch/networks.h"

namespace shoal {
namespace {

// Writer stats and steps/s are refreshed this often.
constexpr absl::Duration kMetricsEvery = absl::Seconds(1);

prometheus::Counter& AddCounter(prometheus::Registry& registry,
                                const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter()
      .Name(name)
      .Help(help)
      .Register(registry)
      .Add({});
}

prometheus::Gauge& AddGauge(prometheus::Registry& registry,
                            const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(
      {});
}

absl::Status CheckTable(const ExperimentConfig& config, const EnvSpec& spec) {
  const TableConfig* table = config.FindTable(config.actor.table);
  if (table == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("actor.table: no table named '", config.actor.table, "'"));
  }
  return CheckItemSignature(*table, config.algorithm, spec);
}

}  // namespace

EnvOptions EnvOptionsFromConfig(const ExperimentConfig& config) {
  EnvOptions env;
  env.name = config.env.name;
  env.max_episode_steps = static_cast<int>(config.env.max_episode_steps);
  env.step_cost_us = config.env.step_cost_us;
  env.remote_address = config.env.remote.address;
  env.remote_env = config.env.remote.env;
  env.remote_timeout_ms = config.env.remote.timeout_ms;
  // The experiment's client security, as toward replay and the learner.
  const ChannelOptions channel =
      ChannelOptionsFromConfig(config, config.env.remote.address);
  env.remote_tls = channel.tls;
  env.remote_token_file = channel.token_file;
  return env;
}

absl::Status ValidateActorConfig(const ExperimentConfig& config) {
  SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Env> env,
                         MakeEnv(EnvOptionsFromConfig(config)));
  SHOAL_RETURN_IF_ERROR(CheckTable(config, env->spec()));
  return MakePolicy(config, EnvShapeOf(env->spec())).status();
}

// The actor's Prometheus series. The eval_* gauges exist only in an
// evaluation actor: a training actor exporting an eval return of 0 would be
// a lie on a dashboard.
struct ActorLoop::Metrics {
  Metrics(prometheus::Registry& r, bool eval)
      : env_steps(prometheus::BuildCounter()
                      .Name("shoal_actor_env_steps_total")
                      .Help("Env steps taken (resets not counted).")
                      .Register(r)
                      .Add({})),
        episodes(prometheus::BuildCounter()
                     .Name("shoal_actor_episodes_total")
                     .Help("Episodes finished.")
                     .Register(r)
                     .Add({})),
        mean_return(AddGauge(r, "shoal_actor_mean_episode_return",
                             "Mean return of the last reported episodes.")),
        policy_version(AddGauge(r, "shoal_actor_policy_version",
                                "Version of the policy acting now.")),
        items_sent(AddCounter(r, "shoal_actor_items_sent_total",
                              "Items appended to the replay writer.")),
        items_acked(AddCounter(r, "shoal_actor_items_acked_total",
                               "Items acknowledged by replay.")),
        items_rejected(AddCounter(r, "shoal_actor_items_rejected_total",
                                  "Items refused by replay.")),
        items_resent(AddCounter(r, "shoal_actor_items_resent_total",
                                "Items written again after a reconnect.")),
        unacked_items(AddGauge(r, "shoal_actor_unacked_items",
                               "Items kept for resending.")),
        unacked_bytes(AddGauge(r, "shoal_actor_unacked_bytes",
                               "Bytes kept for resending.")),
        reconnects(AddCounter(r, "shoal_actor_replay_reconnects_total",
                              "Replay streams reopened.")),
        failovers(AddCounter(r, "shoal_actor_replay_failovers_total",
                             "Replay shard changes.")),
        eval_return(eval ? &AddGauge(r, "shoal_actor_eval_return",
                                     "Mean return of the last eval round.")
                         : nullptr),
        eval_rounds(eval ? &AddCounter(r, "shoal_actor_eval_rounds_total",
                                       "Eval rounds completed.")
                         : nullptr),
        eval_version(eval ? &AddGauge(r, "shoal_actor_eval_policy_version",
                                      "Policy version of the last eval round.")
                          : nullptr),
        rejected_versions(
            AddCounter(r, "shoal_actor_rejected_parameter_versions_total",
                       "Parameter versions refused.")),
        parameter_age(prometheus::BuildHistogram()
                          .Name("shoal_actor_parameter_age_seconds")
                          .Help("From the learner publishing a parameter "
                                "version to this actor first acting with it "
                                "(clock skew between hosts included).")
                          .Register(r)
                          .Add({}, LatencyBuckets())) {}

  prometheus::Counter& env_steps;
  prometheus::Counter& episodes;
  prometheus::Gauge& mean_return;
  prometheus::Gauge& policy_version;
  prometheus::Counter& items_sent;
  prometheus::Counter& items_acked;
  prometheus::Counter& items_rejected;
  prometheus::Counter& items_resent;
  prometheus::Gauge& unacked_items;
  prometheus::Gauge& unacked_bytes;
  prometheus::Counter& reconnects;
  prometheus::Counter& failovers;
  // Evaluation actors only; null otherwise.
  prometheus::Gauge* const eval_return;
  prometheus::Counter* const eval_rounds;
  prometheus::Gauge* const eval_version;
  prometheus::Counter& rejected_versions;
  prometheus::Histogram& parameter_age;
};

absl::StatusOr<std::unique_ptr<ActorLoop>> ActorLoop::Create(
    const ExperimentConfig& config, const ActorLoopOptions& options) {
  if (!options.eval && options.writer == nullptr) {
    return absl::InvalidArgumentError(
        "a replay writer is required unless the actor evaluates");
  }
  if (options.max_env_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_env_steps must be >= 0, got ", options.max_env_steps));
  }
  std::unique_ptr<ActorLoop> loop(new ActorLoop(config, options));
  const EnvOptions env = EnvOptionsFromConfig(config);
  const int num_envs = static_cast<int>(config.actor.num_envs);
  const uint64_t base_seed = static_cast<uint64_t>(config.seed) +
                             static_cast<uint64_t>(options.actor_index) *
                                 static_cast<uint64_t>(num_envs);
  SHOAL_ASSIGN_OR_RETURN(loop->venv_,
                         VectorEnv::Create(env, num_envs, base_seed));
  const EnvSpec& spec = loop->venv_->spec();
  SHOAL_RETURN_IF_ERROR(CheckTable(config, spec));
  if (options.eval) {
    loop->eval_round_ = std::make_unique<EvalRound>(num_envs);
  } else {
    ItemBuilderOptions builder_options;
    builder_options.actor_index = options.actor_index;
    SHOAL_ASSIGN_OR_RETURN(loop->builder_,
                           MakeItemBuilder(config, spec, builder_options));
  }
  torch::manual_seed(static_cast<uint64_t>(config.seed) +
                     static_cast<uint64_t>(options.actor_index));
  const size_t k = static_cast<size_t>(num_envs);
  const size_t obs = static_cast<size_t>(spec.observation_size());
  loop->observations_.assign(k * obs, 0.0f);
  loop->next_observations_.assign(k * obs, 0.0f);
  if (spec.action_space.discrete()) {
    loop->discrete_actions_.assign(k, 0);
  } else {
    loop->box_actions_.assign(k * spec.action_space.dim(), 0.0f);
  }
  loop->log_probs_.assign(k, 0.0f);
  loop->rewards_.assign(k, 0.0f);
  loop->terminated_ = std::make_unique<bool[]>(k);
  loop->truncated_ = std::make_unique<bool[]>(k);
  loop->is_first_ = std::make_unique<bool[]>(k);
  loop->episode_return_.assign(k, 0.0);
  loop->episode_length_.assign(k, 0);
  loop->items_.reserve(4 * k);
  loop->episodes_.reserve(static_cast<size_t>(std::max<int64_t>(
                              config.actor.report_every_episodes, 1)) +
                          k);
  PolicyRunnerOptions runner_options;
  runner_options.actor_index = options.actor_index;
  runner_options.num_actors = options.num_actors;
  runner_options.eval = options.eval;
  runner_options.seed = base_seed;
  SHOAL_ASSIGN_OR_RETURN(
      loop->runner_,
      PolicyRunner::Create(config, spec, runner_options,
                           absl::MakeConstSpan(loop->observations_)));
  if (options.registry != nullptr) {
    loop->metrics_ = std::make_unique<Metrics>(*options.registry, options.eval);
  }
  return loop;
}

ActorLoop::ActorLoop(const ExperimentConfig& config,
                     const ActorLoopOptions& options)
    : config_(config), options_(options) {}

ActorLoop::~ActorLoop() = default;

ActorLoopStats ActorLoop::stats() const {
  ActorLoopStats stats;
  stats.env_steps = env_steps_.load();
  stats.episodes = episodes_done_.load();
  stats.items_appended = items_appended_.load();
  stats.policy_version = policy_version_.load();
  stats.eval_rounds = eval_rounds_.load();
  stats.eval_return = eval_return_.load();
  return stats;
}

absl::Status ActorLoop::Run() {
  SHOAL_RETURN_IF_ERROR(Begin());
  absl::Status status;
  while (status.ok() && !stop_.load(std::memory_order_relaxed) && !done()) {
    status = Step();
  }
  End();
  return status;
}

bool ActorLoop::done() const {
  return options_.max_env_steps > 0 &&
         env_steps_.load(std::memory_order_relaxed) >= options_.max_env_steps;
}

absl::Status ActorLoop::Begin() {
  SHOAL_RETURN_IF_ERROR(venv_->Reset(absl::MakeSpan(observations_)));
  last_report_ = last_log_ = last_metrics_ = round_start_ = absl::Now();
  round_starting_ = eval_round_ != nullptr;
  return absl::OkStatus();
}

absl::Status ActorLoop::Step() {
  const size_t k = static_cast<size_t>(venv_->num_envs());
  const bool impala = config_.algorithm.name == AlgorithmKind::kImpala;
  SHOAL_ASSIGN_OR_RETURN(
      const int64_t version,
      runner_->Act(absl::MakeSpan(discrete_actions_),
                   absl::MakeSpan(box_actions_),
                   impala ? absl::MakeSpan(log_probs_) : absl::Span<float>()));
  if (version != policy_version_.load(std::memory_order_relaxed)) {
    // Once per new version (debug), at info for the first and then at
    // most every log_every: the line tests and operators look for.
    const absl::Time now = absl::Now();
    const bool loud = policy_version_.load() == 0 ||
                      now - last_version_log_ >= options_.log_every;
    if (loud) last_version_log_ = now;
    spdlog::log(loud ? spdlog::level::info : spdlog::level::debug,
                "acting with policy version {}", version);
    policy_version_.store(version);
    if (metrics_ != nullptr) {
      metrics_->policy_version.Set(static_cast<double>(version));
      const absl::Time published = runner_->acting_published();
      if (published != absl::InfinitePast()) {
        metrics_->parameter_age.Observe(
            std::max(0.0, absl::ToDoubleSeconds(now - published)));
      }
    }
  }
  if (round_starting_) {
    eval_round_->Start(version);
    round_starting_ = false;
  }
  const VectorStepOutputs outputs = {
      absl::MakeSpan(next_observations_), absl::MakeSpan(rewards_),
      absl::MakeSpan(terminated_.get(), k), absl::MakeSpan(truncated_.get(), k),
      absl::MakeSpan(is_first_.get(), k)};
  SHOAL_RETURN_IF_ERROR(
      discrete_actions_.empty()
          ? venv_->Step(absl::MakeConstSpan(box_actions_), outputs)
          : venv_->Step(absl::MakeConstSpan(discrete_actions_), outputs));
  if (builder_ != nullptr) {
    StepBatch batch;
    batch.observations = observations_;
    batch.discrete_actions = discrete_actions_;
    batch.box_actions = box_actions_;
    batch.rewards = rewards_;
    batch.terminated = absl::MakeConstSpan(terminated_.get(), k);
    batch.truncated = absl::MakeConstSpan(truncated_.get(), k);
    batch.is_first = absl::MakeConstSpan(is_first_.get(), k);
    batch.next_observations = next_observations_;
    if (impala) batch.behaviour_log_probs = log_probs_;
    batch.policy_version = version;
    items_.clear();
    SHOAL_RETURN_IF_ERROR(builder_->Add(batch, &items_));
    SHOAL_RETURN_IF_ERROR(AppendItems());
  }
  TrackEpisodes(version);
  std::memcpy(observations_.data(), next_observations_.data(),
              observations_.size() * sizeof(float));
  if (eval_round_ != nullptr && eval_round_->complete()) {
    SHOAL_RETURN_IF_ERROR(FinishEvalRound(round_start_));
    round_start_ = absl::Now();
    round_starting_ = true;
  }
  Tick(absl::Now(), /*force=*/false);
  return absl::OkStatus();
}

void ActorLoop::End() {
  SendEpisodes();
  Tick(absl::Now(), /*force=*/true);
}

absl::Status ActorLoop::AppendItems() {
  for (v1::Item& item : items_) {
    // Blocks while the unacked buffer is full: the backpressure. Close (on
    // shutdown) wakes it with FAILED_PRECONDITION.
    absl::Status appended =
        options_.writer->Append(std::move(item), absl::InfiniteFuture());
    if (!appended.ok()) {
      if (stop_.load() && absl::IsFailedPrecondition(appended)) {
        return absl::OkStatus();
      }
      return appended;
    }
    items_appended_.fetch_add(1, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

void ActorLoop::TrackEpisodes(int64_t version) {
  const int k = venv_->num_envs();
  int64_t stepped = 0;
  for (int i = 0; i < k; ++i) {
    if (is_first_[i]) continue;  // a reset, not a step
    ++stepped;
    episode_return_[i] += rewards_[i];
    ++episode_length_[i];
  }
  const int64_t steps =
      env_steps_.fetch_add(stepped, std::memory_order_relaxed) + stepped;
  if (metrics_ != nullptr) metrics_->env_steps.Increment(stepped);
  for (int i = 0; i < k; ++i) {
    if (is_first_[i] || !(terminated_[i] || truncated_[i])) continue;
    if (eval_round_ != nullptr && !eval_round_->Record(i, episode_return_[i])) {
      episode_return_[i] = 0.0;  // after this env's counted episode
      episode_length_[i] = 0;
      continue;
    }
    v1::Episode& episode = episodes_.emplace_back();
    episode.set_actor_index(options_.actor_index);
    episode.set_env_id(i);
    episode.set_episode_return(episode_return_[i]);
    episode.set_length(episode_length_[i]);
    episode.set_actor_env_steps(steps);
    episode.set_policy_version(version);
    episode.set_eval(options_.eval);
    episode.set_terminated(terminated_[i]);
    episode.set_truncated(truncated_[i]);
    return_sum_since_log_ += episode_return_[i];
    ++episodes_since_log_;
    episodes_done_.fetch_add(1, std::memory_order_relaxed);
    if (metrics_ != nullptr) metrics_->episodes.Increment();
    episode_return_[i] = 0.0;
    episode_length_[i] = 0;
  }
  if (static_cast<int64_t>(episodes_.size()) >=
      config_.actor.report_every_episodes) {
    SendEpisodes();
  }
}

void ActorLoop::SendEpisodes() {
  if (!episodes_.empty() && metrics_ != nullptr) {
    double sum = 0.0;
    for (const v1::Episode& e : episodes_) sum += e.episode_return();
    metrics_->mean_return.Set(sum / static_cast<double>(episodes_.size()));
  }
  if (options_.reporter != nullptr) {
    for (v1::Episode& e : episodes_) options_.reporter->Report(std::move(e));
  }
  episodes_.clear();
  last_report_ = absl::Now();
}

absl::Status ActorLoop::FinishEvalRound(absl::Time round_start) {
  const double mean = eval_round_->mean_return();
  const int64_t round = eval_rounds_.fetch_add(1) + 1;
  eval_return_.store(mean);
  // The line operators and tests look for.
  spdlog::info(
      "eval round {}: mean_return {:.2f} over {} episodes, policy "
      "version {}",
      round, mean, eval_round_->episodes(), eval_round_->version());
  if (metrics_ != nullptr && metrics_->eval_return != nullptr) {
    metrics_->eval_return->Set(mean);
    AdvanceCounterTo(*metrics_->eval_rounds, static_cast<double>(round));
    metrics_->eval_version->Set(static_cast<double>(eval_round_->version()));
  }
  SendEpisodes();
  const absl::Time next = round_start + options_.eval_every;
  while (!stop_.load(std::memory_order_relaxed) && absl::Now() < next) {
    Tick(absl::Now(), /*force=*/false);
    absl::SleepFor(std::min(next - absl::Now(), absl::Milliseconds(100)));
  }
  std::fill(episode_return_.begin(), episode_return_.end(), 0.0);
  std::fill(episode_length_.begin(), episode_length_.end(), 0);
  return venv_->Reset(absl::MakeSpan(observations_));
}

void ActorLoop::Tick(absl::Time now, bool force) {
  if (!force && now - last_metrics_ < kMetricsEvery) return;
  const int64_t steps = env_steps_.load(std::memory_order_relaxed);
  if (!episodes_.empty() && now - last_report_ >= options_.report_every) {
    SendEpisodes();
  }
  if (metrics_ != nullptr) {
    AdvanceCounterTo(
        metrics_->rejected_versions,
        static_cast<double>(runner_->rejected_parameter_versions()));
    if (options_.writer != nullptr) {
      const ReplayWriterStats w = options_.writer->stats();
      AdvanceCounterTo(metrics_->items_sent,
                       static_cast<double>(w.items_appended));
      AdvanceCounterTo(metrics_->items_acked,
                       static_cast<double>(w.items_acked));
      AdvanceCounterTo(metrics_->items_rejected,
                       static_cast<double>(w.items_rejected));
      AdvanceCounterTo(metrics_->items_resent,
                       static_cast<double>(w.items_resent));
      metrics_->unacked_items.Set(static_cast<double>(w.unacked_items));
      metrics_->unacked_bytes.Set(static_cast<double>(w.unacked_bytes));
      AdvanceCounterTo(metrics_->reconnects, static_cast<double>(w.reconnects));
      AdvanceCounterTo(metrics_->failovers, static_cast<double>(w.failovers));
    }
  }
  last_metrics_ = now;
  if (force || now - last_log_ >= options_.log_every) {
    const double seconds = absl::ToDoubleSeconds(now - last_log_);
    const double rate =
        seconds > 0 ? static_cast<double>(steps - steps_at_last_log_) / seconds
                    : 0.0;
    const double mean_return =
        episodes_since_log_ > 0
            ? return_sum_since_log_ / static_cast<double>(episodes_since_log_)
            : 0.0;
    std::string writer;
    if (options_.writer != nullptr) {
      const ReplayWriterStats w = options_.writer->stats();
      writer = absl::StrCat(" items_acked=", w.items_acked,
                            " unacked_bytes=", w.unacked_bytes,
                            " reconnects=", w.reconnects);
    }
    spdlog::info(
        "env_steps={} steps/s={:.0f} episodes={} mean_return={:.2f} "
        "policy_version={}{}",
        steps, rate, episodes_done_.load(), mean_return, policy_version_.load(),
        writer);
    last_log_ = now;
    steps_at_last_log_ = steps;
    return_sum_since_log_ = 0.0;
    episodes_since_log_ = 0;
  }
}

}  // namespace shoal
