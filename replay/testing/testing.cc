#include "replay/testing/testing.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "shoal/v1/replay.grpc.pb.h"

#include "common/grpc_status.h"
#include "common/tensor_codec.h"

namespace shoal {

std::vector<v1::TensorSpec> IdSignature() {
  v1::TensorSpec spec;
  spec.set_name("id");
  spec.set_dtype(v1::DTYPE_INT64);
  return {spec};
}

v1::Item MakeIdItem(absl::string_view table, int64_t id, double priority) {
  v1::Item item;
  item.set_table(std::string(table));
  item.set_priority(priority);
  const int64_t value[1] = {id};
  EncodeTensor<int64_t>(value, {}, item.add_columns()).IgnoreError();
  return item;
}

absl::StatusOr<int64_t> ItemId(const v1::Item& item) {
  if (item.columns_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an id item has 1 column, this one ", item.columns_size()));
  }
  int64_t id = 0;
  absl::Status decoded =
      DecodeTensorInto<int64_t>(item.columns(0), absl::MakeSpan(&id, 1), "id");
  if (!decoded.ok()) return decoded;
  return id;
}

TableOptions MakeFifoIdTable(int shard_index) {
  TableOptions options;
  options.name = "ids";
  options.signature = IdSignature();
  options.sampler = SelectorKind::kFifo;
  options.remover = SelectorKind::kFifo;
  options.max_size = 100000;
  options.max_times_sampled = 1;
  options.rate_limiter = RateLimiterOptions::MinSize(1);
  options.shard_index = shard_index;
  return options;
}

std::string FifoIdTableYaml(int shards, int64_t max_size) {
  return absl::StrFormat(R"(experiment: replay-client-test
tables:
  - name: ids
    sampler: {kind: fifo}
    remover: {kind: fifo}
    max_size: %d
    max_times_sampled: 1
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: id, dtype: int64, shape: []}
replay:
  shards: %d
actor: {table: ids}
learner: {table: ids}
stop:
  env_steps: 1
)",
                         max_size, shards);
}

absl::StatusOr<std::vector<int64_t>> DrainIds(const std::string& address,
                                              absl::string_view table,
                                              absl::Time deadline) {
  auto stub = v1::ReplayService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::InfoRequest info_request;
  info_request.set_table(std::string(table));
  v1::InfoResponse info;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    if (grpc::Status s = stub->Info(&context, info_request, &info); !s.ok()) {
      return FromGrpcStatus(s);
    }
  }
  std::vector<int64_t> ids;
  if (info.tables_size() != 1 || info.tables(0).size() == 0) return ids;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  auto stream = stub->SampleStream(&context);
  v1::SampleRequest request;
  request.set_table(std::string(table));
  request.set_num_samples(static_cast<int32_t>(info.tables(0).size()));
  stream->Write(request);
  v1::SampleResponse response;
  while (stream->Read(&response)) {
    for (const v1::SampledItem& sampled : response.items()) {
      absl::StatusOr<int64_t> id = ItemId(sampled.item());
      if (!id.ok()) return id.status();
      ids.push_back(*id);
    }
    if (response.end_of_request()) break;
  }
  stream->WritesDone();
  if (grpc::Status s = stream->Finish(); !s.ok()) return FromGrpcStatus(s);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace shoal
