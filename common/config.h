// ExperimentConfig: one YAML file that describes a whole run (environment,
// algorithm, networks, replay tables, actor, learner, eval, stop rule,
// security), as typed plain structs with their defaults.
//
//   SHOAL_ASSIGN_OR_RETURN(ExperimentConfig cfg,
//                          LoadExperimentConfig(path, {{"seed", "7"}}));
//
// Loading reads the file, applies `--set key=value` overrides to the YAML
// tree (so they get the same type checks as the file), decodes with strict
// type, range and unknown-key checks, resolves presets and validates
// cross-field rules. Every error is one line naming where it comes from:
//   "cfg.yaml:12: actor.num_envs: must be >= 1, got 0"
//   "--set actor.num_envs=abc: expected an integer, got 'abc'"
// deploy/configs/example.yaml shows every key with its default; the limits
// components enforce are in common/config_limits.h.
//
// The structs are plain data: copyable, no invariants enforced by the types.
// Only a config returned by Load/ParseExperimentConfig has been validated.
#ifndef SHOAL_COMMON_CONFIG_H_
#define SHOAL_COMMON_CONFIG_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shoal/v1/tensor.pb.h"

namespace shoal {

enum class AlgorithmKind { kSac, kDqn, kImpala };  // "sac", "dqn", "impala".
enum class ValueLossKind { kMse, kHlGauss };       // "mse", "hl_gauss".
// "relu", "tanh", "elu", "gelu", "silu".
enum class Activation { kRelu, kTanh, kElu, kGelu, kSilu };
// Reverb's item selectors: "uniform", "prioritized", "fifo", "lifo",
// "min_heap", "max_heap" (the heaps order by priority).
enum class SelectorKind {
  kUniform,
  kPrioritized,
  kFifo,
  kLifo,
  kMinHeap,
  kMaxHeap,
};
// Rate limiter presets: "min_size", "sample_to_insert_ratio", "queue",
// "custom" (min_diff/max_diff given directly).
enum class RateLimiterKind { kMinSize, kSampleToInsertRatio, kQueue, kCustom };
// "random_weights" (untrained network), "uniform" (uniform random actions).
// What actors do until the first weights arrive. kZero (every action 0)
// is a baseline, e.g. the uncontrolled KS system for an eval actor run
// without a learner.
enum class InitialPolicy { kRandomWeights, kUniform, kZero };
enum class DeviceKind { kAuto, kCpu, kCuda };  // "auto", "cpu", "cuda".

// The YAML spelling of each enum value, e.g. "mountain_car_continuous".
absl::string_view EnumName(AlgorithmKind v);
absl::string_view EnumName(ValueLossKind v);
absl::string_view EnumName(Activation v);
absl::string_view EnumName(SelectorKind v);
absl::string_view EnumName(RateLimiterKind v);
absl::string_view EnumName(InitialPolicy v);
absl::string_view EnumName(DeviceKind v);
// "float32", "float64", "int32", "int64", "uint8", "bool".
absl::string_view EnumName(v1::DType v);

// env.name of an env served by an EnvService at env.remote.address.
inline constexpr char kRemoteEnvName[] = "remote";

// What the config loader may know about the built-in envs. common/ cannot
// see the env registry (actor/envs/env_registry.h, whose BuiltinEnvCatalog()
// builds this), so binaries that build envs pass it in; without it env.name
// is only checked to be a name ([a-z][a-z0-9_]*, at most 64 characters).
struct EnvCatalogEntry {
  std::string name;       // e.g. "cartpole".
  bool discrete = false;  // a discrete action space; else a box.
};
using EnvCatalog = std::vector<EnvCatalogEntry>;

struct RemoteEnvConfig {
  std::string address;  // EnvService "host:port"; "". Required for remote.
  std::string env;      // env name sent in OpenRequest; "" = server's.
  int64_t timeout_ms = 5000;  // per-call deadline; 5000, >= 1.
};

struct EnvConfig {
  // A built-in env's registered name, or "remote"; cartpole.
  std::string name = "cartpole";
  int64_t max_episode_steps = 0;  // truncation; 0 = env default, >= 0.
  int64_t step_cost_us = 0;  // min wall time per step (slow-sim stand-in); 0.
  RemoteEnvConfig remote;    // used when name is remote.
};

struct OptimizerConfig {
  double learning_rate = 3e-4;  // Adam step size; 3e-4, > 0.
  double adam_eps = 1e-8;       // Adam epsilon; 1e-8, > 0.
  double max_grad_norm = 0.0;   // global-norm clipping; 0 = off, >= 0.
};

struct ValueLossConfig {
  ValueLossKind kind = ValueLossKind::kMse;  // mse.
  int64_t num_bins = 51;                     // hl_gauss bins; 51, >= 2.
  double v_min = -10.0;       // hl_gauss support low end; -10, < v_max.
  double v_max = 10.0;        // hl_gauss support high end; 10.
  double sigma_ratio = 0.75;  // hl_gauss sigma / bin width; 0.75, > 0.
};

struct SacConfig {
  double tau = 0.005;       // target Polyak rate; 0.005, (0, 1].
  double init_alpha = 0.2;  // initial temperature; 0.2, > 0.
  bool learn_alpha = true;  // tune alpha towards target_entropy; true.
  // Entropy target; "auto" (nullopt) = -action_dim, else any finite number.
  std::optional<double> target_entropy;
  // Step sizes; each defaults to algorithm.optimizer.learning_rate, > 0.
  double actor_learning_rate = 3e-4;
  double critic_learning_rate = 3e-4;
  double alpha_learning_rate = 3e-4;
};

struct DqnConfig {
  int64_t target_update_period = 500;  // learner steps per target copy; >= 1.
  bool double_q = true;                // double DQN targets; true.
  bool dueling = false;                // dueling head; false.
  double epsilon = 0.4;                // Ape-X base epsilon; 0.4, [0, 1].
  double epsilon_alpha = 7.0;  // Ape-X ladder: eps^(1+i/(N-1)*alpha); >= 0.
  double importance_beta_start = 0.4;      // IS exponent at step 0; [0, 1].
  double importance_beta_end = 1.0;        // IS exponent at the end; [0, 1].
  int64_t importance_beta_steps = 100000;  // linear anneal steps; >= 0.
  double huber_delta = 1.0;  // Huber loss threshold (mse loss); 1.0, > 0.
  // The priority exponent is the table's: tables[].sampler.priority_exponent.
};

struct ImpalaConfig {
  int64_t unroll_length = 20;  // steps per item; 20, [1, 2^20].
  int64_t unroll_overlap = 0;  // steps shared by consecutive unrolls; [0, len).
  double rho_bar = 1.0;        // V-trace rho clip; 1.0, > 0.
  double c_bar = 1.0;          // V-trace c clip; 1.0, > 0.
  double entropy_cost = 0.01;  // entropy bonus weight; 0.01, >= 0.
  double baseline_cost = 0.5;  // value loss weight; 0.5, >= 0.
};

struct AlgorithmConfig {
  AlgorithmKind name = AlgorithmKind::kDqn;  // dqn.
  double discount = 0.99;                    // gamma; 0.99, (0, 1].
  int64_t n_step = 3;  // n-step returns (dqn/sac transitions); 3, [1, 2^20].
  int64_t batch_size = 256;  // items per learner step; 256, [1, 65536].
  OptimizerConfig optimizer;
  ValueLossConfig value_loss;
  SacConfig sac;        // read when name is sac.
  DqnConfig dqn;        // read when name is dqn.
  ImpalaConfig impala;  // read when name is impala.
};

struct NetworkConfig {
  std::vector<int64_t> hidden = {256, 256};   // MLP widths; each >= 1.
  Activation activation = Activation::kRelu;  // relu.
  bool layer_norm = false;  // LayerNorm after each hidden layer; false.
};

struct SelectorConfig {
  SelectorKind kind = SelectorKind::kUniform;
  double priority_exponent = 0.6;  // prioritized only; 0.6, >= 0.
};

// Reverb's rate limiter, resolved: every preset is stored as the numbers it
// stands for. Sampling is allowed while size >= min_size_to_sample and
// inserts * samples_per_insert - samples is within [min_diff, max_diff].
struct RateLimiterConfig {
  RateLimiterKind kind = RateLimiterKind::kMinSize;  // min_size.
  // Items needed before the first sample; 1000, >= 1 (queue: 1).
  int64_t min_size_to_sample = 1000;
  double samples_per_insert = 1.0;  // > 0; min_size and queue: 1.
  // sample_to_insert_ratio only: half-width of the allowed window; 100.
  double error_buffer = 100.0;
  // min_size: lowest double; ratio: min_size*spi - error_buffer; queue: 0;
  // custom: given (may be -.inf).
  double min_diff = std::numeric_limits<double>::lowest();
  // min_size: max double; ratio: min_size*spi + error_buffer;
  // queue: table max_size; custom: given (may be .inf). >= min_diff.
  double max_diff = std::numeric_limits<double>::max();
};

// One column of a table signature (mirrors v1::TensorSpec).
struct ColumnConfig {
  std::string name;                     // required, unique in the signature.
  v1::DType dtype = v1::DTYPE_FLOAT32;  // float32.
  // []: a scalar; each >= 0 or -1 (any size); at most 64 extents. Columns
  // without -1 take at most 2^31 - 1 bytes, alone and together.
  std::vector<int64_t> shape;
  bool allow_nonfinite = false;  // float columns: accept NaN/Inf; false.
  // Bounds of the values (dm_env's BoundedArray): [] = none; one number
  // for every element, or one per element of the last extent. Given
  // together, minimum <= maximum; whole numbers for integer columns. Replay
  // does not check values against them; actors check them against their
  // env's action space, and the learner sizes its networks from the
  // `action` column's bounds (an int64 action in [0, n - 1]: n actions).
  std::vector<double> minimum;
  std::vector<double> maximum;
};
v1::TensorSpec ToTensorSpec(const ColumnConfig& column);

struct TableConfig {
  std::string name = "transitions";  // required in a list; unique.
  SelectorConfig sampler;            // uniform.
  SelectorConfig remover = {SelectorKind::kFifo, 0.6};  // fifo.
  int64_t max_size = 100000;            // items; 100000, [1, 2^28 - 1].
  int64_t max_bytes = 0;                // 0 = unbounded, >= 0.
  int64_t max_times_sampled = 0;        // 0 = unbounded, >= 0.
  RateLimiterConfig rate_limiter;       // min_size(1000).
  std::vector<ColumnConfig> signature;  // [] = columns not checked.
};

struct ReplayConfig {
  int64_t shards = 1;  // replay servers; 1, >= 1.
  // "host:port,host:port" (one per shard) or one DNS name; "" = shoalctl
  // picks. A list of more than one must have exactly `shards` entries.
  std::string addresses;
  int64_t max_message_bytes = 4194304;  // gRPC message cap; 4 MiB, >= 1024.
  int64_t checkpoint_every_s = 0;       // shard checkpoints; 0 = off, >= 0.
};
// replay.addresses split at commas; empty when addresses is "".
std::vector<std::string> ReplayAddressList(const ReplayConfig& replay);

struct ActorConfig {
  int64_t num_actors = 1;  // actor processes; 1, [1, 65536].
  int64_t num_envs = 16;   // envs per actor (one batch); 16, [1, 65536].
  std::string table = "transitions";     // table inserted into; must exist.
  int64_t max_unacked_bytes = 67108864;  // resend buffer; 64 MiB, >= 1.
  // Resend buffer in items; 0 = auto (see ActorMaxUnackedItems), >= 0.
  int64_t max_unacked_items = 0;
  int64_t items_per_insert = 64;  // items per insert message; >= 1.
  InitialPolicy initial_policy = InitialPolicy::kRandomWeights;
  int64_t inference_threads = 1;       // intra-op threads; 1, >= 1.
  int64_t report_every_episodes = 10;  // episode reports; 10, >= 1.
};

struct LearnerConfig {
  std::string address;  // LearnerService "host:port"; "" = shoalctl picks.
  DeviceKind device = DeviceKind::kAuto;  // auto = cuda when available.
  std::string table = "transitions";      // table sampled; must exist.
  int64_t publish_every_steps = 100;      // weight publish period; >= 1.
  int64_t prefetch_batches = 4;           // sampled batches queued; >= 1.
  int64_t num_threads = 1;                // intra-op threads; 1, >= 1.
  int64_t checkpoint_every_s = 60;        // 60; 0 = off, >= 0.
  int64_t max_steps = 0;                  // learner steps; 0 = unbounded.
};

struct EvalConfig {
  int64_t episodes = 20;  // greedy episodes per evaluation; 0 = off, <= 65536.
  int64_t every_s = 10;   // seconds between evaluations; 10, >= 1.
};

// The run stops when any set criterion is reached; at least one is set.
struct StopConfig {
  std::optional<double> eval_return;  // mean eval return; null = unset.
  int64_t env_steps = 0;              // total env steps; 0 = unset, >= 0.
  int64_t wall_time_s = 0;            // seconds; 0 = unset, >= 0.
};

// Paths are PEM / text files; "" = unset. tls_cert and tls_key go together;
// tls_ca (mutual TLS) needs them.
struct SecurityConfig {
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string tokens_file;  // server: lines "<role> <token>".
  std::string token_file;   // client: the bearer token it presents.
};

struct ExperimentConfig {
  std::string experiment;  // required; [a-z0-9_-]{1,64}; names run dirs.
  int64_t seed = 0;        // base seed; 0, >= 0.
  EnvConfig env;
  AlgorithmConfig algorithm;
  NetworkConfig network;
  std::vector<TableConfig> tables = {TableConfig()};  // >= 1, names unique.
  ReplayConfig replay;
  ActorConfig actor;
  LearnerConfig learner;
  EvalConfig eval;
  StopConfig stop;
  SecurityConfig security;

  // The table named `name`, or nullptr.
  const TableConfig* FindTable(absl::string_view name) const;

  // The actors' resend buffer in items: actor.max_unacked_items when set;
  // else, when actor.table's rate limiter can hold inserts back (a finite
  // max_diff: sample_to_insert_ratio, queue, custom), kAutoUnackedBatches
  // batches of actor.items_per_insert, so that a held-back actor pauses
  // with a few batches waiting instead of stepping on with an old policy;
  // else 0 (no bound but max_unacked_bytes).
  static constexpr int64_t kAutoUnackedBatches = 4;
  int64_t ActorMaxUnackedItems() const;
};

// "dotted.key" -> value. Keys index lists with [i] (tables[0].max_size,
// network.hidden[1]) or, for tables, by name (tables[transitions].max_size).
// Only scalar fields can be overridden.
using ConfigOverrides = std::vector<std::pair<std::string, std::string>>;

// Splits a "--set" flag value "key=value" at the first '='.
absl::StatusOr<std::pair<std::string, std::string>> ParseConfigOverride(
    absl::string_view key_equals_value);

// Reads `path`, applies `overrides`, decodes and validates. NOT_FOUND when
// the file cannot be read; INVALID_ARGUMENT with a one-line message
// "<file>:<line>: <key>: <problem>" for anything wrong in it. With `envs`
// (not owned; may be null), env.name must be one of them or "remote", and
// the algorithm must suit the env's action space.
absl::StatusOr<ExperimentConfig> LoadExperimentConfig(
    const std::string& path, const ConfigOverrides& overrides = {},
    const EnvCatalog* envs = nullptr);

// As LoadExperimentConfig, from text; errors name `file_name_for_errors`.
absl::StatusOr<ExperimentConfig> ParseExperimentConfig(
    absl::string_view yaml_text, absl::string_view file_name_for_errors,
    const ConfigOverrides& overrides = {}, const EnvCatalog* envs = nullptr);

}  // namespace shoal

#endif  // SHOAL_COMMON_CONFIG_H_
