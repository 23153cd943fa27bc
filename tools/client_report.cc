#include "tools/client_report.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "common/status_macros.h"
#include "common/tensor_codec.h"

namespace shoal {
namespace {

// Rows of text cells printed with every column padded to its widest cell.
class TextTable {
 public:
  // `align` holds 'l' or 'r' per column; an empty `header` prints none.
  TextTable(std::vector<std::string> header, std::string align)
      : header_(std::move(header)), align_(std::move(align)) {}

  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  // Each line starts with `indent`; columns are two spaces apart and the
  // last one is not padded.
  void Print(std::ostream& out, absl::string_view indent = "") const {
    std::vector<size_t> widths(align_.size(), 0);
    auto measure = [&widths](const std::vector<std::string>& row) {
      for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        widths[i] = std::max(widths[i], row[i].size());
      }
    };
    measure(header_);
    for (const std::vector<std::string>& row : rows_) measure(row);
    if (!header_.empty()) PrintRow(header_, widths, indent, out);
    for (const std::vector<std::string>& row : rows_) {
      PrintRow(row, widths, indent, out);
    }
  }

 private:
  void PrintRow(const std::vector<std::string>& row,
                const std::vector<size_t>& widths, absl::string_view indent,
                std::ostream& out) const {
    std::string line(indent);
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      const std::string pad(widths[i] - row[i].size(), ' ');
      const bool last = i + 1 == row.size();
      if (i > 0) line += "  ";
      if (align_[i] == 'r') {
        line += pad + row[i];
      } else {
        line += last ? row[i] : row[i] + pad;
      }
    }
    out << line << "\n";
  }

  const std::vector<std::string> header_;
  const std::string align_;
  std::vector<std::vector<std::string>> rows_;
};

// A bound of the rate limiter; "-" for the "no bound" defaults (+-DBL_MAX).
std::string BoundText(double bound) {
  if (!std::isfinite(bound) ||
      std::abs(bound) >= std::numeric_limits<double>::max() / 2) {
    return "-";
  }
  return absl::StrFormat("%g", bound);
}

// A limit where 0 means none.
std::string LimitText(int64_t limit) {
  return limit == 0 ? "-" : absl::StrCat(limit);
}

std::string ShapeText(const v1::Tensor& tensor) {
  return ShapeString(tensor.shape());
}

// The first kPreviewValues values of a tensor, as JSON and as text, and
// how many it holds.
struct Preview {
  std::vector<Json> json;
  std::vector<std::string> text;
  int64_t num_values = 0;
};

std::string ValueText(double value) { return absl::StrFormat("%g", value); }
std::string ValueText(float value) { return absl::StrFormat("%g", value); }
std::string ValueText(int64_t value) { return absl::StrCat(value); }
std::string ValueText(int32_t value) { return absl::StrCat(value); }
std::string ValueText(uint8_t value) {
  return absl::StrCat(static_cast<int>(value));
}
std::string ValueText(bool value) { return value ? "true" : "false"; }

// A float32 as the shortest double that reads back as the same float
// (0.99f as 0.99, not 0.9900000095367432).
double ShortestDouble(float value) {
  if (!std::isfinite(value)) return value;
  for (int digits = 6; digits < 9; ++digits) {
    const double shorter =
        std::strtod(absl::StrFormat("%.*g", digits, value).c_str(), nullptr);
    if (static_cast<float>(shorter) == value) return shorter;
  }
  return value;
}

template <typename T>
Json ValueJson(T value) {
  return Json(value);
}
template <>
Json ValueJson<float>(float value) {
  return Json(ShortestDouble(value));
}

template <typename T>
void AddPreviewValues(absl::Span<const T> values, Preview* preview) {
  preview->num_values = static_cast<int64_t>(values.size());
  const size_t shown = std::min<size_t>(values.size(), kPreviewValues);
  for (size_t i = 0; i < shown; ++i) {
    preview->json.push_back(ValueJson<T>(values[i]));
    preview->text.push_back(ValueText(values[i]));
  }
}

template <typename T>
absl::StatusOr<Preview> DecodePreview(const v1::Tensor& tensor) {
  Preview preview;
  SHOAL_ASSIGN_OR_RETURN(std::vector<T> values,
                         DecodeTensor<T>(tensor, "tensor"));
  AddPreviewValues<T>(values, &preview);
  return preview;
}

// Bool tensors decode into a bool array (std::vector<bool> is packed).
template <>
absl::StatusOr<Preview> DecodePreview<bool>(const v1::Tensor& tensor) {
  Preview preview;
  SHOAL_ASSIGN_OR_RETURN(int64_t n, NumElements(tensor.shape(), "tensor"));
  std::unique_ptr<bool[]> values(new bool[n]);
  SHOAL_RETURN_IF_ERROR(DecodeTensorInto<bool>(
      tensor, absl::MakeSpan(values.get(), n), "tensor"));
  AddPreviewValues<bool>(absl::MakeConstSpan(values.get(), n), &preview);
  return preview;
}

absl::StatusOr<Preview> MakePreview(const v1::Tensor& tensor) {
  switch (tensor.dtype()) {
    case v1::DTYPE_FLOAT32:
      return DecodePreview<float>(tensor);
    case v1::DTYPE_FLOAT64:
      return DecodePreview<double>(tensor);
    case v1::DTYPE_INT32:
      return DecodePreview<int32_t>(tensor);
    case v1::DTYPE_INT64:
      return DecodePreview<int64_t>(tensor);
    case v1::DTYPE_UINT8:
      return DecodePreview<uint8_t>(tensor);
    case v1::DTYPE_BOOL:
      return DecodePreview<bool>(tensor);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("tensor: unknown dtype ", tensor.dtype()));
  }
}

// The name of column `i` of `table`'s items.
std::string ColumnName(const v1::TableInfo& table, int i) {
  if (i < table.signature_size() && !table.signature(i).name().empty()) {
    return table.signature(i).name();
  }
  return absl::StrCat("column", i);
}

// The shard index held in the top 16 bits of a key.
int KeyShard(uint64_t key) { return static_cast<int>(key >> 48); }

Json RateLimiterJson(const v1::RateLimiterInfo& limiter) {
  return Json{{"samples_per_insert", limiter.samples_per_insert()},
              {"min_size_to_sample", limiter.min_size_to_sample()},
              {"min_diff", limiter.min_diff()},
              {"max_diff", limiter.max_diff()},
              {"inserts", limiter.inserts()},
              {"samples", limiter.samples()},
              {"blocked_inserts", limiter.blocked_inserts()},
              {"blocked_samples", limiter.blocked_samples()}};
}

Json SignatureJson(const v1::TableInfo& table) {
  Json columns = Json::array();
  for (const v1::TensorSpec& spec : table.signature()) {
    columns.push_back(Json{{"name", spec.name()},
                           {"dtype", std::string(DTypeName(spec.dtype()))},
                           {"shape", std::vector<int64_t>(spec.shape().begin(),
                                                          spec.shape().end())},
                           {"allow_nonfinite", spec.allow_nonfinite()}});
  }
  return columns;
}

Json TableJson(const v1::TableInfo& table) {
  return Json{{"name", table.name()},
              {"size", table.size()},
              {"max_size", table.max_size()},
              {"bytes", table.bytes()},
              {"max_bytes", table.max_bytes()},
              {"inserts", table.inserts()},
              {"samples", table.samples()},
              {"evictions", table.evictions()},
              {"sampler", table.sampler()},
              {"remover", table.remover()},
              {"max_times_sampled", table.max_times_sampled()},
              {"total_priority", table.total_priority()},
              {"rate_limiter", RateLimiterJson(table.rate_limiter())},
              {"signature", SignatureJson(table)}};
}

void PrintContents(const v1::InfoResponse& info, std::ostream& out) {
  TextTable text({"TABLE", "SIZE", "MAX_SIZE", "BYTES", "MAX_BYTES", "INSERTS",
                  "SAMPLES", "EVICTIONS"},
                 "lrrrrrrr");
  for (const v1::TableInfo& t : info.tables()) {
    text.AddRow({t.name(), absl::StrCat(t.size()), absl::StrCat(t.max_size()),
                 HumanBytes(t.bytes()),
                 t.max_bytes() == 0 ? "-" : HumanBytes(t.max_bytes()),
                 absl::StrCat(t.inserts()), absl::StrCat(t.samples()),
                 absl::StrCat(t.evictions())});
  }
  text.Print(out);
}

void PrintSelectors(const v1::InfoResponse& info, std::ostream& out) {
  TextTable text(
      {"SELECTORS", "SAMPLER", "REMOVER", "MAX_TIMES_SAMPLED", "PRIORITY_SUM"},
      "lllrr");
  for (const v1::TableInfo& t : info.tables()) {
    text.AddRow({t.name(), t.sampler(), t.remover(),
                 LimitText(t.max_times_sampled()),
                 absl::StrFormat("%g", t.total_priority())});
  }
  text.Print(out);
}

void PrintRateLimiters(const v1::InfoResponse& info, std::ostream& out) {
  TextTable text(
      {"RATE_LIMITER", "SAMPLES_PER_INSERT", "MIN_SIZE", "MIN_DIFF", "MAX_DIFF",
       "INSERTS", "SAMPLES", "BLOCKED_INSERTS", "BLOCKED_SAMPLES"},
      "lrrrrrrrr");
  for (const v1::TableInfo& t : info.tables()) {
    const v1::RateLimiterInfo& r = t.rate_limiter();
    text.AddRow({t.name(), absl::StrFormat("%g", r.samples_per_insert()),
                 absl::StrCat(r.min_size_to_sample()), BoundText(r.min_diff()),
                 BoundText(r.max_diff()), absl::StrCat(r.inserts()),
                 absl::StrCat(r.samples()), absl::StrCat(r.blocked_inserts()),
                 absl::StrCat(r.blocked_samples())});
  }
  text.Print(out);
}

void PrintSignatures(const v1::InfoResponse& info, std::ostream& out) {
  TextTable text({"SIGNATURE", "COLUMN", "DTYPE", "SHAPE"}, "llll");
  for (const v1::TableInfo& t : info.tables()) {
    if (t.signature().empty()) text.AddRow({t.name(), "(any columns)"});
    for (const v1::TensorSpec& spec : t.signature()) {
      text.AddRow({t.name(), spec.name(), std::string(DTypeName(spec.dtype())),
                   ShapeString(spec.shape())});
    }
  }
  text.Print(out);
}

Json SampledItemJson(const v1::TableInfo& table, const v1::SampledItem& s) {
  Json columns = Json::array();
  for (int i = 0; i < s.item().columns_size(); ++i) {
    columns.push_back(TensorJson(ColumnName(table, i), s.item().columns(i)));
  }
  return Json{{"key", s.key()},
              {"shard", KeyShard(s.key())},
              {"priority", s.priority()},
              {"probability", s.probability()},
              {"times_sampled", s.times_sampled()},
              {"table_size", s.table_size()},
              {"policy_version", s.item().policy_version()},
              {"actor_index", s.item().actor_index()},
              {"env_id", s.item().env_id()},
              {"columns", std::move(columns)}};
}

void PrintSampledItem(const v1::TableInfo& table, const v1::SampledItem& s,
                      int index, int count, std::ostream& out) {
  out << "item " << index + 1 << " of " << count << ": key " << s.key()
      << " (shard " << KeyShard(s.key()) << "), priority "
      << absl::StrFormat("%g", s.priority()) << ", times_sampled "
      << s.times_sampled() << "\n"
      << "  probability " << absl::StrFormat("%g", s.probability())
      << ", table_size " << s.table_size() << ", policy_version "
      << s.item().policy_version() << ", actor " << s.item().actor_index()
      << ", env " << s.item().env_id() << "\n";
  TextTable text({"COLUMN", "DTYPE", "SHAPE", "VALUES"}, "llll");
  for (int i = 0; i < s.item().columns_size(); ++i) {
    const v1::Tensor& column = s.item().columns(i);
    text.AddRow({ColumnName(table, i), std::string(DTypeName(column.dtype())),
                 ShapeText(column), TensorPreview(column)});
  }
  text.Print(out, "  ");
}

}  // namespace

std::string HumanBytes(int64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit + 1 < 4) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

Json TensorJson(const std::string& name, const v1::Tensor& tensor) {
  Json json{{"name", name},
            {"dtype", std::string(DTypeName(tensor.dtype()))},
            {"shape", std::vector<int64_t>(tensor.shape().begin(),
                                           tensor.shape().end())}};
  absl::StatusOr<Preview> preview = MakePreview(tensor);
  if (!preview.ok()) {
    json["error"] = std::string(preview.status().message());
    return json;
  }
  json["num_values"] = preview->num_values;
  json["values"] = std::move(preview->json);
  return json;
}

std::string TensorPreview(const v1::Tensor& tensor) {
  absl::StatusOr<Preview> preview = MakePreview(tensor);
  if (!preview.ok()) return "<error>";
  std::string text = absl::StrJoin(preview->text, ", ");
  const int64_t hidden =
      preview->num_values - static_cast<int64_t>(preview->text.size());
  if (hidden > 0) absl::StrAppend(&text, " ... (+", hidden, ")");
  return text;
}

Json InfoJson(const std::string& address, const v1::InfoResponse& info) {
  Json tables = Json::array();
  for (const v1::TableInfo& table : info.tables()) {
    tables.push_back(TableJson(table));
  }
  return Json{{"replay", address},
              {"shard_index", info.shard_index()},
              {"tables", std::move(tables)}};
}

void PrintInfo(const std::string& address, const v1::InfoResponse& info,
               std::ostream& out) {
  const int n = info.tables_size();
  out << "replay " << address << ", shard " << info.shard_index() << ": " << n
      << (n == 1 ? " table" : " tables") << "\n";
  if (n == 0) return;
  out << "\n";
  PrintContents(info, out);
  out << "\n";
  PrintSelectors(info, out);
  out << "\n";
  PrintRateLimiters(info, out);
  out << "\n";
  PrintSignatures(info, out);
}

Json SampleJson(const std::string& address, const v1::TableInfo& table,
                const std::vector<v1::SampledItem>& items) {
  Json json_items = Json::array();
  for (const v1::SampledItem& item : items) {
    json_items.push_back(SampledItemJson(table, item));
  }
  return Json{{"replay", address},
              {"table", table.name()},
              {"items", std::move(json_items)}};
}

void PrintSample(const std::string& address, const v1::TableInfo& table,
                 const std::vector<v1::SampledItem>& items, std::ostream& out) {
  const int n = static_cast<int>(items.size());
  out << n << (n == 1 ? " item" : " items") << " of table " << table.name()
      << " from replay " << address << "\n";
  for (int i = 0; i < n; ++i) {
    out << "\n";
    PrintSampledItem(table, items[i], i, n, out);
  }
}

Json CheckpointJson(const std::string& address,
                    const v1::CheckpointResponse& checkpoint) {
  return Json{{"replay", address},
              {"path", checkpoint.path()},
              {"items", checkpoint.items()}};
}

void PrintCheckpoint(const std::string& address,
                     const v1::CheckpointResponse& checkpoint,
                     std::ostream& out) {
  out << "replay " << address << " wrote a checkpoint\n";
  TextTable text({}, "ll");
  text.AddRow({"path", checkpoint.path()});
  text.AddRow({"items", absl::StrCat(checkpoint.items())});
  text.Print(out);
}

Json ParamsJson(const std::string& address, const AssembledParameters& params,
                absl::Time now) {
  Json tensors = Json::array();
  for (const v1::NamedTensor& t : params.parameters.tensors()) {
    tensors.push_back(
        Json{{"name", t.name()},
             {"dtype", std::string(DTypeName(t.tensor().dtype()))},
             {"shape", std::vector<int64_t>(t.tensor().shape().begin(),
                                            t.tensor().shape().end())}});
  }
  Json age = nullptr;
  if (params.published_unix_ms > 0) {
    age = absl::ToDoubleSeconds(now -
                                absl::FromUnixMillis(params.published_unix_ms));
  }
  return Json{{"learner", address},
              {"version", params.version},
              {"learner_step", params.learner_step},
              {"total_bytes", params.total_bytes},
              {"num_chunks", params.num_chunks},
              {"num_tensors", params.parameters.tensors_size()},
              {"published_unix_ms", params.published_unix_ms},
              {"age_s", std::move(age)},
              {"tensors", std::move(tensors)}};
}

void PrintParams(const std::string& address, const AssembledParameters& params,
                 absl::Time now, std::ostream& out) {
  out << "learner " << address << "\n";
  std::string age = "unknown";
  if (params.published_unix_ms > 0) {
    age = absl::StrFormat(
        "%.1f s", absl::ToDoubleSeconds(
                      now - absl::FromUnixMillis(params.published_unix_ms)));
  }
  TextTable summary({}, "ll");
  summary.AddRow({"version", absl::StrCat(params.version)});
  summary.AddRow({"learner_step", absl::StrCat(params.learner_step)});
  summary.AddRow(
      {"total_bytes",
       absl::StrCat(HumanBytes(params.total_bytes), " (", params.total_bytes,
                    " bytes in ", params.num_chunks,
                    params.num_chunks == 1 ? " chunk)" : " chunks)")});
  summary.AddRow({"tensors", absl::StrCat(params.parameters.tensors_size())});
  summary.AddRow({"age", age});
  summary.Print(out);
  if (params.parameters.tensors().empty()) return;
  out << "\n";
  TextTable tensors({"TENSOR", "DTYPE", "SHAPE"}, "lll");
  for (const v1::NamedTensor& t : params.parameters.tensors()) {
    tensors.AddRow({t.name(), std::string(DTypeName(t.tensor().dtype())),
                    ShapeText(t.tensor())});
  }
  tensors.Print(out);
}

}  // namespace shoal
