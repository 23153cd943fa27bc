#include "common/config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

#include "common/config_internal.h"

namespace shoal {
namespace config_internal {

template <>
absl::Span<const EnumEntry<AlgorithmKind>> EnumTable<AlgorithmKind>() {
  static constexpr EnumEntry<AlgorithmKind> kTable[] = {
      {"sac", AlgorithmKind::kSac},
      {"dqn", AlgorithmKind::kDqn},
      {"impala", AlgorithmKind::kImpala},
  };
  return kTable;
}

template <>
absl::Span<const EnumEntry<ValueLossKind>> EnumTable<ValueLossKind>() {
  static constexpr EnumEntry<ValueLossKind> kTable[] = {
      {"mse", ValueLossKind::kMse},
      {"hl_gauss", ValueLossKind::kHlGauss},
  };
  return kTable;
}

template <>
absl::Span<const EnumEntry<Activation>> EnumTable<Activation>() {
  static constexpr EnumEntry<Activation> kTable[] = {
      {"relu", Activation::kRelu}, {"tanh", Activation::kTanh},
      {"elu", Activation::kElu},   {"gelu", Activation::kGelu},
      {"silu", Activation::kSilu},
  };
  return kTable;
}

template <>
absl::Span<const EnumEntry<SelectorKind>> EnumTable<SelectorKind>() {
  static constexpr EnumEntry<SelectorKind> kTable[] = {
      {"uniform", SelectorKind::kUniform},
      {"prioritized", SelectorKind::kPrioritized},
      {"fifo", SelectorKind::kFifo},
      {"lifo", SelectorKind::kLifo},
      {"min_heap", SelectorKind::kMinHeap},
      {"max_heap", SelectorKind::kMaxHeap},
  };
  return kTable;
}

template <>
absl::Span<const EnumEntry<RateLimiterKind>> EnumTable<RateLimiterKind>() {
  static constexpr EnumEntry<RateLimiterKind> kTable[] = {
      {"min_size", RateLimiterKind::kMinSize},
      {"sample_to_insert_ratio", RateLimiterKind::kSampleToInsertRatio},
      {"queue", RateLimiterKind::kQueue},
      {"custom", RateLimiterKind::kCustom},
  };
  return kTable;
}

template <>
absl::Span<const EnumEntry<InitialPolicy>> EnumTable<InitialPolicy>() {
  static constexpr EnumEntry<InitialPolicy> kTable[] = {
      {"random_weights", InitialPolicy::kRandomWeights},
      {"uniform", InitialPolicy::kUniform},
      {"zero", InitialPolicy::kZero},
  };
  return kTable;
}

template <>
absl::Span<const EnumEntry<DeviceKind>> EnumTable<DeviceKind>() {
  static constexpr EnumEntry<DeviceKind> kTable[] = {
      {"auto", DeviceKind::kAuto},
      {"cpu", DeviceKind::kCpu},
      {"cuda", DeviceKind::kCuda},
  };
  return kTable;
}

template <>
absl::Span<const EnumEntry<v1::DType>> EnumTable<v1::DType>() {
  static constexpr EnumEntry<v1::DType> kTable[] = {
      {"float32", v1::DTYPE_FLOAT32}, {"float64", v1::DTYPE_FLOAT64},
      {"int32", v1::DTYPE_INT32},     {"int64", v1::DTYPE_INT64},
      {"uint8", v1::DTYPE_UINT8},     {"bool", v1::DTYPE_BOOL},
  };
  return kTable;
}

}  // namespace config_internal

namespace {

template <typename E>
absl::string_view NameOf(E v) {
  for (const auto& e : config_internal::EnumTable<E>()) {
    if (e.value == v) return e.name;
  }
  return "unknown";
}

}  // namespace

absl::string_view EnumName(AlgorithmKind v) { return NameOf(v); }
absl::string_view EnumName(ValueLossKind v) { return NameOf(v); }
absl::string_view EnumName(Activation v) { return NameOf(v); }
absl::string_view EnumName(SelectorKind v) { return NameOf(v); }
absl::string_view EnumName(RateLimiterKind v) { return NameOf(v); }
absl::string_view EnumName(InitialPolicy v) { return NameOf(v); }
absl::string_view EnumName(DeviceKind v) { return NameOf(v); }
absl::string_view EnumName(v1::DType v) { return NameOf(v); }

v1::TensorSpec ToTensorSpec(const ColumnConfig& column) {
  v1::TensorSpec spec;
  spec.set_name(column.name);
  spec.set_dtype(column.dtype);
  for (int64_t d : column.shape) spec.add_shape(d);
  spec.set_allow_nonfinite(column.allow_nonfinite);
  return spec;
}

std::vector<std::string> ReplayAddressList(const ReplayConfig& replay) {
  std::vector<std::string> out;
  if (replay.addresses.empty()) return out;
  for (absl::string_view a : absl::StrSplit(replay.addresses, ',')) {
    out.emplace_back(absl::StripAsciiWhitespace(a));
  }
  return out;
}

const TableConfig* ExperimentConfig::FindTable(absl::string_view name) const {
  for (const TableConfig& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

int64_t ExperimentConfig::ActorMaxUnackedItems() const {
  if (actor.max_unacked_items > 0) return actor.max_unacked_items;
  const TableConfig* table = FindTable(actor.table);
  const bool holds_inserts =
      table != nullptr && std::isfinite(table->rate_limiter.max_diff) &&
      table->rate_limiter.max_diff < std::numeric_limits<double>::max();
  return holds_inserts ? kAutoUnackedBatches * actor.items_per_insert : 0;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseConfigOverride(
    absl::string_view key_equals_value) {
  const size_t eq = key_equals_value.find('=');
  const absl::string_view key =
      absl::StripAsciiWhitespace(key_equals_value.substr(0, eq));
  if (eq == absl::string_view::npos || key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--set ", key_equals_value, ": expected dotted.key=value"));
  }
  return std::make_pair(std::string(key),
                        std::string(key_equals_value.substr(eq + 1)));
}

namespace {

// Counts documents and remembers where the second one starts.
class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second_line = mark.line;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  int documents = 0;
  int second_line = 0;
};

}  // namespace

absl::StatusOr<ExperimentConfig> ParseExperimentConfig(
    absl::string_view yaml_text, absl::string_view file_name_for_errors,
    const ConfigOverrides& overrides, const EnvCatalog* envs) {
  config_internal::ConfigContext ctx(file_name_for_errors, envs);
  // yaml-cpp throws; nothing of it leaves this function.
  try {
    const std::string text(yaml_text);
    YAML::Node root = YAML::Load(text);
    // A second document is an error. YAML::LoadAll would tell, but on some
    // inputs (a lone ",") yaml-cpp 0.7 loops forever in it: count at most
    // two documents by hand.
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentCounter counter;
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
    if (counter.documents > 1) {
      ctx.ErrorAtLine(counter.second_line,
                      "expected one YAML document, found more");
      return ctx.status();
    }
    config_internal::ApplyOverrides(overrides, &root, &ctx);
    if (!ctx.ok()) return ctx.status();
    ExperimentConfig config;
    config_internal::DecodeExperiment(root, &ctx, &config);
    if (!ctx.ok()) return ctx.status();
    config_internal::ValidateExperiment(config, &ctx);
    if (!ctx.ok()) return ctx.status();
    return config;
  } catch (const YAML::Exception& e) {
    ctx.ErrorAtLine(e.mark.line,
                    absl::StrCat("invalid YAML: ",
                                 absl::StrReplaceAll(e.msg, {{"\n", " "}})));
    return ctx.status();
  }
}

absl::StatusOr<ExperimentConfig> LoadExperimentConfig(
    const std::string& path, const ConfigOverrides& overrides,
    const EnvCatalog* envs) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a directory, not a config file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    const int err = errno;
    const std::string why =
        absl::StrCat(path, ": cannot open config file: ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(why);
    return absl::InvalidArgumentError(why);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read config file"));
  }
  return ParseExperimentConfig(text.str(), path, overrides, envs);
}

}  // namespace shoal
