#include "learner/parameter_store.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shoal {
namespace {

// A Parameters message of about `bytes` bytes: one uint8 tensor whose
// content depends on `version`.
v1::Parameters MakeParameters(int64_t version, int64_t bytes) {
  v1::Parameters p;
  p.set_version(version);
  v1::NamedTensor* t = p.add_tensors();
  t->set_name("policy.0.weight");
  t->mutable_tensor()->set_dtype(v1::DTYPE_UINT8);
  t->mutable_tensor()->add_shape(bytes);
  std::string data(bytes, '\0');
  for (int64_t i = 0; i < bytes; ++i) {
    data[i] = static_cast<char>((i * 31 + version * 7) & 0xff);
  }
  t->mutable_tensor()->set_data(std::move(data));
  return p;
}

std::string Concatenate(const PublishedParameters& published) {
  std::string bytes;
  for (const v1::ParametersChunk& c : published.chunks) bytes += c.data();
  return bytes;
}

TEST(ParameterStoreTest, IsEmptyBeforeTheFirstPublish) {
  auto store = ParameterStore::Create({});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Latest(), nullptr);
  EXPECT_EQ((*store)->latest_version(), 0);
  EXPECT_EQ((*store)->serializations(), 0);
}

TEST(ParameterStoreTest, RejectsAZeroChunkSize) {
  ParameterStoreOptions options;
  options.max_chunk_bytes = 0;
  EXPECT_EQ(ParameterStore::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParameterStoreTest, CutsAVersionIntoChunksOfAtMostOneMebibyte) {
  auto store = ParameterStore::Create({});
  ASSERT_TRUE(store.ok());
  const v1::Parameters params = MakeParameters(/*version=*/1, 5 << 20);
  ASSERT_TRUE((*store)->Publish(params, /*learner_step=*/42).ok());

  std::shared_ptr<const PublishedParameters> p = (*store)->Latest();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->version, 1);
  EXPECT_EQ(p->chunks.size(), 6u);  // 5 MiB + headers
  for (size_t i = 0; i < p->chunks.size(); ++i) {
    const v1::ParametersChunk& c = p->chunks[i];
    EXPECT_LE(c.data().size(), 1u << 20);
    EXPECT_EQ(c.version(), 1);
    EXPECT_EQ(c.chunk_index(), static_cast<int>(i));
    EXPECT_EQ(c.num_chunks(), 6);
    EXPECT_EQ(c.total_bytes(), p->total_bytes);
    EXPECT_EQ(c.learner_step(), 42);
    EXPECT_GT(c.published_unix_ms(), 0);
  }
  v1::Parameters parsed;
  ASSERT_TRUE(parsed.ParseFromString(Concatenate(*p)));
  EXPECT_EQ(parsed.SerializeAsString(), params.SerializeAsString());
}

TEST(ParameterStoreTest, AnEmptyMessageIsOneEmptyChunk) {
  auto store = ParameterStore::Create({});
  ASSERT_TRUE(store.ok());
  // Version 0 means "none" and is never published.
  EXPECT_FALSE((*store)->Publish(v1::Parameters(), /*learner_step=*/0).ok());
  v1::Parameters params;
  params.set_version(1);
  ASSERT_TRUE((*store)->Publish(params, /*learner_step=*/0).ok());
  ASSERT_EQ((*store)->Latest()->chunks.size(), 1u);
  EXPECT_EQ((*store)->Latest()->chunks[0].num_chunks(), 1);
}

TEST(ParameterStoreTest, RejectsAVersionThatIsNotNewer) {
  auto store = ParameterStore::Create({});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Publish(MakeParameters(5, 100), 0).ok());
  for (int64_t v : {5, 3}) {
    absl::Status s = (*store)->Publish(MakeParameters(v, 100), 0);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("version"), absl::string_view::npos) << s;
  }
  EXPECT_EQ((*store)->latest_version(), 5);
  EXPECT_EQ((*store)->serializations(), 1);
}

TEST(ParameterStoreTest, SerialisesOncePerVersion) {
  auto store = ParameterStore::Create({});
  ASSERT_TRUE(store.ok());
  for (int64_t v = 1; v <= 3; ++v) {
    ASSERT_TRUE((*store)->Publish(MakeParameters(v, 3 << 20), v * 10).ok());
    // Readers share the one copy.
    EXPECT_EQ((*store)->Latest().get(), (*store)->Latest().get());
  }
  EXPECT_EQ((*store)->serializations(), 3);
}

TEST(ParameterStoreTest, KeepsAnOldVersionAliveForItsReaders) {
  auto store = ParameterStore::Create({});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Publish(MakeParameters(1, 1000), 0).ok());
  std::shared_ptr<const PublishedParameters> old = (*store)->Latest();
  ASSERT_TRUE((*store)->Publish(MakeParameters(2, 1000), 0).ok());
  EXPECT_EQ(old->version, 1);
  v1::Parameters parsed;
  ASSERT_TRUE(parsed.ParseFromString(Concatenate(*old)));
  EXPECT_EQ(parsed.version(), 1);
}

TEST(ParameterStoreTest, CallsListenersAfterEachPublishUntilUnsubscribed) {
  auto store = ParameterStore::Create({});
  ASSERT_TRUE(store.ok());
  std::atomic<int> calls{0};
  std::atomic<int64_t> seen{0};
  ParameterStore* s = store->get();
  const int64_t id = s->Subscribe([&] {
    ++calls;
    seen = s->latest_version();  // the new version is visible
  });
  EXPECT_EQ(s->num_listeners(), 1);
  ASSERT_TRUE(s->Publish(MakeParameters(1, 10), 0).ok());
  ASSERT_TRUE(s->Publish(MakeParameters(2, 10), 0).ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(seen.load(), 2);
  s->Unsubscribe(id);
  ASSERT_TRUE(s->Publish(MakeParameters(3, 10), 0).ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(s->num_listeners(), 0);
}

// Publishers and readers race: every reader must see a whole, consistent
// version (chunks that concatenate to a message of that version), and
// versions must only go up.
TEST(ParameterStoreTest, ReadersSeeWholeVersionsWhilePublishing) {
  ParameterStoreOptions options;
  options.max_chunk_bytes = 1000;
  auto store = ParameterStore::Create(options);
  ASSERT_TRUE(store.ok());
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  std::atomic<int> errors{0};
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!done) {
        std::shared_ptr<const PublishedParameters> p = (*store)->Latest();
        if (p == nullptr) continue;
        v1::Parameters parsed;
        if (p->version < last || !parsed.ParseFromString(Concatenate(*p)) ||
            parsed.version() != p->version) {
          ++errors;
        }
        last = p->version;
      }
    });
  }
  for (int64_t v = 1; v <= 200; ++v) {
    ASSERT_TRUE((*store)->Publish(MakeParameters(v, 10000), v).ok());
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
}

}  // namespace
}  // namespace shoal
