// Decodes a YAML tree into ExperimentConfig: one function per section, each
// reading its keys strictly (type, range, unknown keys) over the defaults.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

#include "common/config.h"
#include "common/config_internal.h"
#include "common/config_limits.h"

namespace shoal {
namespace config_internal {
namespace {

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

// [a-z0-9_-]{1,64}, or [A-Za-z0-9_-]{1,64} when `upper` is allowed.
bool IsName(absl::string_view s, bool upper) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || (upper && c >= 'A' && c <= 'Z');
    if (!ok) return false;
  }
  return true;
}

void ReadName(MapReader& r, absl::string_view key, bool upper,
              std::string* out) {
  if (!r.Required(key) || !r.String(key, out)) return;
  if (!IsName(*out, upper)) {
    r.context()->Error(
        r.PathOf(key),
        absl::StrCat("must match ", upper ? "[A-Za-z0-9_-]" : "[a-z0-9_-]",
                     "{1,64}, got ", Quote(*out)));
  }
}

// [a-z][a-z0-9_]{0,63}: what an env registry name may look like.
bool IsEnvName(absl::string_view s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// env.name is one of ctx->envs() or "remote" when the catalog is known,
// else at least a name.
void CheckEnvName(ConfigContext* ctx, const std::string& name) {
  const EnvCatalog* envs = ctx->envs();
  if (envs == nullptr) {
    if (!IsEnvName(name)) {
      ctx->Error("env.name", absl::StrCat("must match [a-z][a-z0-9_]{0,63}, "
                                          "got ",
                                          Quote(name)));
    }
    return;
  }
  std::string choices;
  for (const EnvCatalogEntry& e : *envs) {
    if (e.name == name) return;
    absl::StrAppend(&choices, e.name, "|");
  }
  if (name == kRemoteEnvName) return;
  ctx->Error("env.name", absl::StrCat("expected one of ", choices,
                                      kRemoteEnvName, ", got ", Quote(name)));
}

void DecodeEnv(const YAML::Node& node, ConfigContext* ctx, EnvConfig* env) {
  MapReader r(ctx, node, "env");
  if (r.String("name", &env->name)) CheckEnvName(ctx, env->name);
  r.Int("max_episode_steps", &env->max_episode_steps, 0, kMaxInt32);
  r.Int("step_cost_us", &env->step_cost_us, 0, kMaxInt32);
  MapReader remote(ctx, r.Child("remote"), "env.remote");
  remote.String("address", &env->remote.address);
  remote.String("env", &env->remote.env);
  remote.Int("timeout_ms", &env->remote.timeout_ms, 1, kMaxInt32);
  remote.Finish();
  r.Finish();
}

void DecodeSac(const YAML::Node& node, ConfigContext* ctx, double default_lr,
               SacConfig* sac) {
  MapReader r(ctx, node, "algorithm.sac");
  r.Double("tau", &sac->tau, Bounds::LeftOpen(0, 1));
  r.Double("init_alpha", &sac->init_alpha, Bounds::Above(0));
  r.Bool("learn_alpha", &sac->learn_alpha);
  r.OptionalDouble("target_entropy", &sac->target_entropy, "auto");
  sac->actor_learning_rate = default_lr;
  sac->critic_learning_rate = default_lr;
  sac->alpha_learning_rate = default_lr;
  r.Double("actor_learning_rate", &sac->actor_learning_rate, Bounds::Above(0));
  r.Double("critic_learning_rate", &sac->critic_learning_rate,
           Bounds::Above(0));
  r.Double("alpha_learning_rate", &sac->alpha_learning_rate, Bounds::Above(0));
  r.Finish();
}

void DecodeDqn(const YAML::Node& node, ConfigContext* ctx, DqnConfig* dqn) {
  MapReader r(ctx, node, "algorithm.dqn");
  r.Int("target_update_period", &dqn->target_update_period, 1);
  r.Bool("double_q", &dqn->double_q);
  r.Bool("dueling", &dqn->dueling);
  r.Double("epsilon", &dqn->epsilon, Bounds::Closed(0, 1));
  r.Double("epsilon_alpha", &dqn->epsilon_alpha, Bounds::AtLeast(0));
  r.Double("importance_beta_start", &dqn->importance_beta_start,
           Bounds::Closed(0, 1));
  r.Double("importance_beta_end", &dqn->importance_beta_end,
           Bounds::Closed(0, 1));
  r.Int("importance_beta_steps", &dqn->importance_beta_steps, 0);
  r.Double("huber_delta", &dqn->huber_delta, Bounds::Above(0));
  r.Finish();
}

void DecodeImpala(const YAML::Node& node, ConfigContext* ctx,
                  ImpalaConfig* impala) {
  MapReader r(ctx, node, "algorithm.impala");
  r.Int("unroll_length", &impala->unroll_length, 1, kMaxUnrollLength);
  r.Int("unroll_overlap", &impala->unroll_overlap, 0, kMaxInt32);
  r.Double("rho_bar", &impala->rho_bar, Bounds::Above(0));
  r.Double("c_bar", &impala->c_bar, Bounds::Above(0));
  r.Double("entropy_cost", &impala->entropy_cost, Bounds::AtLeast(0));
  r.Double("baseline_cost", &impala->baseline_cost, Bounds::AtLeast(0));
  r.Finish();
}

void DecodeAlgorithm(const YAML::Node& node, ConfigContext* ctx,
                     AlgorithmConfig* a) {
  MapReader r(ctx, node, "algorithm");
  r.Enum("name", &a->name);
  r.Double("discount", &a->discount, Bounds::LeftOpen(0, 1));
  r.Int("n_step", &a->n_step, 1, kMaxNStep);
  r.Int("batch_size", &a->batch_size, 1, kMaxSamplesPerRequest);

  MapReader o(ctx, r.Child("optimizer"), "algorithm.optimizer");
  o.Double("learning_rate", &a->optimizer.learning_rate, Bounds::Above(0));
  o.Double("adam_eps", &a->optimizer.adam_eps, Bounds::Above(0));
  o.Double("max_grad_norm", &a->optimizer.max_grad_norm, Bounds::AtLeast(0));
  o.Finish();

  MapReader v(ctx, r.Child("value_loss"), "algorithm.value_loss");
  v.Enum("kind", &a->value_loss.kind);
  v.Int("num_bins", &a->value_loss.num_bins, 1, kMaxInt32);
  v.Double("v_min", &a->value_loss.v_min);
  v.Double("v_max", &a->value_loss.v_max);
  v.Double("sigma_ratio", &a->value_loss.sigma_ratio, Bounds::Above(0));
  v.Finish();

  DecodeSac(r.Child("sac"), ctx, a->optimizer.learning_rate, &a->sac);
  DecodeDqn(r.Child("dqn"), ctx, &a->dqn);
  DecodeImpala(r.Child("impala"), ctx, &a->impala);
  r.Finish();
}

void DecodeNetwork(const YAML::Node& node, ConfigContext* ctx,
                   NetworkConfig* n) {
  MapReader r(ctx, node, "network");
  r.IntList("hidden", &n->hidden, 1, 1 << 20);
  r.Enum("activation", &n->activation);
  r.Bool("layer_norm", &n->layer_norm);
  r.Finish();
}

void DecodeSelector(const YAML::Node& node, ConfigContext* ctx,
                    const std::string& path, SelectorConfig* s) {
  MapReader r(ctx, node, path);
  r.Enum("kind", &s->kind);
  r.Double("priority_exponent", &s->priority_exponent, Bounds::AtLeast(0));
  r.Finish();
}

// Reads a rate limiter and resolves its preset into numbers (Reverb's
// MinSize, SampleToInsertRatio and Queue). Keys a preset does not read are
// errors rather than silently ignored.
void DecodeRateLimiter(const YAML::Node& node, ConfigContext* ctx,
                       const std::string& path, int64_t max_size,
                       RateLimiterConfig* rl) {
  MapReader r(ctx, node, path);
  const bool kind_ok = r.Enum("kind", &rl->kind);
  r.Int("min_size_to_sample", &rl->min_size_to_sample, 1);
  r.Double("samples_per_insert", &rl->samples_per_insert, Bounds::Above(0));
  r.Double("error_buffer", &rl->error_buffer, Bounds::AtLeast(0));
  r.Double("min_diff", &rl->min_diff, Bounds::Any(), /*allow_infinite=*/true);
  r.Double("max_diff", &rl->max_diff, Bounds::Any(), /*allow_infinite=*/true);
  r.Finish();
  if (!kind_ok) return;

  std::vector<absl::string_view> reads;
  switch (rl->kind) {
    case RateLimiterKind::kMinSize:
      reads = {"min_size_to_sample"};
      rl->samples_per_insert = 1.0;
      rl->min_diff = std::numeric_limits<double>::lowest();
      rl->max_diff = std::numeric_limits<double>::max();
      break;
    case RateLimiterKind::kSampleToInsertRatio: {
      reads = {"min_size_to_sample", "samples_per_insert", "error_buffer"};
      const double offset =
          static_cast<double>(rl->min_size_to_sample) * rl->samples_per_insert;
      rl->min_diff = offset - rl->error_buffer;
      rl->max_diff = offset + rl->error_buffer;
      break;
    }
    case RateLimiterKind::kQueue:
      rl->min_size_to_sample = 1;
      rl->samples_per_insert = 1.0;
      rl->min_diff = 0.0;
      rl->max_diff = static_cast<double>(max_size);
      break;
    case RateLimiterKind::kCustom:
      reads = {"min_size_to_sample", "samples_per_insert", "min_diff",
               "max_diff"};
      break;
  }
  for (absl::string_view key : {"min_size_to_sample", "samples_per_insert",
                                "error_buffer", "min_diff", "max_diff"}) {
    bool used = false;
    for (absl::string_view k : reads) used = used || k == key;
    if (used) continue;
    std::string why = absl::StrCat("not used by kind ", EnumName(rl->kind));
    if (rl->kind == RateLimiterKind::kQueue) {
      absl::StrAppend(&why, " (its size is the table's max_size)");
    } else {
      absl::StrAppend(&why, " (it reads ", absl::StrJoin(reads, ", "), ")");
    }
    r.Disallow(key, why);
  }
}

void DecodeColumn(const YAML::Node& node, ConfigContext* ctx,
                  const std::string& path, ColumnConfig* c) {
  MapReader r(ctx, node, path);
  ReadName(r, "name", /*upper=*/true, &c->name);
  r.Enum("dtype", &c->dtype);
  r.IntList("shape", &c->shape, -1, std::numeric_limits<int64_t>::max());
  r.Bool("allow_nonfinite", &c->allow_nonfinite);
  r.Numbers("minimum", &c->minimum);
  r.Numbers("maximum", &c->maximum);
  r.Finish();
}

void DecodeTable(const YAML::Node& node, ConfigContext* ctx,
                 const std::string& path, TableConfig* t) {
  MapReader r(ctx, node, path);
  ReadName(r, "name", /*upper=*/true, &t->name);
  DecodeSelector(r.Child("sampler"), ctx, path + ".sampler", &t->sampler);
  DecodeSelector(r.Child("remover"), ctx, path + ".remover", &t->remover);
  r.Int("max_size", &t->max_size, 1, kMaxTableSize);
  r.Int("max_bytes", &t->max_bytes, 0);
  r.Int("max_times_sampled", &t->max_times_sampled, 0);
  DecodeRateLimiter(r.Child("rate_limiter"), ctx, path + ".rate_limiter",
                    t->max_size, &t->rate_limiter);
  std::vector<YAML::Node> columns;
  if (r.List("signature", &columns)) {
    for (size_t i = 0; i < columns.size(); ++i) {
      t->signature.emplace_back();
      DecodeColumn(columns[i], ctx, absl::StrCat(path, ".signature[", i, "]"),
                   &t->signature.back());
    }
  }
  r.Finish();
}

void DecodeTables(MapReader& root, ConfigContext* ctx,
                  std::vector<TableConfig>* tables) {
  std::vector<YAML::Node> items;
  if (!root.List("tables", &items) || !root.Has("tables")) return;
  if (items.empty()) {
    ctx->Error("tables", "must list at least one table");
    return;
  }
  tables->clear();
  for (size_t i = 0; i < items.size(); ++i) {
    tables->emplace_back();
    DecodeTable(items[i], ctx, absl::StrCat("tables[", i, "]"),
                &tables->back());
  }
}

void DecodeReplay(const YAML::Node& node, ConfigContext* ctx, ReplayConfig* c) {
  MapReader r(ctx, node, "replay");
  r.Int("shards", &c->shards, 1, 4096);
  r.String("addresses", &c->addresses);
  r.Int("max_message_bytes", &c->max_message_bytes, 1024, kMaxInt32);
  r.Int("checkpoint_every_s", &c->checkpoint_every_s, 0, kMaxInt32);
  r.Finish();
}

void DecodeActor(const YAML::Node& node, ConfigContext* ctx, ActorConfig* c) {
  MapReader r(ctx, node, "actor");
  r.Int("num_actors", &c->num_actors, 1, kMaxActors);
  r.Int("num_envs", &c->num_envs, 1, kMaxEnvsPerActor);
  r.String("table", &c->table);
  r.Int("max_unacked_bytes", &c->max_unacked_bytes, 1);
  r.Int("max_unacked_items", &c->max_unacked_items, 0);
  r.Int("items_per_insert", &c->items_per_insert, 1, kMaxInt32);
  r.Enum("initial_policy", &c->initial_policy);
  r.Int("inference_threads", &c->inference_threads, 1, 1024);
  r.Int("report_every_episodes", &c->report_every_episodes, 1);
  r.Finish();
}

void DecodeLearner(const YAML::Node& node, ConfigContext* ctx,
                   LearnerConfig* c) {
  MapReader r(ctx, node, "learner");
  r.String("address", &c->address);
  r.Enum("device", &c->device);
  r.String("table", &c->table);
  r.Int("publish_every_steps", &c->publish_every_steps, 1);
  r.Int("prefetch_batches", &c->prefetch_batches, 1, 1 << 16);
  r.Int("num_threads", &c->num_threads, 1, 1024);
  r.Int("checkpoint_every_s", &c->checkpoint_every_s, 0);
  r.Int("max_steps", &c->max_steps, 0);
  r.Finish();
}

void DecodeRest(MapReader& root, ConfigContext* ctx, ExperimentConfig* c) {
  MapReader eval(ctx, root.Child("eval"), "eval");
  eval.Int("episodes", &c->eval.episodes, 0, kMaxEnvsPerActor);
  eval.Int("every_s", &c->eval.every_s, 1);
  eval.Finish();

  MapReader stop(ctx, root.Child("stop"), "stop");
  stop.OptionalDouble("eval_return", &c->stop.eval_return);
  stop.Int("env_steps", &c->stop.env_steps, 0);
  stop.Int("wall_time_s", &c->stop.wall_time_s, 0);
  stop.Finish();

  MapReader sec(ctx, root.Child("security"), "security");
  sec.String("tls_cert", &c->security.tls_cert);
  sec.String("tls_key", &c->security.tls_key);
  sec.String("tls_ca", &c->security.tls_ca);
  sec.String("tokens_file", &c->security.tokens_file);
  sec.String("token_file", &c->security.token_file);
  sec.Finish();
}

}  // namespace

void DecodeExperiment(const YAML::Node& root, ConfigContext* ctx,
                      ExperimentConfig* c) {
  MapReader r(ctx, root, "");
  ReadName(r, "experiment", /*upper=*/false, &c->experiment);
  r.Int("seed", &c->seed, 0);
  DecodeEnv(r.Child("env"), ctx, &c->env);
  DecodeAlgorithm(r.Child("algorithm"), ctx, &c->algorithm);
  DecodeNetwork(r.Child("network"), ctx, &c->network);
  DecodeTables(r, ctx, &c->tables);
  DecodeReplay(r.Child("replay"), ctx, &c->replay);
  DecodeActor(r.Child("actor"), ctx, &c->actor);
  DecodeLearner(r.Child("learner"), ctx, &c->learner);
  DecodeRest(r, ctx, c);
  r.Finish();
}

}  // namespace config_internal
}  // namespace shoal
