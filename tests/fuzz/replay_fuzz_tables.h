// The replay shard the replay fuzzers run against: three small tables that
// between them use both storage layouts (fixed: pool blocks; variable:
// serialised columns), every selector family, max_bytes and
// max_times_sampled, so fuzzed inserts and checkpoints reach eviction,
// deletion on sample and both sample encoders quickly.
#ifndef SHOAL_TESTS_FUZZ_REPLAY_FUZZ_TABLES_H_
#define SHOAL_TESTS_FUZZ_REPLAY_FUZZ_TABLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/tensor_codec.h"
#include "replay/replay_server.h"

namespace shoal {
namespace fuzz {

constexpr int kShard = 5;

inline v1::TensorSpec MakeSpec(const std::string& name, v1::DType dtype,
                               std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(name);
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

// "fixed": float32[3] + int64[], uniform / fifo, 4 items.
// "variable": float32[-1, 2] + bool[], prioritized / min-heap, 4 items,
//   64 bytes, each item sampled at most twice.
// "any": no signature, lifo / max-heap, 3 items.
inline ReplayServerOptions MakeServerOptions(const std::string& dir) {
  TableOptions fixed;
  fixed.name = "fixed";
  fixed.signature = {MakeSpec("observation", v1::DTYPE_FLOAT32, {3}),
                     MakeSpec("action", v1::DTYPE_INT64, {})};
  fixed.max_size = 4;
  TableOptions variable;
  variable.name = "variable";
  variable.signature = {MakeSpec("steps", v1::DTYPE_FLOAT32, {-1, 2}),
                        MakeSpec("done", v1::DTYPE_BOOL, {})};
  variable.sampler = SelectorKind::kPrioritized;
  variable.sampler_priority_exponent = 0.6;
  variable.remover = SelectorKind::kMinHeap;
  variable.max_size = 4;
  variable.max_bytes = 64;
  variable.max_times_sampled = 2;
  TableOptions any;
  any.name = "any";
  any.sampler = SelectorKind::kLifo;
  any.remover = SelectorKind::kMaxHeap;
  any.max_size = 3;
  ReplayServerOptions options;
  options.shard_index = kShard;
  options.tables = {fixed, variable, any};
  options.checkpoint_dir = dir;
  return options;
}

// Valid items of each table, different for each `i`.
inline v1::Item MakeFixedItem(int i) {
  v1::Item item;
  item.set_table("fixed");
  item.set_priority(1.0 + i);
  item.set_policy_version(i);
  item.set_actor_index(i % 3);
  const std::vector<float> obs = {0.5f * i, -1.0f, 2.0f};
  (void)EncodeTensor<float>(obs, {3}, item.add_columns());
  const std::vector<int64_t> action = {i % 2};
  (void)EncodeTensor<int64_t>(action, {}, item.add_columns());
  return item;
}

inline v1::Item MakeVariableItem(int i) {
  v1::Item item;
  item.set_table("variable");
  item.set_priority(0.25 * (i + 1));
  item.set_env_id(i);
  const int64_t steps = 1 + i % 3;
  const std::vector<float> values(2 * steps, static_cast<float>(i));
  (void)EncodeTensor<float>(values, {steps, 2}, item.add_columns());
  v1::Tensor* done = item.add_columns();  // bool[]: one byte, 0 or 1
  done->set_dtype(v1::DTYPE_BOOL);
  done->set_data(std::string(1, static_cast<char>(i % 2)));
  return item;
}

inline v1::Item MakeAnyItem(int i) {
  v1::Item item;
  item.set_table("any");
  item.set_priority(i);
  const std::vector<int32_t> values(1 + i % 4, i);
  (void)EncodeTensor<int32_t>(values, {static_cast<int64_t>(values.size())},
                              item.add_columns());
  return item;
}

}  // namespace fuzz
}  // namespace shoal

#endif  // SHOAL_TESTS_FUZZ_REPLAY_FUZZ_TABLES_H_
