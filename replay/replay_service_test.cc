// ReplayServiceImpl over real loopback gRPC: every RPC, and bad input that
// must be refused with a message naming the problem while nothing of it is
// stored and the stream and server go on serving.
#include "replay/replay_service.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

#include "common/grpc_server.h"
#include "common/tensor_codec.h"
#include "common/testing/test_util.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

v1::TensorSpec MakeSpec(const std::string& name, v1::DType dtype,
                        std::vector<int64_t> shape) {
  v1::TensorSpec spec;
  spec.set_name(name);
  spec.set_dtype(dtype);
  spec.mutable_shape()->Assign(shape.begin(), shape.end());
  return spec;
}

TableOptions MakeTableOptions(int64_t min_size_to_sample = 1) {
  TableOptions options;
  options.name = "transitions";
  options.signature = {MakeSpec("observation", v1::DTYPE_FLOAT32, {4}),
                       MakeSpec("reward", v1::DTYPE_FLOAT32, {})};
  options.max_size = 1000;
  options.rate_limiter = {1.0, min_size_to_sample,
                          std::numeric_limits<double>::lowest(),
                          std::numeric_limits<double>::max()};
  return options;
}

v1::Item MakeItem(float value) {
  v1::Item item;
  item.set_table("transitions");
  item.set_priority(1.0);
  const std::vector<float> obs(4, value);
  EncodeTensor<float>(obs, {4}, item.add_columns()).IgnoreError();
  const std::vector<float> reward = {value};
  EncodeTensor<float>(reward, {}, item.add_columns()).IgnoreError();
  return item;
}

// A shard (one table) served on a free loopback port.
class TestShard {
 public:
  explicit TestShard(TableOptions table = MakeTableOptions(),
                     std::string checkpoint_dir = "",
                     ReplayServiceOptions service = ReplayServiceOptions()) {
    ReplayServerOptions options;
    options.shard_index = 1;
    options.tables = {std::move(table)};
    options.checkpoint_dir = std::move(checkpoint_dir);
    server_ = std::move(ReplayServer::Create(std::move(options)).value());
    service_ =
        std::make_unique<ReplayServiceImpl>(server_.get(), service, nullptr);
    ServerOptions grpc_options;
    grpc_options.max_receive_message_bytes = 1 << 20;
    grpc_ =
        std::move(GrpcServer::Start(grpc_options, {service_.get()}).value());
    stub_ = v1::ReplayService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_->port()),
                            grpc::InsecureChannelCredentials()));
  }
  ~TestShard() {
    server_->Cancel();
    grpc_->Shutdown(absl::Now() + absl::Seconds(1));
  }

  v1::ReplayService::Stub& stub() { return *stub_; }
  ReplayServer& server() { return *server_; }
  int64_t size() { return server_->tables()[0]->Info().size(); }

 private:
  std::unique_ptr<ReplayServer> server_;
  std::unique_ptr<ReplayServiceImpl> service_;
  std::unique_ptr<GrpcServer> grpc_;
  std::unique_ptr<v1::ReplayService::Stub> stub_;
};

v1::InsertRequest MakeBatch(uint64_t writer, uint64_t first, int n) {
  v1::InsertRequest request;
  request.set_writer_id(writer);
  request.set_first_sequence(first);
  for (int i = 0; i < n; ++i) {
    *request.add_items() = MakeItem(static_cast<float>(first + i));
  }
  return request;
}

// Sends `request` on `stream` and returns the acknowledgement.
v1::InsertResponse Send(
    grpc::ClientReaderWriter<v1::InsertRequest, v1::InsertResponse>* stream,
    const v1::InsertRequest& request) {
  EXPECT_TRUE(stream->Write(request));
  v1::InsertResponse response;
  EXPECT_TRUE(stream->Read(&response));
  return response;
}

TEST(ReplayServiceTest, InsertsAreAcknowledgedAndStoredOnce) {
  TestShard shard;
  grpc::ClientContext context;
  auto stream = shard.stub().InsertStream(&context);
  v1::InsertResponse ack = Send(stream.get(), MakeBatch(7, 1, 5));
  EXPECT_EQ(ack.acked_sequence(), 5u);
  EXPECT_FALSE(ack.has_error());
  // A reconnecting writer resends 3..5 and goes on with 6..8.
  ack = Send(stream.get(), MakeBatch(7, 3, 6));
  EXPECT_EQ(ack.acked_sequence(), 8u);
  EXPECT_EQ(shard.size(), 8);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(ReplayServiceTest, BadBatchesAreRefusedWholeAndTheStreamGoesOn) {
  TestShard shard;
  grpc::ClientContext context;
  auto stream = shard.stub().InsertStream(&context);
  struct Case {
    std::string name;
    std::function<void(v1::InsertRequest*)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown table",
       [](v1::InsertRequest* r) { r->mutable_items(1)->set_table("nope"); },
       "items[1].table: no table named 'nope' (tables: transitions)"},
      {"missing column",
       [](v1::InsertRequest* r) {
         r->mutable_items(1)->mutable_columns()->RemoveLast();
       },
       "items[1]: missing column reward: item has 1 columns, signature has "
       "2"},
      {"extra column",
       [](v1::InsertRequest* r) {
         *r->mutable_items(1)->add_columns() = r->items(1).columns(1);
       },
       "items[1]: extra column: item has 3 columns, signature has 2"},
      {"wrong dtype",
       [](v1::InsertRequest* r) {
         r->mutable_items(1)->mutable_columns(1)->set_dtype(v1::DTYPE_INT32);
       },
       "items[1].columns[1] (reward): dtype int32 != signature dtype "
       "float32"},
      {"wrong shape",
       [](v1::InsertRequest* r) {
         r->mutable_items(1)->mutable_columns(0)->set_shape(0, 5);
       },
       "items[1].columns[0] (observation): shape [5] != signature shape "
       "[4]"},
      {"NaN",
       [](v1::InsertRequest* r) {
         const std::vector<float> nan = {std::nanf("")};
         EncodeTensor<float>(nan, {}, r->mutable_items(1)->mutable_columns(1))
             .IgnoreError();
       },
       "items[1].columns[1] (reward): element 0 is not finite (NaN or Inf; "
       "the column does not allow it)"},
      {"Inf",
       [](v1::InsertRequest* r) {
         const std::vector<float> inf(4,
                                      std::numeric_limits<float>::infinity());
         EncodeTensor<float>(inf, {4}, r->mutable_items(1)->mutable_columns(0))
             .IgnoreError();
       },
       "items[1].columns[0] (observation): element 0 is not finite (NaN or "
       "Inf; the column does not allow it)"},
      {"negative priority",
       [](v1::InsertRequest* r) { r->mutable_items(1)->set_priority(-1); },
       "items[1].priority must be finite and >= 0, got -1"},
      {"short data",
       [](v1::InsertRequest* r) {
         r->mutable_items(1)->mutable_columns(0)->mutable_data()->resize(3);
       },
       "items[1].columns[0] (observation): data has 3 bytes but float32 [4] "
       "needs 16"},
      {"empty batch", [](v1::InsertRequest* r) { r->clear_items(); },
       "items: the batch is empty"},
  };
  uint64_t next = 1;
  for (const Case& c : cases) {
    v1::InsertRequest batch = MakeBatch(1, next, 3);
    c.spoil(&batch);
    v1::InsertResponse ack = Send(stream.get(), batch);
    ASSERT_TRUE(ack.has_error()) << c.name;
    EXPECT_EQ(ack.error().code(), 3) << c.name;  // INVALID_ARGUMENT
    EXPECT_EQ(ack.error().message(), c.message) << c.name;
    EXPECT_EQ(shard.size(), 0) << c.name << ": nothing may be stored";
    next += batch.items_size();
  }
  // The same stream still inserts.
  v1::InsertResponse ack = Send(stream.get(), MakeBatch(1, next, 2));
  EXPECT_FALSE(ack.has_error());
  EXPECT_EQ(shard.size(), 2);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(ReplayServiceTest, OversizedMessagesEndOnlyTheirOwnStream) {
  TestShard shard;
  grpc::ClientContext big_context;
  auto big = shard.stub().InsertStream(&big_context);
  big->Write(MakeBatch(1, 1, 30000));  // ~1.5 MB > the 1 MiB cap
  v1::InsertResponse ignored;
  EXPECT_FALSE(big->Read(&ignored));
  grpc::Status status = big->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Everyone else is still served.
  grpc::ClientContext context;
  auto stream = shard.stub().InsertStream(&context);
  EXPECT_EQ(Send(stream.get(), MakeBatch(2, 1, 4)).acked_sequence(), 4u);
  EXPECT_EQ(shard.size(), 4);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

std::vector<v1::SampleResponse> SampleOnce(TestShard& shard,
                                           const v1::SampleRequest& request,
                                           grpc::Status* status) {
  grpc::ClientContext context;
  auto stream = shard.stub().SampleStream(&context);
  stream->Write(request);
  std::vector<v1::SampleResponse> responses;
  v1::SampleResponse response;
  while (stream->Read(&response)) {
    responses.push_back(response);
    if (response.end_of_request()) break;
  }
  stream->WritesDone();
  *status = stream->Finish();
  return responses;
}

void Fill(TestShard& shard, int n) {
  grpc::ClientContext context;
  auto stream = shard.stub().InsertStream(&context);
  Send(stream.get(), MakeBatch(99, 1, n));
  stream->WritesDone();
  stream->Finish();
}

TEST(ReplayServiceTest, SamplesComeInSizeCappedResponses) {
  TestShard shard;
  Fill(shard, 10);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(64);
  request.set_max_response_bytes(1000);  // ~15 items of ~60 bytes
  request.set_request_id(42);
  grpc::Status status;
  std::vector<v1::SampleResponse> responses =
      SampleOnce(shard, request, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_GT(responses.size(), 1u);
  int items = 0;
  for (size_t i = 0; i < responses.size(); ++i) {
    EXPECT_EQ(responses[i].request_id(), 42u);
    EXPECT_EQ(responses[i].end_of_request(), i + 1 == responses.size());
    EXPECT_LE(responses[i].ByteSizeLong(), 1000u + 100u);
    for (const v1::SampledItem& s : responses[i].items()) {
      EXPECT_EQ(s.key() >> 48, 1u);
      EXPECT_DOUBLE_EQ(s.probability(), 0.1);
      EXPECT_EQ(s.table_size(), 10);
      ++items;
    }
  }
  EXPECT_EQ(items, 64);
}

// A request asking for responses larger than the stream's budget gets them
// cut to it; the budget is whole again once the responses are read.
TEST(ReplayServiceTest, ResponsesAreCutToTheStreamBudget) {
  ReplayServiceOptions options;
  options.max_stream_sample_bytes = 1000;
  TestShard shard(MakeTableOptions(), "", options);
  Fill(shard, 10);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(64);
  request.set_max_response_bytes(int64_t{1} << 30);
  grpc::Status status;
  std::vector<v1::SampleResponse> responses =
      SampleOnce(shard, request, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  int items = 0;
  for (const v1::SampleResponse& response : responses) {
    EXPECT_LE(response.ByteSizeLong(), 1000u);
    items += response.items_size();
  }
  EXPECT_EQ(items, 64);
  EXPECT_GT(responses.size(), 3u);
}

TEST(ReplayServiceTest, BadSampleRequestsAreRefusedByName) {
  TestShard shard;
  Fill(shard, 3);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(0);
  grpc::Status status;
  SampleOnce(shard, request, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "num_samples: must be in [1, 65536], got 0");
  request.set_table("missing");
  request.set_num_samples(1);
  SampleOnce(shard, request, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "table: no table named 'missing' (tables: transitions)");
}

TEST(ReplayServiceTest, BlockedSamplesEndWithDeadlineExceeded) {
  TestShard shard(MakeTableOptions(/*min_size_to_sample=*/100));
  Fill(shard, 3);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(1);
  request.set_timeout_ms(200);
  grpc::Status status;
  const absl::Time start = absl::Now();
  SampleOnce(shard, request, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(status.error_message(), HasSubstr("sample of 1 from table "
                                                "transitions blocked"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));
}

// A wait longer than the service's 1 s wait slices is reported whole, not
// as its last slice.
TEST(ReplayServiceTest, ABlockedSampleReportsTheWholeWait) {
  TestShard shard(MakeTableOptions(/*min_size_to_sample=*/100));
  Fill(shard, 3);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(1);
  request.set_timeout_ms(2300);
  grpc::Status status;
  SampleOnce(shard, request, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(
      status.error_message(),
      ::testing::MatchesRegex(".*blocked for [2-9](\\.[0-9]+)?s until the "
                              "deadline: .*min_size_to_sample.*"));
}

TEST(ReplayServiceTest, PriorityUpdatesAreCheckedAndApplied) {
  TableOptions table = MakeTableOptions();
  table.sampler = SelectorKind::kPrioritized;
  TestShard shard(table);
  Fill(shard, 4);
  v1::SampleRequest request;
  request.set_table("transitions");
  request.set_num_samples(1);
  grpc::Status status;
  std::vector<v1::SampleResponse> responses =
      SampleOnce(shard, request, &status);
  ASSERT_TRUE(status.ok());
  const uint64_t key = responses[0].items(0).key();

  v1::UpdatePrioritiesRequest update;
  update.set_table("transitions");
  update.add_keys(key);
  update.add_priorities(9.0);
  update.add_keys((uint64_t{1} << 48) | 777);  // no such item
  update.add_priorities(1.0);
  v1::UpdatePrioritiesResponse updated;
  grpc::ClientContext context;
  ASSERT_TRUE(shard.stub().UpdatePriorities(&context, update, &updated).ok());
  EXPECT_EQ(updated.updated(), 1);
  EXPECT_THAT(updated.missing_keys(),
              ::testing::ElementsAre((uint64_t{1} << 48) | 777));

  for (double bad : {-1.0, std::nan("")}) {
    update.set_priorities(0, bad);
    grpc::ClientContext bad_context;
    status = shard.stub().UpdatePriorities(&bad_context, update, &updated);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("priorities[0] must be"));
  }
  update.set_table("nope");
  grpc::ClientContext nope_context;
  status = shard.stub().UpdatePriorities(&nope_context, update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(ReplayServiceTest, InfoResetAndCheckpointAnswer) {
  absl::StatusOr<std::string> dir = MakeTempDir("replay_service_test");
  ASSERT_TRUE(dir.ok());
  TestShard shard(MakeTableOptions(), *dir);
  Fill(shard, 5);
  v1::InfoRequest info_request;
  v1::InfoResponse info;
  grpc::ClientContext info_context;
  ASSERT_TRUE(shard.stub().Info(&info_context, info_request, &info).ok());
  EXPECT_EQ(info.shard_index(), 1);
  ASSERT_EQ(info.tables_size(), 1);
  EXPECT_EQ(info.tables(0).size(), 5);
  EXPECT_EQ(info.tables(0).bytes(), 5 * 20);
  EXPECT_EQ(info.tables(0).sampler(), "uniform");
  EXPECT_EQ(info.tables(0).signature_size(), 2);

  v1::CheckpointResponse checkpoint;
  grpc::ClientContext checkpoint_context;
  ASSERT_TRUE(
      shard.stub()
          .Checkpoint(&checkpoint_context, v1::CheckpointRequest(), &checkpoint)
          .ok());
  EXPECT_EQ(checkpoint.items(), 5);
  EXPECT_THAT(checkpoint.path(), HasSubstr(*dir));

  v1::ResetRequest reset;
  v1::ResetResponse reset_response;
  grpc::ClientContext reset_context;
  ASSERT_TRUE(shard.stub().Reset(&reset_context, reset, &reset_response).ok());
  EXPECT_EQ(shard.size(), 0);

  info_request.set_table("nope");
  grpc::ClientContext nope_context;
  EXPECT_EQ(shard.stub().Info(&nope_context, info_request, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(ReplayServiceTest, CheckpointWithoutADirectoryIsAFailedPrecondition) {
  TestShard shard;
  v1::CheckpointResponse checkpoint;
  grpc::ClientContext context;
  grpc::Status status =
      shard.stub().Checkpoint(&context, v1::CheckpointRequest(), &checkpoint);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace shoal
