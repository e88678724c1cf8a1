#include "common/status.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(StatusTest, EveryCodeMapsToTheContractsHttpStatusAndName) {
  struct Case {
    ErrorCode code;
    int http;
    std::string_view name;
  };
  const Case cases[] = {
      {ErrorCode::kInvalidRequest, 400, "invalid_request"},
      {ErrorCode::kUnauthorized, 401, "unauthorized"},
      {ErrorCode::kForbidden, 403, "forbidden"},
      {ErrorCode::kNotFound, 404, "not_found"},
      {ErrorCode::kConflict, 409, "conflict"},
      {ErrorCode::kRateLimited, 429, "rate_limited"},
      {ErrorCode::kPayloadTooLarge, 413, "payload_too_large"},
      {ErrorCode::kUnavailable, 503, "unavailable"},
      {ErrorCode::kInternal, 500, "internal"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(HttpStatus(c.code), c.http) << c.name;
    EXPECT_EQ(CodeName(c.code), c.name);
  }
}

TEST(StatusTest, ResultHoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Error::NotFound("no such thing");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(bad.error().message, "no such thing");
}

TEST(StatusTest, RateLimitedCarriesRetryAfter) {
  Status s = Error::RateLimited(1500);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(s.error().retry_after_ms, 1500);
}

}  // namespace
}  // namespace parley
