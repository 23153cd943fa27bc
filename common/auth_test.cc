#include "common/auth.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/testing/test_util.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;

TokenTable ParseOrDie(absl::string_view contents) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(contents, "tokens");
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

Authorizer MakeAuthorizer() {
  return Authorizer(ParseOrDie("actor a\nlearner l\nadmin root\nreader r\n"),
                    ShoalMethodRoles());
}

TEST(RoleTest, NamesRoundTrip) {
  for (Role role :
       {Role::kActor, Role::kLearner, Role::kAdmin, Role::kReader}) {
    EXPECT_EQ(ParseRole(RoleName(role)), absl::StatusOr<Role>(role));
  }
  EXPECT_EQ(ParseRole("root").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TokenTableTest, SkipsCommentsAndBlankLines) {
  TokenTable table = ParseOrDie(
      "# tokens for shard 0\n"
      "\n"
      "actor  tok-1\n"
      "  learner\ttok-2  \n");
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Find("tok-1"), Role::kActor);
  EXPECT_EQ(table.Find("tok-2"), Role::kLearner);
  EXPECT_EQ(table.Find("tok-3"), std::nullopt);
  EXPECT_EQ(table.Find("tok-"), std::nullopt);
  EXPECT_EQ(table.Find(""), std::nullopt);
}

TEST(TokenTableTest, LineWithOneFieldIsAnErrorNamingFileAndLine) {
  EXPECT_EQ(
      TokenTable::Parse("actor a\n# comment\nlearner\n", "tokens.txt").status(),
      absl::InvalidArgumentError(
          "tokens.txt:3: expected '<role> <token>', got 1 fields"));
}

TEST(TokenTableTest, UnknownRoleIsAnErrorNamingFileAndLine) {
  EXPECT_EQ(TokenTable::Parse("root secret\n", "tokens.txt").status(),
            absl::InvalidArgumentError(
                "tokens.txt:1: unknown role 'root' (expected actor, learner, "
                "admin or reader)"));
}

TEST(TokenTableTest, DuplicateTokenIsAnError) {
  EXPECT_EQ(TokenTable::Parse("actor x\nadmin x\n", "t").status(),
            absl::InvalidArgumentError("t:2: duplicate token"));
}

TEST(TokenTableTest, FromFileReadsTheFileAndNamesItInErrors) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_auth_test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string path = *dir + "/tokens";
  ASSERT_TRUE(WriteTestFile(path, "admin s3cret\nreader\n").ok());
  EXPECT_EQ(TokenTable::FromFile(path).status(),
            absl::InvalidArgumentError(absl::StrCat(
                path, ":2: expected '<role> <token>', got 1 fields")));
  EXPECT_THAT(TokenTable::FromFile(*dir + "/missing").status().message(),
              HasSubstr(*dir + "/missing"));
}

TEST(AuthorizerTest, MissingTokenIsUnauthenticated) {
  EXPECT_EQ(
      MakeAuthorizer().Check("/shoal.v1.ReplayService/Info", std::nullopt),
      absl::UnauthenticatedError("/shoal.v1.ReplayService/Info needs "
                                 "'authorization: Bearer <token>'"));
}

TEST(AuthorizerTest, UnknownTokenOrSchemeIsUnauthenticated) {
  Authorizer authorizer = MakeAuthorizer();
  EXPECT_EQ(
      authorizer.Check("/shoal.v1.ReplayService/Info", "Bearer nope").code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authorizer.Check("/shoal.v1.ReplayService/Info", "Basic r").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthorizerTest, ChecksRolesAgainstTheMethodMap) {
  Authorizer authorizer = MakeAuthorizer();
  EXPECT_TRUE(
      authorizer.Check("/shoal.v1.ReplayService/InsertStream", "Bearer a")
          .ok());
  EXPECT_TRUE(
      authorizer.Check("/shoal.v1.ReplayService/SampleStream", "Bearer l")
          .ok());
  EXPECT_TRUE(
      authorizer.Check("/shoal.v1.ReplayService/Info", "bearer r").ok());
  EXPECT_EQ(
      authorizer.Check("/shoal.v1.ReplayService/SampleStream", "Bearer a"),
      absl::PermissionDeniedError(
          "role 'actor' may not call /shoal.v1.ReplayService/SampleStream"));
  EXPECT_EQ(
      authorizer.Check("/shoal.v1.ReplayService/Checkpoint", "Bearer l").code(),
      absl::StatusCode::kPermissionDenied);
}

TEST(AuthorizerTest, AdminMayCallEveryMethodEvenUnlisted) {
  Authorizer authorizer = MakeAuthorizer();
  EXPECT_TRUE(
      authorizer.Check("/shoal.v1.ReplayService/Reset", "Bearer root").ok());
  EXPECT_TRUE(authorizer.Check("/some.Other/Method", "Bearer root").ok());
  EXPECT_EQ(authorizer.Check("/some.Other/Method", "Bearer r").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AuthorizerTest, HealthAndReflectionNeedNoToken) {
  Authorizer authorizer = MakeAuthorizer();
  EXPECT_TRUE(
      authorizer.Check("/grpc.health.v1.Health/Check", std::nullopt).ok());
  EXPECT_TRUE(authorizer
                  .Check("/grpc.reflection.v1alpha.ServerReflection/"
                         "ServerReflectionInfo",
                         std::nullopt)
                  .ok());
}

TEST(AuthorizerTest, CreateRefusesAFileWithoutTokens) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_auth_test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string path = *dir + "/tokens";
  ASSERT_TRUE(WriteTestFile(path, "# nothing yet\n").ok());
  EXPECT_EQ(Authorizer::Create(path, MethodRoles()).status(),
            absl::InvalidArgumentError(absl::StrCat(
                path, ": no tokens; every call would be refused")));
}

TEST(ReadTokenFileTest, ReturnsTheFirstTokenLineTrimmed) {
  absl::StatusOr<std::string> dir = MakeTempDir("shoal_auth_test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string path = *dir + "/token";
  ASSERT_TRUE(WriteTestFile(path, "# actor token\n  abc123 \n").ok());
  EXPECT_EQ(ReadTokenFile(path).value_or("<error>"), "abc123");
  ASSERT_TRUE(WriteTestFile(path, "\n").ok());
  EXPECT_EQ(ReadTokenFile(path).status(),
            absl::InvalidArgumentError(absl::StrCat(path, ": no token")));
  EXPECT_THAT(ReadTokenFile(*dir + "/missing").status().message(),
              HasSubstr("cannot read token file '" + *dir + "/missing'"));
}

}  // namespace
}  // namespace shoal
