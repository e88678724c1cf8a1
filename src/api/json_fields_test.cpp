#include "api/json_fields.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(JsonFieldsTest, MalformedJsonIsInvalidRequest) {
  for (const char* text : {"", "{", "nul", "{\"a\":}", "[1,2]", "\"str\"", "{\"a\":1}x"}) {
    auto parsed = ParseJsonObject(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidRequest) << text;
  }
}

TEST(JsonFieldsTest, DeepNestingIsRejectedNotRecursedInto) {
  std::string deep(10000, '[');
  auto parsed = ParseJsonObject("{\"a\":" + deep + "}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidRequest);
}

TEST(JsonFieldsTest, TypedAccessNamesTheField) {
  auto obj = ParseJsonObject(R"({"name":"bob","age":"old","n":5,"big":18446744073709551615})");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(*RequireString(*obj, "name"), "bob");
  auto age = RequireInt(*obj, "age");
  ASSERT_FALSE(age.ok());
  EXPECT_EQ(age.error().message, "age must be an integer");
  EXPECT_EQ(*RequireInt(*obj, "n"), 5);
  EXPECT_FALSE(RequireInt(*obj, "big").ok());
  auto missing = RequireString(*obj, "password");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "password is required");
  auto optional = OptionalString(*obj, "absent");
  ASSERT_TRUE(optional.ok());
  EXPECT_FALSE(optional->has_value());
  EXPECT_FALSE(OptionalString(*obj, "n").ok());
}

TEST(JsonFieldsTest, UnknownFieldsAreNamed) {
  auto obj = ParseJsonObject(R"({"username":"a","pasword":"b"})");
  ASSERT_TRUE(obj.ok());
  Status s = RejectUnknownFields(*obj, {"username", "password"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "unknown field: pasword");
  EXPECT_TRUE(RejectUnknownFields(*obj, {"username", "pasword"}).ok());
}

TEST(JsonFieldsTest, ErrorBodyMatchesTheContract) {
  EXPECT_EQ(ErrorBody(Error::NotFound("no such user")),
            R"({"error":{"code":"not_found","message":"no such user"}})");
  EXPECT_EQ(
      ErrorBody(Error::RateLimited(250)),
      R"({"error":{"code":"rate_limited","message":"too many requests, retry later","retry_after_ms":250}})");
}

}  // namespace
}  // namespace parley
