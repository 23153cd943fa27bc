// libFuzzer target: arbitrary bytes as a replay checkpoint file
// (`shard.records`, see replay/replay_server.h and
// proto/shoal/v1/replay_checkpoint.proto), loaded the way a shard loads
// one at start: ReplayServer::Create on a directory holding it as the
// newest complete checkpoint (RecordReader, Table::RestoreCheckpoint).
//
// A file that does not load must give an error, never a crash. A file that
// loads must give tables that work: they are sampled (both encoders),
// priorities updated, new items inserted (evicting restored ones), and
// checkpointed again; that checkpoint must load into a shard whose tables
// report the same sizes, bytes and counters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

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

namespace fs = std::filesystem;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// A directory of its own on tmpfs when there is one (checkpoints fsync).
std::string MakeWorkDir() {
  std::string base = "/dev/shm";
  if (!fs::is_directory(base)) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr ? tmp : "/tmp";
  }
  std::string templ = base + "/shoal_checkpoint_fuzz.XXXXXX";
  Check(mkdtemp(templ.data()) != nullptr);
  return templ;
}

void WriteFile(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data),
            static_cast<std::streamsize>(size));
  Check(out.good());
}

// Sizes and counters that a checkpoint round trip must keep.
std::string Summary(const ReplayServer& server) {
  absl::StatusOr<v1::InfoResponse> info = server.Info("");
  Check(info.ok());
  std::string out;
  for (v1::TableInfo& table : *info->mutable_tables()) {
    table.clear_total_priority();  // a float sum: order dependent
    table.mutable_rate_limiter()->clear_blocked_inserts();
    table.mutable_rate_limiter()->clear_blocked_samples();
    out += table.SerializeAsString();
  }
  return out;
}

// Uses every table of a freshly restored shard.
void Exercise(ReplayServer* server) {
  int i = 0;
  for (const auto& table : server->tables()) {
    const v1::TableInfo info = table->Info();
    Check(info.size() <= info.max_size());
    EncodedSamples encoded;
    std::vector<uint64_t> keys;
    if (table->SampleEncoded(4, absl::InfinitePast(), &encoded).ok()) {
      v1::SampleResponse response;
      Check(response.ParseFromString(SampleEncoder::ResponseHead(1) +
                                     encoded.bytes +
                                     SampleEncoder::ResponseTail(true)));
      for (const v1::SampledItem& item : response.items()) {
        keys.push_back(item.key());
      }
    }
    google::protobuf::RepeatedPtrField<v1::SampledItem> messages;
    (void)table->Sample(4, absl::InfinitePast(), &messages);
    const std::vector<double> priorities(keys.size(), 2.0);
    (void)table->UpdatePriorities(keys, priorities);
    for (int k = 0; k < 2; ++k, ++i) {
      v1::Item item = table->name() == "fixed"      ? MakeFixedItem(i)
                      : table->name() == "variable" ? MakeVariableItem(i)
                                                    : MakeAnyItem(i);
      Check(table->Validate(item, "item").ok());
      (void)table->Insert(item, /*writer_id=*/999, /*sequence=*/1 + k,
                          absl::InfinitePast());
    }
  }
}

// A shard's checkpoint, written by the real code, as seeds.
Seeds MakeSeeds() {
  const std::string dir = MakeWorkDir();
  Seeds seeds;
  absl::StatusOr<std::unique_ptr<ReplayServer>> server =
      ReplayServer::Create(MakeServerOptions(dir));
  Check(server.ok());
  auto add_checkpoint = [&](const std::string& name) {
    absl::StatusOr<v1::CheckpointResponse> written = (*server)->Checkpoint();
    Check(written.ok());
    std::ifstream in(written->path() + "/shard.records", std::ios::binary);
    seeds.emplace_back(name, std::string(std::istreambuf_iterator<char>(in),
                                         std::istreambuf_iterator<char>()));
  };
  add_checkpoint("empty");
  for (int i = 0; i < 3; ++i) {
    Table* fixed = (*server)->FindTable("fixed");
    Check(fixed->Insert(MakeFixedItem(i), 1, 1 + i, absl::InfinitePast()).ok());
    Table* variable = (*server)->FindTable("variable");
    Check(variable->Insert(MakeVariableItem(i), 2, 1 + i, absl::InfinitePast())
              .ok());
  }
  add_checkpoint("two_tables");
  for (const auto& table : (*server)->tables()) {
    for (int i = 0; i < 5; ++i) {
      (void)table->Insert(table->name() == "any"     ? MakeAnyItem(i)
                          : table->name() == "fixed" ? MakeFixedItem(10 + i)
                                                     : MakeVariableItem(10 + i),
                          3, 10 + i, absl::InfinitePast());
    }
    google::protobuf::RepeatedPtrField<v1::SampledItem> sampled;
    (void)table->Sample(3, absl::InfinitePast(), &sampled);
  }
  add_checkpoint("full_sampled");
  fs::remove_all(dir);
  return seeds;
}

// The fuzzed checkpoint directory and where round trips go.
struct WorkDirs {
  std::string input;      // holds ckpt-<1>/ with DONE: the input
  std::string records;    // the input's shard.records
  std::string roundtrip;  // re-written checkpoints are moved here
};

WorkDirs* dirs = nullptr;

}  // namespace
}  // namespace fuzz
}  // namespace shoal

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  using namespace shoal::fuzz;
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 in names
  WriteSeedsIfAsked(MakeSeeds);
  const std::string root = MakeWorkDir();
  dirs = new WorkDirs{root + "/input", "", root + "/roundtrip"};
  const std::string ckpt = dirs->input + "/ckpt-00000000000000000001";
  fs::create_directories(ckpt);
  fs::create_directories(dirs->roundtrip);
  WriteFile(ckpt + "/DONE", nullptr, 0);
  dirs->records = ckpt + "/shard.records";
  std::atexit([] { fs::remove_all(fs::path(dirs->input).parent_path()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal;
  using namespace shoal::fuzz;
  WriteFile(dirs->records, data, size);
  absl::StatusOr<std::unique_ptr<ReplayServer>> server =
      ReplayServer::Create(MakeServerOptions(dirs->input));
  if (!server.ok()) return 0;
  Check((*server)->restored_from() ==
        fs::path(dirs->records).parent_path().string());
  Exercise(server->get());

  // Write it again (real Checkpoint), load that: the same tables.
  const std::string before = Summary(**server);
  absl::StatusOr<v1::CheckpointResponse> written = (*server)->Checkpoint();
  Check(written.ok());
  const std::string moved =
      dirs->roundtrip + "/" + fs::path(written->path()).filename().string();
  fs::rename(written->path(), moved);
  absl::StatusOr<std::unique_ptr<ReplayServer>> reloaded =
      ReplayServer::Create(MakeServerOptions(dirs->roundtrip));
  Check(reloaded.ok());
  Check(Summary(**reloaded) == before);
  fs::remove_all(moved);
  return 0;
}
