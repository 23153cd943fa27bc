// libFuzzer target: arbitrary bytes as an InsertRequest, handled the way a
// replay shard handles one from an InsertStream (InsertReactor in
// replay/replay_service.cc, whose steps are repeated here without gRPC):
// parse, find each item's table, Table::Validate every item, and only when
// all pass, Table::InsertBatch each run of one table's items. Each input
// gets a fresh shard (replay_fuzz_tables.h), so runs are reproducible.
//
// Beyond "no crash", it checks what a shard promises:
// - exactly once: the same batch sent again stores nothing (it is dropped
//   as resends, or refused whole when it reaches back below a run);
// - bounds: no table holds more than max_size items or max_bytes bytes,
//   whatever unknown fields or shapes the items carry;
// - storage: every item sampled back (Table::Sample, and the wire bytes of
//   Table::SampleEncoded parsed as a SampleResponse) carries the columns of
//   an item that was inserted into that table, no unknown fields, and a key
//   of this shard; the table's priority total stays finite.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "spdlog/spdlog.h"

#include "replay/replay_server.h"
#include "replay/sample_encoder.h"
#include "tests/fuzz/fuzz_seeds.h"
#include "tests/fuzz/replay_fuzz_tables.h"

namespace shoal {
namespace fuzz {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// The columns of `item` (dtype, shape, data; unknown fields ignored).
std::string ColumnsKey(const v1::Item& item) {
  std::string key;
  for (const v1::Tensor& column : item.columns()) {
    absl::StrAppend(&key, column.dtype(), "[");
    for (int64_t d : column.shape()) absl::StrAppend(&key, d, ",");
    absl::StrAppend(&key, "]", column.data().size(), ":", column.data(), ";");
  }
  return key;
}

// InsertReactor::Validate: every item's table and content, before anything
// is stored. Fills `tables` with each item's table.
absl::Status ValidateBatch(const ReplayServer& server,
                           const v1::InsertRequest& request,
                           std::vector<Table*>* tables) {
  if (request.items_size() == 0) {
    return absl::InvalidArgumentError("items: the batch is empty");
  }
  if (request.first_sequence() == 0) {
    return absl::InvalidArgumentError("first_sequence: must be >= 1");
  }
  Table* table = nullptr;
  for (int i = 0; i < request.items_size(); ++i) {
    const v1::Item& item = request.items(i);
    if (table == nullptr || item.table() != table->name()) {
      table = server.FindTable(item.table());
    }
    if (table == nullptr) return absl::InvalidArgumentError("no such table");
    if (!table->Validate(item, absl::string_view()).ok()) {
      absl::Status named =
          table->Validate(item, absl::StrCat("items[", i, "]"));
      Check(!named.ok());  // the slow path agrees with the fast one
      return named;
    }
    tables->push_back(table);
  }
  for (int i = 0, end; i < request.items_size(); i = end) {
    end = i + 1;
    while (end < request.items_size() && (*tables)[end] == (*tables)[i]) ++end;
    absl::Status sequences = (*tables)[i]->CheckSequences(
        request.writer_id(), request.first_sequence() + i, end - i);
    if (!sequences.ok()) return sequences;
  }
  return absl::OkStatus();
}

// No unknown fields on `item` or its columns.
bool Clean(const v1::Item& item) {
  if (!item.GetReflection()->GetUnknownFields(item).empty()) return false;
  for (const v1::Tensor& column : item.columns()) {
    if (!column.GetReflection()->GetUnknownFields(column).empty()) return false;
  }
  return true;
}

// InsertReactor::InsertFrom on the callback thread: each run of one table's
// items in one InsertBatch, without waiting. Returns the items stored.
int InsertAll(const v1::InsertRequest& request,
              const std::vector<Table*>& tables) {
  const int n = request.items_size();
  int stored = 0;
  for (int next = 0; next < n;) {
    int end = next + 1;
    while (end < n && tables[end] == tables[next]) ++end;
    InsertBatchResult result;
    const absl::Status status = tables[next]->InsertBatch(
        absl::MakeConstSpan(request.items().data() + next, end - next),
        request.writer_id(), request.first_sequence() + next,
        absl::InfinitePast(), &result);
    // No table here limits inserts: a batch never has to wait.
    Check(status.ok() && result.processed == end - next);
    stored += result.stored;
    next = end;
  }
  return stored;
}

// Samples `table` both ways and checks every item against `inserted`.
void SampleBack(Table* table,
                const absl::flat_hash_set<std::string>& inserted) {
  const v1::TableInfo info = table->Info();
  Check(info.size() <= info.max_size());
  Check(info.max_bytes() == 0 || info.bytes() <= info.max_bytes());
  Check(std::isfinite(info.total_priority()));
  if (info.size() == 0) return;
  const int n = static_cast<int>(2 * info.size());
  auto check_item = [&](const v1::SampledItem& sampled) {
    Check(sampled.item().table() == table->name());
    Check(static_cast<int>(sampled.key() >> 48) == kShard);
    Check(inserted.contains(ColumnsKey(sampled.item())));
    Check(Clean(sampled.item()));
  };
  google::protobuf::RepeatedPtrField<v1::SampledItem> messages;
  if (table->Sample(n, absl::InfinitePast(), &messages).ok()) {
    for (const v1::SampledItem& sampled : messages) check_item(sampled);
  }
  EncodedSamples encoded;
  if (table->SampleEncoded(n, absl::InfinitePast(), &encoded).ok()) {
    v1::SampleResponse response;
    Check(response.ParseFromString(SampleEncoder::ResponseHead(7) +
                                   encoded.bytes +
                                   SampleEncoder::ResponseTail(true)));
    Check(response.items_size() == encoded.size());
    for (const v1::SampledItem& sampled : response.items()) check_item(sampled);
    std::vector<uint64_t> keys;
    for (const v1::SampledItem& sampled : response.items()) {
      keys.push_back(sampled.key());
    }
    const std::vector<double> priorities(keys.size(), 0.5);
    Check(table->UpdatePriorities(keys, priorities).ok());
  }
}

Seeds MakeSeeds() {
  Seeds seeds;
  v1::InsertRequest fixed;
  fixed.set_writer_id(11);
  fixed.set_first_sequence(1);
  for (int i = 0; i < 6; ++i) *fixed.add_items() = MakeFixedItem(i);
  seeds.emplace_back("fixed_batch", fixed.SerializeAsString());

  v1::InsertRequest mixed;
  mixed.set_writer_id(12);
  mixed.set_first_sequence(40);
  for (int i = 0; i < 3; ++i) {
    *mixed.add_items() = MakeVariableItem(i);
    *mixed.add_items() = MakeAnyItem(i);
    *mixed.add_items() = MakeFixedItem(i);
    *mixed.add_items() = MakeVariableItem(i + 5);
  }
  seeds.emplace_back("mixed_batch", mixed.SerializeAsString());

  v1::InsertRequest variable;
  variable.set_writer_id(13);
  variable.set_first_sequence(1);
  for (int i = 0; i < 5; ++i) *variable.add_items() = MakeVariableItem(i);
  seeds.emplace_back("variable_batch", variable.SerializeAsString());

  v1::InsertRequest bad = fixed;  // one bad item rejects the batch
  bad.mutable_items(2)->mutable_columns(0)->set_data("short");
  seeds.emplace_back("bad_item", bad.SerializeAsString());

  v1::InsertRequest unknown = mixed;  // stored without their unknown fields
  for (v1::Item& item : *unknown.mutable_items()) {
    item.GetReflection()->MutableUnknownFields(&item)->AddLengthDelimited(
        99, std::string(300, 'u'));
    v1::Tensor* column = item.mutable_columns(0);
    column->GetReflection()->MutableUnknownFields(column)->AddVarint(98, 7);
  }
  seeds.emplace_back("unknown_fields", unknown.SerializeAsString());

  v1::InsertRequest overflowing = variable;  // 2^62 elements in 0 bytes
  v1::Item* huge = overflowing.add_items();
  *huge = MakeAnyItem(1);
  huge->mutable_columns(0)->clear_data();
  huge->mutable_columns(0)->clear_shape();
  huge->mutable_columns(0)->add_shape(int64_t{1} << 31);
  huge->mutable_columns(0)->add_shape(int64_t{1} << 31);
  seeds.emplace_back("overflowing_shape", overflowing.SerializeAsString());

  v1::InsertRequest heavy = variable;  // weights past a finite total
  for (v1::Item& item : *heavy.mutable_items()) {
    item.set_priority(std::numeric_limits<double>::max());
  }
  seeds.emplace_back("dbl_max_priorities", heavy.SerializeAsString());
  return seeds;
}

}  // namespace
}  // namespace fuzz
}  // namespace shoal

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 in names
  shoal::fuzz::WriteSeedsIfAsked(shoal::fuzz::MakeSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal;
  using namespace shoal::fuzz;
  v1::InsertRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return -1;
  absl::StatusOr<std::unique_ptr<ReplayServer>> server =
      ReplayServer::Create(MakeServerOptions(/*dir=*/""));
  Check(server.ok());
  std::vector<Table*> tables;
  if (!ValidateBatch(**server, request, &tables).ok()) return 0;
  InsertAll(request, tables);
  // A resent batch is dropped as resends, or refused whole.
  std::vector<Table*> again;
  if (ValidateBatch(**server, request, &again).ok()) {
    Check(InsertAll(request, again) == 0);
  }

  for (const auto& table : (*server)->tables()) {
    absl::flat_hash_set<std::string> inserted;
    for (int i = 0; i < request.items_size(); ++i) {
      if (tables[i] == table.get())
        inserted.insert(ColumnsKey(request.items(i)));
    }
    SampleBack(table.get(), inserted);
  }
  return 0;
}
