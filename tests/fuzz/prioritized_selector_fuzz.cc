// libFuzzer target: arbitrary priorities and exponents against the
// prioritized sum tree, directly and through a Table.
//
// Input: an 8-byte exponent, then operations of 10 bytes each (kind, slot,
// an 8-byte priority). Every priority and exponent the selector's contract
// allows (finite, >= 0) is used as it comes, DBL_MAX and denormals
// included, so weights may overflow to Inf: the selector must then still
// pick a present slot with a probability in [0, 1] (it falls back to
// uniform), and never read past its leaves (ASan). Through a Table the same
// priorities are refused when their weight could make the total infinite,
// so the table's total stays finite.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/time/time.h"

#include "replay/selectors/prioritized_selector.h"
#include "replay/table.h"
#include "tests/fuzz/fuzz_seeds.h"

namespace shoal {
namespace fuzz {
namespace {

constexpr uint32_t kCapacity = 37;  // not a power of two: uneven leaves

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

double ReadDouble(const uint8_t* p) {
  double v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// What the selector's contract admits: finite and >= 0 (else its magnitude,
// or 0 for NaN).
double Admissible(double v) {
  if (std::isnan(v)) return 0.0;
  v = std::fabs(v);
  return std::isfinite(v) ? v : std::numeric_limits<double>::max();
}

void CheckSelection(const Selection& pick, const std::vector<bool>& present) {
  Check(pick.slot < kCapacity && present[pick.slot]);
  Check(pick.probability >= 0.0 && pick.probability <= 1.0);
}

std::string Op(uint8_t kind, uint8_t slot, double priority) {
  std::string op(10, '\0');
  op[0] = static_cast<char>(kind);
  op[1] = static_cast<char>(slot);
  std::memcpy(&op[2], &priority, sizeof(priority));
  return op;
}

Seeds MakeSeeds() {
  const double most = std::numeric_limits<double>::max();
  auto input = [](double exponent, const std::vector<std::string>& ops) {
    std::string bytes(sizeof(exponent), '\0');
    std::memcpy(&bytes[0], &exponent, sizeof(exponent));
    for (const std::string& op : ops) bytes += op;
    return bytes;
  };
  return {
      {"two_dbl_max",
       input(1.0, {Op(0, 1, most), Op(0, 2, most), Op(3, 0, 0)})},
      {"squared_overflow", input(2.0, {Op(0, 3, 1e200), Op(0, 4, 1.0),
                                       Op(3, 0, 0), Op(2, 3, 0), Op(3, 0, 0)})},
      {"update_to_huge",
       input(0.6, {Op(0, 5, 1.0), Op(0, 6, 2.0), Op(1, 5, most), Op(3, 0, 0)})},
      {"zero_exponent",
       input(0.0, {Op(0, 7, 0.0), Op(0, 8, 5.0), Op(3, 0, 0)})},
  };
}

}  // namespace
}  // namespace fuzz
}  // namespace shoal

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  shoal::fuzz::WriteSeedsIfAsked(shoal::fuzz::MakeSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal;
  using namespace shoal::fuzz;
  if (size < 8) return 0;
  const double exponent = Admissible(ReadDouble(data));
  PrioritizedSelector selector(kCapacity, exponent);
  std::vector<bool> present(kCapacity, false);

  TableOptions options;
  options.name = "t";
  options.sampler = SelectorKind::kPrioritized;
  options.sampler_priority_exponent = exponent;
  options.remover = SelectorKind::kPrioritized;
  options.remover_priority_exponent = exponent;
  options.max_size = 8;
  absl::StatusOr<std::unique_ptr<Table>> table = Table::Create(options);
  if (!table.ok()) return 0;  // an exponent MakeSelector refuses
  v1::Item item;
  item.set_table("t");
  v1::Tensor* column = item.add_columns();
  column->set_dtype(v1::DTYPE_UINT8);
  column->add_shape(1);
  column->set_data("x");
  uint64_t sequence = 0;
  std::vector<uint64_t> keys;

  absl::BitGen rng;
  for (size_t at = 8; at + 10 <= size; at += 10) {
    const uint8_t kind = data[at] % 4;
    const uint32_t slot = data[at + 1] % kCapacity;
    const double priority = Admissible(ReadDouble(data + at + 2));
    switch (kind) {
      case 0:  // insert (or update when present)
        if (present[slot]) {
          selector.Update(slot, priority);
        } else {
          selector.Insert(slot, priority);
          present[slot] = true;
        }
        item.set_priority(priority);
        if ((*table)->Validate(item, "item").ok()) {
          Check(
              (*table)->Insert(item, 1, ++sequence, absl::InfinitePast()).ok());
        }
        break;
      case 1:  // update
        if (present[slot]) selector.Update(slot, priority);
        if (!keys.empty()) {
          (void)(*table)->UpdatePriorities({keys[slot % keys.size()]},
                                           {priority});
        }
        break;
      case 2:  // delete
        if (present[slot]) {
          selector.Delete(slot);
          present[slot] = false;
        }
        break;
      case 3: {  // sample
        if (selector.size() > 0) {
          CheckSelection(selector.Select(rng), present);
          Selection batch[5];
          selector.SelectBatch(rng, absl::MakeSpan(batch));
          for (const Selection& pick : batch) CheckSelection(pick, present);
        }
        google::protobuf::RepeatedPtrField<v1::SampledItem> out;
        if ((*table)->Sample(3, absl::InfinitePast(), &out).ok()) {
          keys.clear();
          for (const v1::SampledItem& s : out) {
            Check(s.probability() >= 0.0 && s.probability() <= 1.0);
            keys.push_back(s.key());
          }
        }
        break;
      }
    }
    Check(std::isfinite((*table)->Info().total_priority()));
  }
  return 0;
}
