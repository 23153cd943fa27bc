// ConfigContext and MapReader: strict, located reading of YAML maps.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

#include "common/config_internal.h"

namespace shoal {
namespace config_internal {
namespace {

// `text` with control characters escaped ("\n", "\x01"): an error quotes
// keys and values from the input, which may hold newlines, and must stay
// one line.
std::string OneLine(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrCat("\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  return out;
}

// The parent of a dotted path: "a.b[2]" -> "a.b" -> "a" -> "".
std::string ParentPath(const std::string& path) {
  const size_t cut = path.find_last_of(".[");
  return cut == std::string::npos ? "" : path.substr(0, cut);
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Parses YAML's number spellings, including .inf, -.inf and .nan.
bool ParseDouble(absl::string_view text, double* out) {
  std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (lower == ".inf" || lower == "+.inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == "-.inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == ".nan") {
    *out = std::nan("");
    return true;
  }
  // absl also takes "inf", "nan" and hex; YAML does not.
  if (lower.find_first_of("ipnx") != std::string::npos) return false;
  return absl::SimpleAtod(lower, out);
}

// Integers, also written as an exactly integral number such as 1e6. An
// integral number past int64 (1e19, 99999999999999999999) reads as the
// int64 bound on its side, with *past set, so that it is reported as out of
// range rather than as not an integer.
bool ParseInt(absl::string_view text, int64_t* out, bool* past) {
  *past = false;
  if (absl::SimpleAtoi(text, out)) return true;
  double d = 0;
  if (!ParseDouble(text, &d) || !std::isfinite(d) || d != std::floor(d)) {
    return false;
  }
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (d >= kTwoTo63 || d < -kTwoTo63) {
    *past = true;
    *out = d < 0 ? std::numeric_limits<int64_t>::min()
                 : std::numeric_limits<int64_t>::max();
    return true;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

// "must be >= 1, got 0" for `v` (spelled `text`) unless it is within
// [min, max] and not `past` int64; names the bound that it is past.
std::optional<std::string> IntRangeError(absl::string_view text, int64_t v,
                                         bool past, int64_t min, int64_t max) {
  if (v < min || (past && v < 0)) {
    return absl::StrCat("must be >= ", min, ", got ", text);
  }
  if (v > max || past) return absl::StrCat("must be <= ", max, ", got ", text);
  return std::nullopt;
}

}  // namespace

std::string DescribeNode(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return Quote(node.Scalar());
  return "null";
}

// ---- ConfigContext ----

ConfigContext::ConfigContext(absl::string_view file_name,
                             const EnvCatalog* envs)
    : file_name_(file_name), envs_(envs) {}

void ConfigContext::SetOverrideSource(const std::string& path, int index,
                                      absl::string_view key,
                                      absl::string_view value,
                                      const std::string& key_path) {
  Source& s = sources_[path];
  s.override_index = index;
  s.override_text = absl::StrCat("--set ", key, "=", value);
  s.override_path = key_path;
}

void ConfigContext::SetLine(const std::string& path, int line) {
  Source s;
  s.line = line < 0 ? 1 : line + 1;
  sources_.emplace(path, s);
}

void ConfigContext::Error(const std::string& path, absl::string_view message) {
  const std::string prefix = path.empty() ? "" : absl::StrCat(path, ": ");
  for (std::string p = path;; p = ParentPath(p)) {
    auto it = sources_.find(p);
    if (it != sources_.end()) {
      const Source& s = it->second;
      const bool inexact = p != path;
      if (s.override_index >= 0) {
        // Name the key only when the error is about another key than the
        // one the override set.
        const std::string key = path == s.override_path ? "" : prefix;
        errors_.push_back({1, inexact, s.override_index,
                           absl::StrCat(s.override_text, ": ", key, message)});
      } else {
        errors_.push_back(
            {0, inexact, s.line,
             absl::StrCat(file_name_, ":", s.line, ": ", prefix, message)});
      }
      return;
    }
    if (p.empty()) break;
  }
  errors_.push_back(
      {0, true, 1, absl::StrCat(file_name_, ":1: ", prefix, message)});
}

void ConfigContext::OverrideError(int index, absl::string_view key,
                                  absl::string_view value,
                                  absl::string_view message) {
  errors_.push_back({1, false, index,
                     absl::StrCat("--set ", key, "=", value, ": ", message)});
}

void ConfigContext::ErrorAtLine(int line, absl::string_view message) {
  const int human = line < 0 ? 1 : line + 1;
  errors_.push_back(
      {0, false, human, absl::StrCat(file_name_, ":", human, ": ", message)});
}

absl::Status ConfigContext::status() const {
  if (errors_.empty()) return absl::OkStatus();
  const Found* first = &errors_[0];
  for (const Found& f : errors_) {
    if (std::make_tuple(f.order_class, f.inexact, f.order) <
        std::make_tuple(first->order_class, first->inexact, first->order)) {
      first = &f;
    }
  }
  return absl::InvalidArgumentError(OneLine(first->text));
}

// ---- Bounds ----

bool Bounds::Contains(double v) const {
  if (std::isnan(v)) return false;
  if (lo_open ? !(v > lo) : !(v >= lo)) return false;
  if (hi_open ? !(v < hi) : !(v <= hi)) return false;
  return true;
}

std::string Bounds::Describe() const {
  const bool has_lo = std::isfinite(lo);
  const bool has_hi = std::isfinite(hi);
  if (has_lo && has_hi) {
    return absl::StrCat("must be in ", lo_open ? "(" : "[", lo, ", ", hi,
                        hi_open ? ")" : "]");
  }
  if (has_lo) return absl::StrCat("must be ", lo_open ? "> " : ">= ", lo);
  if (has_hi) return absl::StrCat("must be ", hi_open ? "< " : "<= ", hi);
  return "must be a number";
}

// ---- MapReader ----

MapReader::MapReader(ConfigContext* ctx, const YAML::Node& node,
                     std::string path)
    : ctx_(ctx), path_(std::move(path)) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    ctx_->Error(path_,
                absl::StrCat("expected a map, got ", DescribeNode(node)));
    return;
  }
  std::map<std::string, int> first_line;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int line = it->first.Mark().line;
    if (!it->first.IsScalar()) {
      ctx_->ErrorAtLine(line, absl::StrCat(path_.empty() ? "" : path_ + ": ",
                                           "keys must be plain words, got ",
                                           DescribeNode(it->first)));
      continue;
    }
    const std::string key = it->first.Scalar();
    ctx_->SetLine(PathOf(key), line);
    auto [prev, inserted] = first_line.emplace(key, line + 1);
    if (!inserted) {
      ctx_->ErrorAtLine(
          line, absl::StrCat(PathOf(key), ": duplicate key (first on line ",
                             prev->second, ")"));
      continue;
    }
    entries_.emplace(key, it->second);
    order_.push_back(key);
  }
}

bool MapReader::Has(absl::string_view key) const {
  return entries_.find(key) != entries_.end();
}

std::string MapReader::PathOf(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

const YAML::Node* MapReader::Lookup(absl::string_view key) {
  known_.emplace(key);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

bool MapReader::Scalar(absl::string_view key, absl::string_view expected,
                       std::string* text) {
  const YAML::Node* node = Lookup(key);
  if (node == nullptr) return true;
  if (!node->IsScalar()) {
    ctx_->Error(PathOf(key), absl::StrCat("expected ", expected, ", got ",
                                          DescribeNode(*node)));
    return false;
  }
  *text = node->Scalar();
  return true;
}

bool MapReader::Int(absl::string_view key, int64_t* out, int64_t min,
                    int64_t max) {
  std::string text;
  if (!Scalar(key, "an integer", &text)) return false;
  if (!Has(key)) return true;
  int64_t v = 0;
  bool past = false;
  if (!ParseInt(text, &v, &past)) {
    ctx_->Error(PathOf(key),
                absl::StrCat("expected an integer, got ", Quote(text)));
    return false;
  }
  if (std::optional<std::string> e = IntRangeError(text, v, past, min, max)) {
    ctx_->Error(PathOf(key), *e);
    return false;
  }
  *out = v;
  return true;
}

bool MapReader::Double(absl::string_view key, double* out, Bounds bounds,
                       bool allow_infinite) {
  std::string text;
  if (!Scalar(key, "a number", &text)) return false;
  if (!Has(key)) return true;
  double v = 0;
  if (!ParseDouble(text, &v) || std::isnan(v)) {
    ctx_->Error(PathOf(key),
                absl::StrCat("expected a number, got ", Quote(text)));
    return false;
  }
  if (std::isinf(v) && !allow_infinite) {
    ctx_->Error(PathOf(key),
                absl::StrCat("must be a finite number, got ", Quote(text)));
    return false;
  }
  if (!bounds.Contains(v)) {
    ctx_->Error(PathOf(key), absl::StrCat(bounds.Describe(), ", got ", text));
    return false;
  }
  *out = v;
  return true;
}

bool MapReader::OptionalDouble(absl::string_view key,
                               std::optional<double>* out,
                               absl::string_view auto_word) {
  const YAML::Node* node = Lookup(key);
  if (node == nullptr) return true;
  if (node->IsNull() ||
      (!auto_word.empty() && node->IsScalar() && node->Scalar() == auto_word)) {
    *out = std::nullopt;
    return true;
  }
  double v = 0;
  const std::string expected =
      auto_word.empty() ? "a number or null"
                        : absl::StrCat("a number or ", Quote(auto_word));
  if (!node->IsScalar() || !ParseDouble(node->Scalar(), &v) ||
      !std::isfinite(v)) {
    ctx_->Error(PathOf(key), absl::StrCat("expected ", expected, ", got ",
                                          DescribeNode(*node)));
    return false;
  }
  *out = v;
  return true;
}

bool MapReader::Bool(absl::string_view key, bool* out) {
  std::string text;
  if (!Scalar(key, "true or false", &text)) return false;
  if (!Has(key)) return true;
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower != "true" && lower != "false") {
    ctx_->Error(PathOf(key),
                absl::StrCat("expected true or false, got ", Quote(text)));
    return false;
  }
  *out = lower == "true";
  return true;
}

bool MapReader::String(absl::string_view key, std::string* out) {
  const YAML::Node* node = Lookup(key);
  if (node == nullptr) return true;
  if (node->IsNull()) {
    out->clear();
    return true;
  }
  std::string text;
  if (!Scalar(key, "a string", &text)) return false;
  *out = text;
  return true;
}

bool MapReader::Required(absl::string_view key) {
  known_.emplace(key);
  if (Has(key)) return true;
  ctx_->Error(PathOf(key), "required key is missing");
  return false;
}

bool MapReader::ParseEnumText(absl::string_view key, absl::string_view text,
                              absl::Span<const absl::string_view> names,
                              int* index) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == text) {
      *index = static_cast<int>(i);
      return true;
    }
  }
  ctx_->Error(PathOf(key),
              absl::StrCat("expected one of ", absl::StrJoin(names, "|"),
                           ", got ", Quote(text)));
  return false;
}

bool MapReader::Numbers(absl::string_view key, std::vector<double>* out) {
  const YAML::Node* node = Lookup(key);
  if (node == nullptr) return true;
  std::vector<YAML::Node> items;
  if (node->IsSequence()) {
    for (size_t i = 0; i < node->size(); ++i) items.push_back((*node)[i]);
  } else {
    items.push_back(*node);
  }
  std::vector<double> values;
  bool ok = true;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = node->IsSequence()
                                 ? absl::StrCat(PathOf(key), "[", i, "]")
                                 : PathOf(key);
    double v = 0;
    if (!items[i].IsScalar() || !ParseDouble(items[i].Scalar(), &v) ||
        !std::isfinite(v)) {
      ctx_->Error(path, absl::StrCat("expected a finite number, got ",
                                     DescribeNode(items[i])));
      ok = false;
    }
    values.push_back(v);
  }
  if (ok) *out = std::move(values);
  return ok;
}

bool MapReader::IntList(absl::string_view key, std::vector<int64_t>* out,
                        int64_t min, int64_t max) {
  std::vector<YAML::Node> items;
  if (!List(key, &items)) return false;
  if (!Has(key)) return true;
  std::vector<int64_t> values;
  bool ok = true;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = absl::StrCat(PathOf(key), "[", i, "]");
    int64_t v = 0;
    bool past = false;
    if (!items[i].IsScalar() || !ParseInt(items[i].Scalar(), &v, &past)) {
      ctx_->Error(path, absl::StrCat("expected an integer, got ",
                                     DescribeNode(items[i])));
      ok = false;
    } else if (std::optional<std::string> e =
                   IntRangeError(items[i].Scalar(), v, past, min, max)) {
      ctx_->Error(path, *e);
      ok = false;
    }
    values.push_back(v);
  }
  if (ok) *out = std::move(values);
  return ok;
}

YAML::Node MapReader::Child(absl::string_view key) {
  const YAML::Node* node = Lookup(key);
  return node == nullptr ? YAML::Node() : *node;
}

bool MapReader::List(absl::string_view key, std::vector<YAML::Node>* items) {
  const YAML::Node* node = Lookup(key);
  items->clear();
  if (node == nullptr) return true;
  if (!node->IsSequence()) {
    ctx_->Error(PathOf(key),
                absl::StrCat("expected a list, got ", DescribeNode(*node)));
    return false;
  }
  for (size_t i = 0; i < node->size(); ++i) {
    const YAML::Node item = (*node)[i];
    ctx_->SetLine(absl::StrCat(PathOf(key), "[", i, "]"), item.Mark().line);
    items->push_back(item);
  }
  return true;
}

void MapReader::Disallow(absl::string_view key, absl::string_view why) {
  known_.emplace(key);
  if (Has(key)) ctx_->Error(PathOf(key), why);
}

void MapReader::Finish() {
  for (const std::string& key : order_) {
    if (known_.count(key) != 0) continue;
    std::string best;
    size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
    for (const std::string& candidate : known_) {
      const size_t d = EditDistance(key, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    ctx_->Error(PathOf(key), best.empty()
                                 ? std::string("unknown key")
                                 : absl::StrCat("unknown key (did you mean ",
                                                PathOf(best), "?)"));
  }
}

}  // namespace config_internal
}  // namespace shoal
