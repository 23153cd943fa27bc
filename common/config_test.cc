#include "common/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/config_limits.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;

// A fresh directory under the test's temp dir, removed at scope exit.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = testing::TempDir() + "shoal_config_XXXXXX";
    path_ = mkdtemp(pattern.data()) == nullptr ? "" : pattern;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string WriteFile(const std::string& dir, const std::string& name,
                      const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// Stands in for actor/envs' BuiltinEnvCatalog(), which common/ cannot
// link; env_registry_test checks that the real one reads the same.
const EnvCatalog& TestEnvs() {
  static const auto* const kEnvs =
      new EnvCatalog{{"cartpole", /*discrete=*/true},
                     {"pendulum", /*discrete=*/false},
                     {"acrobot", /*discrete=*/true},
                     {"mountain_car", /*discrete=*/true},
                     {"mountain_car_continuous", /*discrete=*/false},
                     {"ks", /*discrete=*/false}};
  return *kEnvs;
}

// Writes `text` to cfg.yaml in a fresh temp dir and loads it, checking
// env.name against `envs` (TestEnvs() by default; null: syntax only).
absl::StatusOr<ExperimentConfig> LoadText(
    const std::string& text, const ConfigOverrides& o = {},
    const EnvCatalog* envs = &TestEnvs()) {
  ScopedTempDir dir;
  return LoadExperimentConfig(WriteFile(dir.path(), "cfg.yaml", text), o, envs);
}

// The INVALID_ARGUMENT message from loading `text`, with the temp dir
// removed from the file name (so it starts "cfg.yaml:").
std::string LoadError(const std::string& text, const ConfigOverrides& o = {},
                      const EnvCatalog* envs = &TestEnvs()) {
  absl::StatusOr<ExperimentConfig> config = LoadText(text, o, envs);
  if (config.ok()) return "OK";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(config.status().message());
  const size_t at = message.find("/cfg.yaml:");
  if (at != std::string::npos) message = message.substr(at + 1);
  return message;
}

// The smallest valid file: a name and a stop rule.
constexpr char kMinimal[] = "experiment: t\nstop: {env_steps: 1000}\n";

constexpr char kFull[] = R"(experiment: ks-sac_2
seed: 42
env:
  name: ks
  max_episode_steps: 400
  step_cost_us: 250
  remote: {address: "env:9000", env: ks64, timeout_ms: 750}
algorithm:
  name: sac
  discount: 0.97
  n_step: 1
  batch_size: 512
  optimizer: {learning_rate: 1e-3, adam_eps: 1.5e-4, max_grad_norm: 10}
  value_loss: {kind: hl_gauss, num_bins: 101, v_min: -50, v_max: 5.5, sigma_ratio: 0.5}
  sac:
    tau: 0.01
    init_alpha: 1
    learn_alpha: false
    target_entropy: -3.5
    actor_learning_rate: 2e-4
    alpha_learning_rate: 5e-5
  dqn: {target_update_period: 100, double_q: false, dueling: true, epsilon: 0.1,
        epsilon_alpha: 3, importance_beta_start: 0.5, importance_beta_end: 0.9,
        importance_beta_steps: 1000, huber_delta: 2}
  impala: {unroll_length: 40, unroll_overlap: 1, rho_bar: 0.9, c_bar: 0.8,
           entropy_cost: 0.001, baseline_cost: 0.25}
network: {hidden: [64, 32, 16], activation: gelu, layer_norm: true}
tables:
  - name: transitions
    sampler: {kind: prioritized, priority_exponent: 0.8}
    remover: {kind: lifo}
    max_size: 1000000
    max_bytes: 1073741824
    max_times_sampled: 8
    rate_limiter: {kind: sample_to_insert_ratio, min_size_to_sample: 5000,
                   samples_per_insert: 4, error_buffer: 400}
    signature:
      - {name: observation, dtype: float32, shape: [64], allow_nonfinite: true}
      - {name: action, dtype: float64, shape: [-1, 2]}
  - name: Unrolls
    sampler: {kind: fifo}
    rate_limiter: {kind: queue}
    max_size: 32
replay:
  shards: 2
  addresses: "r0:7000, r1:7000"
  max_message_bytes: 8388608
  checkpoint_every_s: 300
actor:
  num_actors: 8
  num_envs: 4
  table: Unrolls
  max_unacked_bytes: 1048576
  max_unacked_items: 48
  items_per_insert: 16
  initial_policy: uniform
  inference_threads: 2
  report_every_episodes: 1
learner:
  address: "learner:7100"
  device: cuda
  table: transitions
  publish_every_steps: 400
  prefetch_batches: 8
  num_threads: 4
  checkpoint_every_s: 0
  max_steps: 1e6
eval: {episodes: 5, every_s: 30}
stop: {eval_return: -120.5, env_steps: 2000000, wall_time_s: 3600}
security: {tls_cert: c.pem, tls_key: k.pem, tls_ca: ca.pem,
           tokens_file: tokens.txt, token_file: token.txt}
)";

TEST(ExperimentConfigTest, FullFileSetsEveryField) {
  absl::StatusOr<ExperimentConfig> loaded = LoadText(kFull);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const ExperimentConfig& c = *loaded;
  EXPECT_EQ(c.experiment, "ks-sac_2");
  EXPECT_EQ(c.seed, 42);
  EXPECT_EQ(c.env.name, "ks");
  EXPECT_EQ(c.env.max_episode_steps, 400);
  EXPECT_EQ(c.env.step_cost_us, 250);
  EXPECT_EQ(c.env.remote.address, "env:9000");
  EXPECT_EQ(c.env.remote.env, "ks64");
  EXPECT_EQ(c.env.remote.timeout_ms, 750);

  const AlgorithmConfig& a = c.algorithm;
  EXPECT_EQ(a.name, AlgorithmKind::kSac);
  EXPECT_EQ(a.discount, 0.97);
  EXPECT_EQ(a.n_step, 1);
  EXPECT_EQ(a.batch_size, 512);
  EXPECT_EQ(a.optimizer.learning_rate, 1e-3);
  EXPECT_EQ(a.optimizer.adam_eps, 1.5e-4);
  EXPECT_EQ(a.optimizer.max_grad_norm, 10.0);
  EXPECT_EQ(a.value_loss.kind, ValueLossKind::kHlGauss);
  EXPECT_EQ(a.value_loss.num_bins, 101);
  EXPECT_EQ(a.value_loss.v_min, -50.0);
  EXPECT_EQ(a.value_loss.v_max, 5.5);
  EXPECT_EQ(a.value_loss.sigma_ratio, 0.5);
  EXPECT_EQ(a.sac.tau, 0.01);
  EXPECT_EQ(a.sac.init_alpha, 1.0);
  EXPECT_FALSE(a.sac.learn_alpha);
  EXPECT_EQ(a.sac.target_entropy, -3.5);
  EXPECT_EQ(a.sac.actor_learning_rate, 2e-4);
  EXPECT_EQ(a.sac.critic_learning_rate, 1e-3);  // optimizer.learning_rate
  EXPECT_EQ(a.sac.alpha_learning_rate, 5e-5);
  EXPECT_EQ(a.dqn.target_update_period, 100);
  EXPECT_FALSE(a.dqn.double_q);
  EXPECT_TRUE(a.dqn.dueling);
  EXPECT_EQ(a.dqn.epsilon, 0.1);
  EXPECT_EQ(a.dqn.epsilon_alpha, 3.0);
  EXPECT_EQ(a.dqn.importance_beta_start, 0.5);
  EXPECT_EQ(a.dqn.importance_beta_end, 0.9);
  EXPECT_EQ(a.dqn.importance_beta_steps, 1000);
  EXPECT_EQ(a.dqn.huber_delta, 2.0);
  EXPECT_EQ(a.impala.unroll_length, 40);
  EXPECT_EQ(a.impala.unroll_overlap, 1);
  EXPECT_EQ(a.impala.rho_bar, 0.9);
  EXPECT_EQ(a.impala.c_bar, 0.8);
  EXPECT_EQ(a.impala.entropy_cost, 0.001);
  EXPECT_EQ(a.impala.baseline_cost, 0.25);

  EXPECT_THAT(c.network.hidden, ElementsAre(64, 32, 16));
  EXPECT_EQ(c.network.activation, Activation::kGelu);
  EXPECT_TRUE(c.network.layer_norm);

  ASSERT_EQ(c.tables.size(), 2u);
  const TableConfig& t = c.tables[0];
  EXPECT_EQ(t.name, "transitions");
  EXPECT_EQ(t.sampler.kind, SelectorKind::kPrioritized);
  EXPECT_EQ(t.sampler.priority_exponent, 0.8);
  EXPECT_EQ(t.remover.kind, SelectorKind::kLifo);
  EXPECT_EQ(t.max_size, 1000000);
  EXPECT_EQ(t.max_bytes, 1073741824);
  EXPECT_EQ(t.max_times_sampled, 8);
  EXPECT_EQ(t.rate_limiter.kind, RateLimiterKind::kSampleToInsertRatio);
  EXPECT_EQ(t.rate_limiter.min_size_to_sample, 5000);
  EXPECT_EQ(t.rate_limiter.samples_per_insert, 4.0);
  EXPECT_EQ(t.rate_limiter.error_buffer, 400.0);
  EXPECT_EQ(t.rate_limiter.min_diff, 5000 * 4.0 - 400);
  EXPECT_EQ(t.rate_limiter.max_diff, 5000 * 4.0 + 400);
  ASSERT_EQ(t.signature.size(), 2u);
  EXPECT_EQ(t.signature[0].name, "observation");
  EXPECT_EQ(t.signature[0].dtype, v1::DTYPE_FLOAT32);
  EXPECT_THAT(t.signature[0].shape, ElementsAre(64));
  EXPECT_TRUE(t.signature[0].allow_nonfinite);
  EXPECT_EQ(t.signature[1].dtype, v1::DTYPE_FLOAT64);
  EXPECT_THAT(t.signature[1].shape, ElementsAre(-1, 2));
  EXPECT_FALSE(t.signature[1].allow_nonfinite);
  const TableConfig& q = c.tables[1];
  EXPECT_EQ(q.name, "Unrolls");
  EXPECT_EQ(q.sampler.kind, SelectorKind::kFifo);
  EXPECT_EQ(q.remover.kind, SelectorKind::kFifo);
  EXPECT_EQ(q.rate_limiter.kind, RateLimiterKind::kQueue);
  EXPECT_EQ(q.rate_limiter.min_size_to_sample, 1);
  EXPECT_EQ(q.rate_limiter.samples_per_insert, 1.0);
  EXPECT_EQ(q.rate_limiter.min_diff, 0.0);
  EXPECT_EQ(q.rate_limiter.max_diff, 32.0);
  EXPECT_TRUE(q.signature.empty());

  EXPECT_EQ(c.replay.shards, 2);
  EXPECT_EQ(c.replay.addresses, "r0:7000, r1:7000");
  EXPECT_THAT(ReplayAddressList(c.replay), ElementsAre("r0:7000", "r1:7000"));
  EXPECT_EQ(c.replay.max_message_bytes, 8388608);
  EXPECT_EQ(c.replay.checkpoint_every_s, 300);
  EXPECT_EQ(c.actor.num_actors, 8);
  EXPECT_EQ(c.actor.num_envs, 4);
  EXPECT_EQ(c.actor.table, "Unrolls");
  EXPECT_EQ(c.actor.max_unacked_bytes, 1048576);
  EXPECT_EQ(c.actor.max_unacked_items, 48);
  EXPECT_EQ(c.ActorMaxUnackedItems(), 48);
  EXPECT_EQ(c.actor.items_per_insert, 16);
  EXPECT_EQ(c.actor.initial_policy, InitialPolicy::kUniform);
  EXPECT_EQ(c.actor.inference_threads, 2);
  EXPECT_EQ(c.actor.report_every_episodes, 1);
  EXPECT_EQ(c.learner.address, "learner:7100");
  EXPECT_EQ(c.learner.device, DeviceKind::kCuda);
  EXPECT_EQ(c.learner.table, "transitions");
  EXPECT_EQ(c.learner.publish_every_steps, 400);
  EXPECT_EQ(c.learner.prefetch_batches, 8);
  EXPECT_EQ(c.learner.num_threads, 4);
  EXPECT_EQ(c.learner.checkpoint_every_s, 0);
  EXPECT_EQ(c.learner.max_steps, 1000000);
  EXPECT_EQ(c.eval.episodes, 5);
  EXPECT_EQ(c.eval.every_s, 30);
  EXPECT_EQ(c.stop.eval_return, -120.5);
  EXPECT_EQ(c.stop.env_steps, 2000000);
  EXPECT_EQ(c.stop.wall_time_s, 3600);
  EXPECT_EQ(c.security.tls_cert, "c.pem");
  EXPECT_EQ(c.security.tls_key, "k.pem");
  EXPECT_EQ(c.security.tls_ca, "ca.pem");
  EXPECT_EQ(c.security.tokens_file, "tokens.txt");
  EXPECT_EQ(c.security.token_file, "token.txt");
}

TEST(ExperimentConfigTest, MissingKeysTakeTheirDefaults) {
  absl::StatusOr<ExperimentConfig> loaded = LoadText(kMinimal);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const ExperimentConfig& c = *loaded;
  EXPECT_EQ(c.experiment, "t");
  EXPECT_EQ(c.seed, 0);
  EXPECT_EQ(c.env.name, "cartpole");
  EXPECT_EQ(c.env.max_episode_steps, 0);
  EXPECT_EQ(c.env.remote.timeout_ms, 5000);
  EXPECT_EQ(c.algorithm.name, AlgorithmKind::kDqn);
  EXPECT_EQ(c.algorithm.discount, 0.99);
  EXPECT_EQ(c.algorithm.n_step, 3);
  EXPECT_EQ(c.algorithm.batch_size, 256);
  EXPECT_EQ(c.algorithm.optimizer.learning_rate, 3e-4);
  EXPECT_EQ(c.algorithm.value_loss.kind, ValueLossKind::kMse);
  EXPECT_EQ(c.algorithm.value_loss.num_bins, 51);
  EXPECT_FALSE(c.algorithm.sac.target_entropy.has_value());  // auto
  EXPECT_EQ(c.algorithm.sac.critic_learning_rate, 3e-4);
  EXPECT_EQ(c.algorithm.dqn.target_update_period, 500);
  EXPECT_EQ(c.algorithm.dqn.epsilon, 0.4);
  EXPECT_EQ(c.algorithm.impala.unroll_length, 20);
  EXPECT_THAT(c.network.hidden, ElementsAre(256, 256));
  EXPECT_EQ(c.network.activation, Activation::kRelu);
  ASSERT_EQ(c.tables.size(), 1u);
  const TableConfig& t = c.tables[0];
  EXPECT_EQ(t.name, "transitions");
  EXPECT_EQ(t.sampler.kind, SelectorKind::kUniform);
  EXPECT_EQ(t.remover.kind, SelectorKind::kFifo);
  EXPECT_EQ(t.max_size, 100000);
  EXPECT_EQ(t.rate_limiter.kind, RateLimiterKind::kMinSize);
  EXPECT_EQ(t.rate_limiter.min_size_to_sample, 1000);
  EXPECT_EQ(t.rate_limiter.samples_per_insert, 1.0);
  EXPECT_EQ(t.rate_limiter.min_diff, std::numeric_limits<double>::lowest());
  EXPECT_EQ(t.rate_limiter.max_diff, std::numeric_limits<double>::max());
  EXPECT_EQ(c.replay.shards, 1);
  EXPECT_EQ(c.replay.addresses, "");
  EXPECT_TRUE(ReplayAddressList(c.replay).empty());
  EXPECT_EQ(c.replay.max_message_bytes, 4194304);
  EXPECT_EQ(c.actor.num_envs, 16);
  EXPECT_EQ(c.actor.table, "transitions");
  EXPECT_EQ(c.actor.max_unacked_bytes, 67108864);
  EXPECT_EQ(c.actor.max_unacked_items, 0);
  EXPECT_EQ(c.ActorMaxUnackedItems(), 0);  // min_size never holds inserts
  EXPECT_EQ(c.actor.initial_policy, InitialPolicy::kRandomWeights);
  EXPECT_EQ(c.learner.device, DeviceKind::kAuto);
  EXPECT_EQ(c.learner.publish_every_steps, 100);
  EXPECT_EQ(c.learner.checkpoint_every_s, 60);
  EXPECT_EQ(c.eval.episodes, 20);
  EXPECT_EQ(c.eval.every_s, 10);
  EXPECT_FALSE(c.stop.eval_return.has_value());
  EXPECT_EQ(c.stop.env_steps, 1000);
  EXPECT_EQ(c.security.tls_cert, "");
}

// A limiter that can hold inserts back bounds the actors' resend buffer
// to a few batches unless the config says otherwise.
TEST(ExperimentConfigTest, ActorResendBufferIsAFewBatchesWhenInsertsCanWait) {
  const std::string base =
      "experiment: t\nstop: {env_steps: 1}\nactor: {items_per_insert: 8}\n"
      "tables:\n  - name: transitions\n    rate_limiter: ";
  const auto items = [&](const std::string& limiter,
                         const ConfigOverrides& o = {}) {
    absl::StatusOr<ExperimentConfig> c = LoadText(base + limiter + "\n", o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->ActorMaxUnackedItems() : -1;
  };
  EXPECT_EQ(items("{kind: sample_to_insert_ratio, samples_per_insert: 4}"),
            ExperimentConfig::kAutoUnackedBatches * 8);
  EXPECT_EQ(items("{kind: queue}"), ExperimentConfig::kAutoUnackedBatches * 8);
  EXPECT_EQ(items("{kind: custom, min_diff: -10, max_diff: 10}"),
            ExperimentConfig::kAutoUnackedBatches * 8);
  EXPECT_EQ(items("{kind: custom, min_diff: -.inf, max_diff: .inf}"), 0);
  EXPECT_EQ(items("{kind: min_size}"), 0);
  EXPECT_EQ(items("{kind: queue}", {{"actor.max_unacked_items", "1000"}}),
            1000);
  EXPECT_EQ(LoadError("experiment: t\nactor: {max_unacked_items: -1}\n"),
            "cfg.yaml:2: actor.max_unacked_items: must be >= 0, got -1");
}

TEST(ExperimentConfigTest, ExampleFileParses) {
  const char* source = std::getenv("SHOAL_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "SHOAL_SOURCE_DIR is not set (run via ctest)";
  absl::StatusOr<ExperimentConfig> c = LoadExperimentConfig(
      std::string(source) + "/deploy/configs/example.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->experiment, "cartpole_dqn");
  EXPECT_EQ(c->tables[0].signature.size(), 5u);
}

TEST(ExperimentConfigTest, UnknownTopLevelKeyIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nseeds: 3\n"),
            "cfg.yaml:2: seeds: unknown key (did you mean seed?)");
}

TEST(ExperimentConfigTest, UnknownNestedKeyIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nalgorithm:\n  name: dqn\n"
                      "  batchsize: 32\n"),
            "cfg.yaml:4: algorithm.batchsize: unknown key "
            "(did you mean algorithm.batch_size?)");
  EXPECT_EQ(LoadError("experiment: t\nsecurity: {colour: red}\n"),
            "cfg.yaml:2: security.colour: unknown key");
}

TEST(ExperimentConfigTest, UnknownKeyInATableEntryIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\ntables:\n  - name: a\n"
                      "    maxsize: 10\n"),
            "cfg.yaml:4: tables[0].maxsize: unknown key "
            "(did you mean tables[0].max_size?)");
}

TEST(ExperimentConfigTest, WrongTypeIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nenv:\n  max_episode_steps: many\n"),
            "cfg.yaml:3: env.max_episode_steps: expected an integer, got "
            "'many'");
  EXPECT_EQ(LoadError("experiment: t\nnetwork: {layer_norm: 1}\n"),
            "cfg.yaml:2: network.layer_norm: expected true or false, got '1'");
  EXPECT_EQ(LoadError("experiment: t\nactor: 3\n"),
            "cfg.yaml:2: actor: expected a map, got '3'");
  EXPECT_EQ(LoadError("experiment: t\nnetwork: {hidden: [64, x]}\n"),
            "cfg.yaml:2: network.hidden[1]: expected an integer, got 'x'");
}

TEST(ExperimentConfigTest, OutOfRangeValueIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nactor:\n  num_envs: 0\n"),
            "cfg.yaml:3: actor.num_envs: must be >= 1, got 0");
  EXPECT_EQ(LoadError("experiment: t\nalgorithm: {discount: 0}\n"),
            "cfg.yaml:2: algorithm.discount: must be in (0, 1], got 0");
}

// Limits that components enforce at start (common/config_limits.h) are
// refused by the decoder first, with the file, line and key.

// The first table's header, lines 3 and 4 after kMinimal.
constexpr char kTable[] = "tables:\n  - name: transitions\n";

TEST(ExperimentConfigTest, TableSizeLimitsAreCheckedWithFileLineAndKey) {
  const std::string table = absl::StrCat(kMinimal, kTable);
  EXPECT_EQ(LoadError(absl::StrCat(table, "    max_size: 1e18\n")),
            "cfg.yaml:5: tables[0].max_size: must be <= 268435455, got 1e18");
  EXPECT_EQ(LoadError(absl::StrCat(table, "    max_size: 268435456\n")),
            "cfg.yaml:5: tables[0].max_size: must be <= 268435455, got "
            "268435456");
  EXPECT_EQ(LoadError(absl::StrCat(table, "    max_size: 0\n")),
            "cfg.yaml:5: tables[0].max_size: must be >= 1, got 0");
  EXPECT_EQ(LoadError(absl::StrCat(table, "    max_bytes: -1\n")),
            "cfg.yaml:5: tables[0].max_bytes: must be >= 0, got -1");
  EXPECT_EQ(LoadError(absl::StrCat(table, "    max_times_sampled: -1\n")),
            "cfg.yaml:5: tables[0].max_times_sampled: must be >= 0, got -1");
  EXPECT_EQ(LoadError(kMinimal, {{"tables[0].max_size", "268435456"}}),
            "--set tables[0].max_size=268435456: must be <= 268435455, got "
            "268435456");
}

TEST(ExperimentConfigTest, SignatureLimitsAreCheckedWithFileLineAndKey) {
  const std::string signature =
      absl::StrCat(kMinimal, kTable, "    signature:\n");
  EXPECT_EQ(LoadError(absl::StrCat(signature,
                                   "      - name: frames\n"
                                   "        shape: [65536, 65536]\n")),
            "cfg.yaml:7: tables[0].signature[0].shape: a float32 column of "
            "[65536, 65536] is over 2147483647 bytes");
  EXPECT_EQ(LoadError(absl::StrCat(signature,
                                   "      - {name: a, shape: [268435456]}\n"
                                   "      - {name: b, shape: [-1, 1e12]}\n"
                                   "      - {name: c, shape: [0, 1e12]}\n"
                                   "      - {name: d, dtype: uint8,\n"
                                   "         shape: [1073741824]}\n")),
            "cfg.yaml:10: tables[0].signature[3].shape: the fixed-shape "
            "columns up to this one are over 2147483647 bytes together");
  std::string extents = "1";
  for (int i = 1; i < 65; ++i) extents += ", 1";
  EXPECT_EQ(LoadError(absl::StrCat(signature, "      - {name: a, shape: [",
                                   extents, "]}\n")),
            "cfg.yaml:6: tables[0].signature[0].shape: must have at most 64 "
            "extents, got 65");
  EXPECT_EQ(
      LoadError(absl::StrCat(signature, "      - {name: a, shape: [-2]}\n")),
      "cfg.yaml:6: tables[0].signature[0].shape[0]: must be >= -1, got "
      "-2");
}

TEST(ExperimentConfigTest, ColumnBoundsAreOneNumberOrOnePerLastExtent) {
  const std::string signature =
      absl::StrCat(kMinimal, kTable, "    signature:\n");
  absl::StatusOr<ExperimentConfig> c = LoadText(absl::StrCat(
      signature,
      "      - {name: action, dtype: int64, shape: [], minimum: 0, "
      "maximum: 5}\n"
      "      - {name: box, shape: [2], minimum: [-1, -2.5], maximum: [1, 2]}\n"
      "      - {name: free, shape: [3]}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<ColumnConfig>& columns = c->tables[0].signature;
  EXPECT_EQ(columns[0].minimum, std::vector<double>{0});
  EXPECT_EQ(columns[0].maximum, std::vector<double>{5});
  EXPECT_EQ(columns[1].minimum, (std::vector<double>{-1, -2.5}));
  EXPECT_EQ(columns[1].maximum, (std::vector<double>{1, 2}));
  EXPECT_TRUE(columns[2].minimum.empty());
  EXPECT_TRUE(columns[2].maximum.empty());

  auto error = [&](const std::string& column) {
    return LoadError(absl::StrCat(signature, "      - ", column, "\n"));
  };
  EXPECT_EQ(error("{name: a, minimum: 0}"),
            "cfg.yaml:6: tables[0].signature[0].maximum: is required with "
            "minimum");
  EXPECT_EQ(error("{name: a, shape: [2], minimum: [0, 0], maximum: [1]}"),
            "cfg.yaml:6: tables[0].signature[0].maximum: has 1 values, but "
            "minimum has 2");
  EXPECT_EQ(error("{name: a, shape: [3], minimum: [0, 0], maximum: [1, 1]}"),
            "cfg.yaml:6: tables[0].signature[0].minimum: has 2 values: give "
            "one, or one per element of the last extent of shape [3]");
  EXPECT_EQ(error("{name: a, minimum: 2, maximum: 1}"),
            "cfg.yaml:6: tables[0].signature[0].minimum: 2 is above maximum "
            "1");
  EXPECT_EQ(error("{name: a, dtype: int64, minimum: 0, maximum: 1.5}"),
            "cfg.yaml:6: tables[0].signature[0].maximum: a int64 column's "
            "bound must be a whole number, got 1.5");
  EXPECT_EQ(error("{name: a, minimum: .nan, maximum: 1}"),
            "cfg.yaml:6: tables[0].signature[0].minimum: expected a finite "
            "number, got '.nan'");
  EXPECT_EQ(error("{name: a, minimum: [0, x], maximum: [1, 1]}"),
            "cfg.yaml:6: tables[0].signature[0].minimum[1]: expected a finite "
            "number, got 'x'");
}

TEST(ExperimentConfigTest, IntegersPastInt64AreOutOfRangeNotWrongType) {
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, kTable, "    max_size: 1e19\n")),
            "cfg.yaml:5: tables[0].max_size: must be <= 268435455, got 1e19");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "seed: 99999999999999999999\n")),
            "cfg.yaml:3: seed: must be <= 9223372036854775807, got "
            "99999999999999999999");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "seed: -1e30\n")),
            "cfg.yaml:3: seed: must be >= 0, got -1e30");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "network: {hidden: [8, 1e19]}\n")),
            "cfg.yaml:3: network.hidden[1]: must be <= 1048576, got 1e19");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "seed: 1.5e3\n")), "OK");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "seed: 1.5\n")),
            "cfg.yaml:3: seed: expected an integer, got '1.5'");
}

TEST(ExperimentConfigTest, SelectorLimitsAreCheckedWithFileLineAndKey) {
  const std::string table = absl::StrCat(kMinimal, kTable);
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    sampler: {kind: prioritized, "
                                   "priority_exponent: 1e400}\n")),
            "cfg.yaml:5: tables[0].sampler.priority_exponent: must be a "
            "finite number, got '1e400'");
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    remover:\n      kind: prioritized\n"
                                   "      priority_exponent: -0.5\n")),
            "cfg.yaml:7: tables[0].remover.priority_exponent: must be >= 0, "
            "got -0.5");
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    sampler: {priority_exponent: .inf}\n")),
            "cfg.yaml:5: tables[0].sampler.priority_exponent: must be a "
            "finite number, got '.inf'");
}

TEST(ExperimentConfigTest, RateLimiterInconsistenciesAreCheckedWithFileLine) {
  const std::string table = absl::StrCat(kMinimal, kTable);
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    max_size: 100\n    rate_limiter:\n"
                                   "      min_size_to_sample: 101\n")),
            "cfg.yaml:7: tables[0].rate_limiter.min_size_to_sample: must be "
            "<= the table's max_size (100), got 101");
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    rate_limiter:\n"
                                   "      min_size_to_sample: 0\n")),
            "cfg.yaml:6: tables[0].rate_limiter.min_size_to_sample: must be "
            ">= 1, got 0");
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    rate_limiter:\n"
                                   "      kind: sample_to_insert_ratio\n"
                                   "      samples_per_insert: 8\n"
                                   "      error_buffer: 4\n")),
            "cfg.yaml:8: tables[0].rate_limiter.error_buffer: must be >= "
            "max(1, samples_per_insert) = 8, got 4");
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    rate_limiter: {kind: custom, "
                                   "samples_per_insert: 0}\n")),
            "cfg.yaml:5: tables[0].rate_limiter.samples_per_insert: must be "
            "> 0, got 0");
  EXPECT_EQ(LoadError(absl::StrCat(table,
                                   "    rate_limiter: {kind: custom, "
                                   "min_diff: .nan}\n")),
            "cfg.yaml:5: tables[0].rate_limiter.min_diff: expected a number, "
            "got '.nan'");
}

TEST(ExperimentConfigTest, ActorLimitsAreCheckedWithFileLineAndKey) {
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "actor:\n  num_envs: 65537\n")),
            "cfg.yaml:4: actor.num_envs: must be <= 65536, got 65537");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "actor:\n  num_envs: 1e9\n")),
            "cfg.yaml:4: actor.num_envs: must be <= 65536, got 1e9");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "actor:\n  num_actors: 65537\n")),
            "cfg.yaml:4: actor.num_actors: must be <= 65536, got 65537");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "eval: {episodes: 65537}\n")),
            "cfg.yaml:3: eval.episodes: must be <= 65536, got 65537");
  EXPECT_EQ(LoadError(kMinimal, {{"actor.num_envs", "1e6"}}),
            "--set actor.num_envs=1e6: must be <= 65536, got 1e6");
}

TEST(ExperimentConfigTest, AlgorithmLimitsAreCheckedWithFileLineAndKey) {
  EXPECT_EQ(
      LoadError(absl::StrCat(kMinimal, "algorithm:\n  batch_size: 65537\n")),
      "cfg.yaml:4: algorithm.batch_size: must be <= 65536, got 65537");
  EXPECT_EQ(
      LoadError(absl::StrCat(kMinimal, "algorithm:\n  n_step: 1048577\n")),
      "cfg.yaml:4: algorithm.n_step: must be <= 1048576, got 1048577");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal,
                                   "algorithm:\n  impala:\n"
                                   "    unroll_length: 1048577\n")),
            "cfg.yaml:5: algorithm.impala.unroll_length: must be <= 1048576, "
            "got 1048577");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal,
                                   "env: {name: pendulum}\n"
                                   "algorithm:\n  name: impala\n")),
            "cfg.yaml:5: algorithm.name: impala needs a discrete action "
            "space, but env.name pendulum has box actions");
  EXPECT_EQ(
      LoadError(absl::StrCat(kMinimal, "replay: {checkpoint_every_s: 3e9}\n")),
      "cfg.yaml:3: replay.checkpoint_every_s: must be <= 2147483647, got 3e9");
}

TEST(ExperimentConfigTest, ValuesAtEveryComponentLimitAreAccepted) {
  absl::StatusOr<ExperimentConfig> c =
      LoadText(absl::StrCat(kMinimal, kTable,
                            "    max_size: 268435455\n"
                            "algorithm: {batch_size: 65536, n_step: 1048576,\n"
                            "            impala: {unroll_length: 1048576}}\n"
                            "actor: {num_actors: 65536, num_envs: 65536}\n"
                            "eval: {episodes: 65536}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tables[0].max_size, kMaxTableSize);
  EXPECT_EQ(c->algorithm.batch_size, kMaxSamplesPerRequest);
  EXPECT_EQ(c->algorithm.n_step, kMaxNStep);
  EXPECT_EQ(c->algorithm.impala.unroll_length, kMaxUnrollLength);
  EXPECT_EQ(c->actor.num_actors, kMaxActors);
  EXPECT_EQ(c->actor.num_envs, kMaxEnvsPerActor);
  EXPECT_EQ(c->eval.episodes, kMaxEnvsPerActor);
}

TEST(ExperimentConfigTest, BadEnumValueIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nenv: {name: cartpol}\n"),
            "cfg.yaml:2: env.name: expected one of cartpole|pendulum|acrobot|"
            "mountain_car|mountain_car_continuous|ks|remote, got 'cartpol'");
}

TEST(ExperimentConfigTest, WithoutAnEnvCatalogAnyEnvNameIsAccepted) {
  // A binary that builds no env (the learner, replay) cannot tell a
  // registered name from another, nor the env's action space.
  absl::StatusOr<ExperimentConfig> c = LoadText(
      "experiment: t\nstop: {env_steps: 1}\nenv: {name: my_env}\n"
      "algorithm: {name: sac}\n",
      /*o=*/{}, /*envs=*/nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->env.name, "my_env");
}

TEST(ExperimentConfigTest, WithoutAnEnvCatalogEnvNameMustStillBeAName) {
  EXPECT_EQ(LoadError("experiment: t\nenv: {name: Cart-Pole}\n", /*o=*/{},
                      /*envs=*/nullptr),
            "cfg.yaml:2: env.name: must match [a-z][a-z0-9_]{0,63}, got "
            "'Cart-Pole'");
}

TEST(ExperimentConfigTest, YamlSyntaxErrorNamesTheLine) {
  EXPECT_EQ(LoadError("experiment: t\nenv:\n  name: [cartpole\nseed: 1\n"),
            "cfg.yaml:4: invalid YAML: end of sequence flow not found");
}

TEST(ExperimentConfigTest, MissingFileIsNotFound) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/absent.yaml";
  absl::StatusOr<ExperimentConfig> c = LoadExperimentConfig(path);
  EXPECT_EQ(c.status(),
            absl::NotFoundError(absl::StrCat(
                path, ": cannot open config file: No such file or directory")));
}

TEST(ExperimentConfigTest, DuplicateTableNameIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nstop: {env_steps: 1}\ntables:\n"
                      "  - name: a\n  - name: b\n  - name: a\n"),
            "cfg.yaml:6: tables[2].name: duplicate table name 'a' "
            "(also tables[0])");
}

TEST(ExperimentConfigTest, UnknownReferencedTableIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nstop: {env_steps: 1}\n"
                      "tables: [{name: a}, {name: b}]\nlearner: {table: a}\n"
                      "actor:\n  table: c\n"),
            "cfg.yaml:6: actor.table: no table named 'c' (tables: a, b)");
}

TEST(ExperimentConfigTest, SacWithADiscreteEnvIsAnError) {
  EXPECT_EQ(LoadError("experiment: t\nstop: {env_steps: 1}\n"
                      "env: {name: cartpole}\nalgorithm:\n  name: sac\n"),
            "cfg.yaml:5: algorithm.name: sac needs a box action space, but "
            "env.name cartpole has discrete actions");
  EXPECT_EQ(LoadError("experiment: t\nstop: {env_steps: 1}\n"
                      "env: {name: pendulum}\n"),
            "cfg.yaml:1: algorithm.name: dqn needs a discrete action space, "
            "but env.name pendulum has box actions");
}

TEST(ExperimentConfigTest, OtherCrossFieldRulesAreChecked) {
  EXPECT_EQ(LoadError("experiment: t\n"),
            "cfg.yaml:1: stop: set at least one of stop.eval_return, "
            "stop.env_steps, stop.wall_time_s");
  EXPECT_EQ(LoadError("seed: 1\nstop: {env_steps: 1}\n"),
            "cfg.yaml:1: experiment: required key is missing");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal,
                                   "algorithm:\n  value_loss:\n"
                                   "    kind: hl_gauss\n    v_min: 3\n"
                                   "    v_max: 3\n")),
            "cfg.yaml:6: algorithm.value_loss.v_min: must be < "
            "algorithm.value_loss.v_max (3) for kind hl_gauss, got 3");
  EXPECT_EQ(
      LoadError(absl::StrCat(kMinimal,
                             "tables:\n  - name: a\n"
                             "    rate_limiter: {kind: custom, "
                             "min_diff: 5, max_diff: 1}\n"
                             "actor: {table: a}\n"
                             "learner: {table: a}\n")),
      "cfg.yaml:5: tables[0].rate_limiter.min_diff: must be <= max_diff (1), "
      "got 5");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal,
                                   "replay:\n  shards: 3\n"
                                   "  addresses: a:1,b:1\n")),
            "cfg.yaml:5: replay.addresses: lists 2 addresses but "
            "replay.shards is 3");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "stop: {env_steps: 2}\n")),
            "cfg.yaml:3: stop: duplicate key (first on line 2)");
}

TEST(ExperimentConfigTest, RateLimiterPresetsRejectKeysTheyDoNotRead) {
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal,
                                   "tables:\n  - name: transitions\n"
                                   "    rate_limiter:\n      kind: min_size\n"
                                   "      max_diff: 10\n")),
            "cfg.yaml:7: tables[0].rate_limiter.max_diff: not used by kind "
            "min_size (it reads min_size_to_sample)");
  absl::StatusOr<ExperimentConfig> c =
      LoadText(absl::StrCat(kMinimal,
                            "tables:\n  - name: transitions\n"
                            "    rate_limiter: {kind: custom, "
                            "samples_per_insert: 2, min_diff: -.inf, "
                            "max_diff: 100}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tables[0].rate_limiter.samples_per_insert, 2.0);
  EXPECT_EQ(c->tables[0].rate_limiter.min_diff,
            -std::numeric_limits<double>::infinity());
  EXPECT_EQ(c->tables[0].rate_limiter.max_diff, 100.0);
}

TEST(ExperimentConfigTest, OverridesReplaceAndAddScalars) {
  absl::StatusOr<ExperimentConfig> c =
      LoadText(absl::StrCat(kMinimal, "actor:\n  num_envs: 2\n"),
               {{"actor.num_envs", "32"},
                {"replay.shards", "2"},
                {"replay.addresses", "host:1,host:2"},
                {"tables[transitions].max_size", "5000"},
                {"tables[0].sampler.kind", "prioritized"},
                {"network.hidden[1]", "7"},
                {"stop.eval_return", "195"},
                {"algorithm.sac.target_entropy", "auto"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->actor.num_envs, 32);
  EXPECT_THAT(ReplayAddressList(c->replay), ElementsAre("host:1", "host:2"));
  EXPECT_EQ(c->tables[0].max_size, 5000);
  EXPECT_EQ(c->tables[0].sampler.kind, SelectorKind::kPrioritized);
  EXPECT_THAT(c->network.hidden, ElementsAre(256, 7));
  EXPECT_EQ(c->stop.eval_return, 195.0);

  absl::StatusOr<std::pair<std::string, std::string>> flag =
      ParseConfigOverride("learner.address=l:1=x");
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->first, "learner.address");
  EXPECT_EQ(flag->second, "l:1=x");
  EXPECT_EQ(
      ParseConfigOverride("seed").status(),
      absl::InvalidArgumentError("--set seed: expected dotted.key=value"));
}

TEST(ExperimentConfigTest, OverrideWithAWrongTypeNamesTheOverride) {
  EXPECT_EQ(LoadError(kMinimal, {{"actor.num_envs", "abc"}}),
            "--set actor.num_envs=abc: expected an integer, got 'abc'");
  EXPECT_EQ(LoadError(kMinimal, {{"actor.num_envs", "0"}}),
            "--set actor.num_envs=0: must be >= 1, got 0");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "network: {hidden: [8]}\n"),
                      {{"network.hidden", "[1, 2]"}}),
            "--set network.hidden=[1, 2]: only scalar fields can be "
            "overridden; network.hidden is a list");
  EXPECT_EQ(LoadError(kMinimal, {{"tables[3].max_size", "1"}}),
            "--set tables[3].max_size=1: index 3 is out of range (tables has "
            "1 entries)");
}

TEST(ExperimentConfigTest, OverrideOfAnUnknownKeyNamesTheOverride) {
  EXPECT_EQ(LoadError(kMinimal, {{"actor.num_env", "16"}}),
            "--set actor.num_env=16: unknown key "
            "(did you mean actor.num_envs?)");
  EXPECT_EQ(LoadError(kMinimal, {{"bogus.deep.key", "1"}}),
            "--set bogus.deep.key=1: bogus: unknown key");
}

TEST(ExperimentConfigTest, MalformedStructureIsAnError) {
  EXPECT_EQ(LoadError("- experiment: t\n"),
            "cfg.yaml:1: expected a map, got a list");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "tables: []\n")),
            "cfg.yaml:3: tables: must list at least one table");
  EXPECT_EQ(LoadError(absl::StrCat(kMinimal, "---\nexperiment: u\n")),
            "cfg.yaml:3: expected one YAML document, found more");
}

// Found by tests/fuzz/config_fuzz: yaml-cpp 0.7's LoadAll never returns on
// a lone ",". The loader must answer, with an error.
TEST(ExperimentConfigTest, StrayFlowIndicatorsAnswerInsteadOfHanging) {
  for (const char* text : {",", ",\n", "a: 1\n,\n", "- ,\n", "1\n\n-"}) {
    absl::StatusOr<ExperimentConfig> c = ParseExperimentConfig(text, "f.yaml");
    EXPECT_FALSE(c.ok()) << text;
    EXPECT_EQ(std::string(c.status().message()).find('\n'), std::string::npos);
  }
}

TEST(ExperimentConfigTest, ParseNamesTheGivenFile) {
  absl::StatusOr<ExperimentConfig> c =
      ParseExperimentConfig("experiment: Bad Name\n", "inline.yaml");
  EXPECT_EQ(c.status(),
            absl::InvalidArgumentError("inline.yaml:1: experiment: must match "
                                       "[a-z0-9_-]{1,64}, got 'Bad Name'"));
}

}  // namespace
}  // namespace shoal
