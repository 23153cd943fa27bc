// Cross-field checks on a decoded ExperimentConfig: rules that no single
// key can check on its own.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "common/config.h"
#include "common/config_internal.h"
#include "common/config_limits.h"
#include "common/tensor_codec.h"

namespace shoal {
namespace config_internal {
namespace {

// The catalog entry of the built-in env `name`; nullptr when the catalog
// is not known here, or for remote (whose space is known once it is open).
const EnvCatalogEntry* FindEnv(const ConfigContext& ctx,
                               const std::string& name) {
  if (ctx.envs() == nullptr) return nullptr;
  for (const EnvCatalogEntry& e : *ctx.envs()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void ValidateAlgorithm(const ExperimentConfig& c, ConfigContext* ctx) {
  const AlgorithmConfig& a = c.algorithm;
  const EnvCatalogEntry* env = FindEnv(*ctx, c.env.name);
  if (env != nullptr && a.name == AlgorithmKind::kSac && env->discrete) {
    ctx->Error("algorithm.name",
               absl::StrCat("sac needs a box action space, but env.name ",
                            c.env.name, " has discrete actions"));
  }
  if (env != nullptr && a.name != AlgorithmKind::kSac && !env->discrete) {
    ctx->Error("algorithm.name",
               absl::StrCat(EnumName(a.name),
                            " needs a discrete action space, but env.name ",
                            c.env.name, " has box actions"));
  }
  if (a.value_loss.kind == ValueLossKind::kHlGauss) {
    if (a.value_loss.num_bins < 2) {
      ctx->Error("algorithm.value_loss.num_bins",
                 absl::StrCat("must be >= 2 for kind hl_gauss, got ",
                              a.value_loss.num_bins));
    }
    if (!(a.value_loss.v_min < a.value_loss.v_max)) {
      ctx->Error("algorithm.value_loss.v_min",
                 absl::StrCat("must be < algorithm.value_loss.v_max (",
                              a.value_loss.v_max, ") for kind hl_gauss, got ",
                              a.value_loss.v_min));
    }
  }
  if (a.impala.unroll_overlap >= a.impala.unroll_length) {
    ctx->Error("algorithm.impala.unroll_overlap",
               absl::StrCat("must be < algorithm.impala.unroll_length (",
                            a.impala.unroll_length, "), got ",
                            a.impala.unroll_overlap));
  }
}

void ValidateRateLimiter(const TableConfig& t, const std::string& path,
                         ConfigContext* ctx) {
  const RateLimiterConfig& rl = t.rate_limiter;
  if (rl.min_size_to_sample > t.max_size) {
    ctx->Error(path + ".min_size_to_sample",
               absl::StrCat("must be <= the table's max_size (", t.max_size,
                            "), got ", rl.min_size_to_sample));
  }
  if (rl.kind == RateLimiterKind::kSampleToInsertRatio &&
      rl.error_buffer < std::max(1.0, rl.samples_per_insert)) {
    // Reverb: max_diff - min_diff must be at least 2 * max(1, spi), or
    // neither inserts nor samples could proceed.
    ctx->Error(path + ".error_buffer",
               absl::StrCat("must be >= max(1, samples_per_insert) = ",
                            std::max(1.0, rl.samples_per_insert), ", got ",
                            rl.error_buffer));
  }
  if (rl.kind == RateLimiterKind::kCustom && !(rl.min_diff <= rl.max_diff)) {
    ctx->Error(path + ".min_diff",
               absl::StrCat("must be <= max_diff (", rl.max_diff, "), got ",
                            rl.min_diff));
  }
}

// Bytes of every item's `column`: 0 with a 0 extent, -1 with a -1 extent
// (any size), else dtype size * extents, saturated at kMaxSignatureBytes + 1.
int64_t FixedColumnBytes(const ColumnConfig& column) {
  int64_t bytes = DTypeSize(column.dtype);
  bool zero = false;
  for (int64_t d : column.shape) {
    if (d < 0) return -1;
    zero = zero || d == 0;
    const bool over = d > 0 && bytes > kMaxSignatureBytes / d;
    bytes = over ? kMaxSignatureBytes + 1 : bytes * d;
  }
  return zero ? 0 : bytes;
}

// Table::Create's limits on a signature (common/config_limits.h).
void ValidateSignature(const TableConfig& t, const std::string& path,
                       ConfigContext* ctx) {
  int64_t total = 0;
  for (size_t j = 0; j < t.signature.size(); ++j) {
    const ColumnConfig& column = t.signature[j];
    const std::string shape = absl::StrCat(path, ".signature[", j, "].shape");
    if (static_cast<int64_t>(column.shape.size()) > kMaxColumnRank) {
      ctx->Error(shape, absl::StrCat("must have at most ", kMaxColumnRank,
                                     " extents, got ", column.shape.size()));
      continue;
    }
    const int64_t bytes = FixedColumnBytes(column);
    if (bytes > kMaxSignatureBytes) {
      ctx->Error(shape,
                 absl::StrCat("a ", EnumName(column.dtype), " column of ",
                              ShapeString(column.shape), " is over ",
                              kMaxSignatureBytes, " bytes"));
      continue;
    }
    total += std::max<int64_t>(bytes, 0);
    if (total > kMaxSignatureBytes) {
      ctx->Error(shape, absl::StrCat("the fixed-shape columns up to this one "
                                     "are over ",
                                     kMaxSignatureBytes, " bytes together"));
      return;
    }
  }
}

// A column's minimum and maximum: together, as many as the last extent (or
// one), ordered, whole for integer dtypes.
void ValidateBounds(const ColumnConfig& column, const std::string& path,
                    ConfigContext* ctx) {
  if (column.minimum.empty() && column.maximum.empty()) return;
  if (column.minimum.empty() != column.maximum.empty()) {
    ctx->Error(path + (column.minimum.empty() ? ".minimum" : ".maximum"),
               "is required with " +
                   std::string(column.minimum.empty() ? "maximum" : "minimum"));
    return;
  }
  const size_t n = column.minimum.size();
  if (column.maximum.size() != n) {
    ctx->Error(path + ".maximum", absl::StrCat("has ", column.maximum.size(),
                                               " values, but minimum has ", n));
    return;
  }
  if (n > 1 && (column.shape.empty() ||
                column.shape.back() != static_cast<int64_t>(n))) {
    ctx->Error(path + ".minimum",
               absl::StrCat("has ", n,
                            " values: give one, or one per element "
                            "of the last extent of shape ",
                            ShapeString(column.shape)));
    return;
  }
  const bool integer =
      column.dtype != v1::DTYPE_FLOAT32 && column.dtype != v1::DTYPE_FLOAT64;
  for (size_t k = 0; k < n; ++k) {
    const std::string at = n > 1 ? absl::StrCat("[", k, "]") : "";
    if (column.minimum[k] > column.maximum[k]) {
      ctx->Error(path + ".minimum" + at,
                 absl::StrCat(column.minimum[k], " is above maximum", at, " ",
                              column.maximum[k]));
      return;
    }
    for (const auto& [key, v] :
         {std::pair<const char*, double>{".minimum", column.minimum[k]},
          {".maximum", column.maximum[k]}}) {
      if (integer && v != std::floor(v)) {
        ctx->Error(
            path + key + at,
            absl::StrCat("a ", EnumName(column.dtype),
                         " column's bound must be a whole number, got ", v));
        return;
      }
    }
  }
}

void ValidateTables(const ExperimentConfig& c, ConfigContext* ctx) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < c.tables.size(); ++i) {
    const TableConfig& t = c.tables[i];
    const std::string path = absl::StrCat("tables[", i, "]");
    auto [it, inserted] = seen.emplace(t.name, i);
    if (!inserted) {
      ctx->Error(path + ".name",
                 absl::StrCat("duplicate table name ", Quote(t.name),
                              " (also tables[", it->second, "])"));
    }
    ValidateRateLimiter(t, path + ".rate_limiter", ctx);
    ValidateSignature(t, path, ctx);
    std::map<std::string, size_t> columns;
    for (size_t j = 0; j < t.signature.size(); ++j) {
      ValidateBounds(t.signature[j], absl::StrCat(path, ".signature[", j, "]"),
                     ctx);
      auto [col, fresh] = columns.emplace(t.signature[j].name, j);
      if (!fresh) {
        ctx->Error(
            absl::StrCat(path, ".signature[", j, "].name"),
            absl::StrCat("duplicate column name ", Quote(t.signature[j].name),
                         " (also ", path, ".signature[", col->second, "])"));
      }
    }
  }
  std::vector<std::string> names;
  for (const TableConfig& t : c.tables) names.push_back(t.name);
  const std::string known = absl::StrJoin(names, ", ");
  for (const auto& [path, name] :
       {std::pair<std::string, std::string>{"actor.table", c.actor.table},
        {"learner.table", c.learner.table}}) {
    if (c.FindTable(name) == nullptr) {
      ctx->Error(path, absl::StrCat("no table named ", Quote(name),
                                    " (tables: ", known, ")"));
    }
  }
}

void ValidateEndpoints(const ExperimentConfig& c, ConfigContext* ctx) {
  if (c.env.name == kRemoteEnvName && c.env.remote.address.empty()) {
    ctx->Error("env.remote.address", "required when env.name is remote");
  }
  if (!c.replay.addresses.empty()) {
    const std::vector<std::string> list = ReplayAddressList(c.replay);
    bool ok = true;
    for (const std::string& a : list) {
      ok = ok && !a.empty() &&
           std::none_of(a.begin(), a.end(), absl::ascii_isspace);
    }
    if (!ok) {
      ctx->Error("replay.addresses",
                 absl::StrCat("expected \"host:port,host:port\" or one DNS "
                              "name, got ",
                              Quote(c.replay.addresses)));
    } else if (list.size() > 1 &&
               list.size() != static_cast<size_t>(c.replay.shards)) {
      ctx->Error(
          "replay.addresses",
          absl::StrCat("lists ", list.size(),
                       " addresses but replay.shards is ", c.replay.shards));
    }
  }
  const SecurityConfig& s = c.security;
  if (!s.tls_cert.empty() && s.tls_key.empty()) {
    ctx->Error("security.tls_key", "required when security.tls_cert is set");
  }
  if (s.tls_cert.empty() && !s.tls_key.empty()) {
    ctx->Error("security.tls_cert", "required when security.tls_key is set");
  }
  if (!s.tls_ca.empty() && (s.tls_cert.empty() || s.tls_key.empty())) {
    ctx->Error("security.tls_ca",
               "mutual TLS needs security.tls_cert and security.tls_key too");
  }
}

}  // namespace

void ValidateExperiment(const ExperimentConfig& c, ConfigContext* ctx) {
  ValidateAlgorithm(c, ctx);
  ValidateTables(c, ctx);
  ValidateEndpoints(c, ctx);
  if (!c.stop.eval_return.has_value() && c.stop.env_steps == 0 &&
      c.stop.wall_time_s == 0) {
    ctx->Error("stop",
               "set at least one of stop.eval_return, stop.env_steps, "
               "stop.wall_time_s");
  }
}

}  // namespace config_internal
}  // namespace shoal
