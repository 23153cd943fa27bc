// Internal to the config library (config*.cc): the YAML reading helpers that
// turn a YAML::Node tree into ExperimentConfig with one-line errors. Not for
// use outside common/config*.
//
// ConfigContext remembers where every dotted key came from (a file line or
// a --set override) and collects errors; the first in source order is the
// one reported. MapReader reads one YAML map strictly: typed getters with
// range checks, duplicate and unknown key detection.
//
// Thread-compatible; each Parse call uses its own objects.
#ifndef SHOAL_COMMON_CONFIG_INTERNAL_H_
#define SHOAL_COMMON_CONFIG_INTERNAL_H_

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "yaml-cpp/yaml.h"

#include "common/config.h"
#include "common/quote.h"

namespace shoal {
namespace config_internal {

// The YAML spelling of one enum value.
template <typename E>
struct EnumEntry {
  absl::string_view name;
  E value;
};
// Every value of E with its spelling (defined in config.cc for each enum
// in config.h and for v1::DType).
template <typename E>
absl::Span<const EnumEntry<E>> EnumTable();

// "a|b|c" for E's table.
template <typename E>
std::string EnumChoices() {
  std::string out;
  for (const EnumEntry<E>& e : EnumTable<E>()) {
    if (!out.empty()) out += "|";
    out.append(e.name.data(), e.name.size());
  }
  return out;
}

// Where keys came from, and the errors found. A path is dotted with list
// indices: "tables[0].rate_limiter.min_diff".
class ConfigContext {
 public:
  // `envs` (not owned; may be null) is what env.name is checked against.
  explicit ConfigContext(absl::string_view file_name,
                         const EnvCatalog* envs = nullptr);

  // `path` (and everything below it) was written by override number
  // `index`, spelled "--set <key>=<value>" by the user, which sets the
  // scalar at `key_path` (the normalized `key`). Replaces any earlier source
  // of `path`.
  void SetOverrideSource(const std::string& path, int index,
                         absl::string_view key, absl::string_view value,
                         const std::string& key_path);
  // `path` appears on 0-based `line` of the file, unless already known.
  void SetLine(const std::string& path, int line);

  // Records an error about `path`, located at the nearest known source of
  // the path or one of its parents (line 1 when none is known).
  void Error(const std::string& path, absl::string_view message);
  // Records an error about override number `index` itself.
  void OverrideError(int index, absl::string_view key, absl::string_view value,
                     absl::string_view message);
  // Records an error at a 0-based file line, with no key.
  void ErrorAtLine(int line, absl::string_view message);

  bool ok() const { return errors_.empty(); }
  // OK, or INVALID_ARGUMENT with the first error in source order: file
  // errors by line, then override errors by override order; in each, errors
  // located at their own key before those located by a parent.
  absl::Status status() const;

  const std::string& file_name() const { return file_name_; }
  // The built-in envs env.name may name; null when not known here.
  const EnvCatalog* envs() const { return envs_; }

 private:
  struct Source {
    int line = 0;               // 1-based; for file sources.
    int override_index = -1;    // >= 0 for override sources.
    std::string override_text;  // "--set k=v".
    std::string override_path;  // the path the override sets.
  };
  struct Found {
    int order_class = 0;   // 0 file, 1 override.
    bool inexact = false;  // located by a parent of its path, or line 1.
    int order = 0;
    std::string text;
  };

  const std::string file_name_;
  const EnvCatalog* const envs_;
  std::map<std::string, Source> sources_;
  std::vector<Found> errors_;
};

// Accepted values of a number: [lo, hi] with optionally open ends.
struct Bounds {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;

  static Bounds Any() { return Bounds(); }
  static Bounds AtLeast(double lo) { return {lo, Any().hi, false, false}; }
  static Bounds Above(double lo) { return {lo, Any().hi, true, false}; }
  static Bounds Closed(double lo, double hi) { return {lo, hi, false, false}; }
  static Bounds LeftOpen(double lo, double hi) { return {lo, hi, true, false}; }

  bool Contains(double v) const;
  // "must be >= 1" / "must be in (0, 1]".
  std::string Describe() const;
};

// Reads one map node at `path` ("" for the root). A missing (undefined or
// null) node reads as an empty map, so every key keeps its default. Each
// getter reads `key` if present, leaving *out unchanged otherwise, and
// returns false only when the key was present and bad (error recorded).
class MapReader {
 public:
  MapReader(ConfigContext* ctx, const YAML::Node& node, std::string path);

  bool Has(absl::string_view key) const;
  // The dotted path of `key`.
  std::string PathOf(absl::string_view key) const;

  bool Int(absl::string_view key, int64_t* out,
           int64_t min = std::numeric_limits<int64_t>::min(),
           int64_t max = std::numeric_limits<int64_t>::max());
  bool Double(absl::string_view key, double* out, Bounds bounds = Bounds(),
              bool allow_infinite = false);
  // null reads as nullopt; `auto_word`, when not empty, also reads as
  // nullopt (target_entropy: auto).
  bool OptionalDouble(absl::string_view key, std::optional<double>* out,
                      absl::string_view auto_word = "");
  bool Bool(absl::string_view key, bool* out);
  // null reads as "".
  bool String(absl::string_view key, std::string* out);
  // Records an error when the key is missing.
  bool Required(absl::string_view key);
  template <typename E>
  bool Enum(absl::string_view key, E* out);
  // One finite number, or a list of them.
  bool Numbers(absl::string_view key, std::vector<double>* out);
  // A list of integers, each within [min, max].
  bool IntList(absl::string_view key, std::vector<int64_t>* out, int64_t min,
               int64_t max);
  // The child node at `key` (undefined when absent), marked as known.
  YAML::Node Child(absl::string_view key);
  // The items of a list at `key` (empty when absent); false and an error
  // when it is not a list.
  bool List(absl::string_view key, std::vector<YAML::Node>* items);

  // Reports `key` as present but not allowed here (`why`).
  void Disallow(absl::string_view key, absl::string_view why);

  // Reports every key not asked for by a getter as unknown, with a
  // suggestion among the keys that were asked for.
  void Finish();

  ConfigContext* context() const { return ctx_; }

 private:
  // Marks `key` as known; its node, or nullptr when absent.
  const YAML::Node* Lookup(absl::string_view key);
  // Sets *text to the scalar at `key` when present; false (and an error
  // naming `expected`) when present but not a scalar.
  bool Scalar(absl::string_view key, absl::string_view expected,
              std::string* text);
  bool ParseEnumText(absl::string_view key, absl::string_view text,
                     absl::Span<const absl::string_view> names, int* index);

  ConfigContext* const ctx_;
  const std::string path_;
  std::map<std::string, YAML::Node, std::less<>> entries_;
  std::vector<std::string> order_;  // keys in file order
  std::set<std::string, std::less<>> known_;
};

template <typename E>
bool MapReader::Enum(absl::string_view key, E* out) {
  std::string text;
  if (!Scalar(key, "one of " + EnumChoices<E>(), &text)) return false;
  if (!Has(key)) return true;
  std::vector<absl::string_view> names;
  for (const EnumEntry<E>& e : EnumTable<E>()) names.push_back(e.name);
  int index = 0;
  if (!ParseEnumText(key, text, names, &index)) return false;
  *out = EnumTable<E>()[index].value;
  return true;
}

// "'text'" for a scalar, "a map", "a list" or "null" for the others.
std::string DescribeNode(const YAML::Node& node);

// Applies `overrides` to the tree (creating missing maps), recording each
// as the source of the paths it wrote. Errors (bad key syntax, a list index
// out of range, a map or list replaced by a scalar) go to `ctx`.
void ApplyOverrides(const ConfigOverrides& overrides, YAML::Node* root,
                    ConfigContext* ctx);
// Decodes the whole tree into *config (defaults for missing keys).
void DecodeExperiment(const YAML::Node& root, ConfigContext* ctx,
                      ExperimentConfig* config);
// Cross-field checks on a decoded config.
void ValidateExperiment(const ExperimentConfig& config, ConfigContext* ctx);

}  // namespace config_internal
}  // namespace shoal

#endif  // SHOAL_COMMON_CONFIG_INTERNAL_H_
