#include "chat/chat_limits.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNoon = 20'000 * kDay + kDay / 2;

TEST(SendQuota, RefusesPastTheDailyCountUntilMidnight) {
  SendQuota quota({.max_entries_per_day = 3, .max_bytes_per_day = 0});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(quota.Take("u_a", 10, kNoon).ok());
  Status refused = quota.Take("u_a", 10, kNoon);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(refused.error().retry_after_ms, kDay / 2);  // until the next UTC midnight
  EXPECT_NE(refused.error().message.find("3 messages"), std::string::npos);
  // Another user is not affected; the next day starts afresh.
  EXPECT_TRUE(quota.Take("u_b", 10, kNoon).ok());
  EXPECT_TRUE(quota.Take("u_a", 10, kNoon + kDay / 2).ok());
  EXPECT_EQ(quota.users(), 1u);
}

TEST(SendQuota, RefusesPastTheDailyBytesAndCountsNothingThen) {
  SendQuota quota({.max_entries_per_day = 0, .max_bytes_per_day = 100});
  EXPECT_TRUE(quota.Take("u_a", 60, kNoon).ok());
  EXPECT_FALSE(quota.Take("u_a", 60, kNoon).ok());  // 120 > 100: refused, not counted
  EXPECT_TRUE(quota.Take("u_a", 40, kNoon).ok());   // exactly 100
  Status refused = quota.Take("u_a", 1, kNoon);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("100 bytes"), std::string::npos);
}

TEST(SendQuota, StartsFromTheStoredUsageOfToday) {
  SendQuota quota({.max_entries_per_day = 5, .max_bytes_per_day = 0});
  quota.Load(kNoon / kDay,
             {DailyUsage{.user_id = "u_a", .day = kNoon / kDay, .entries = 5, .bytes = 50}});
  EXPECT_FALSE(quota.Take("u_a", 1, kNoon).ok());
  EXPECT_TRUE(quota.Take("u_b", 1, kNoon).ok());
}

TEST(SendQuota, ZeroMeansNoLimit) {
  SendQuota quota({});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(quota.Take("u_a", 1 << 20, kNoon).ok());
  EXPECT_EQ(quota.users(), 0u);
}

TEST(SearchGate, OnePerUserAndACapOverall) {
  SearchGate gate(2, 1);
  auto a = gate.Enter("u_a", 500);
  ASSERT_TRUE(a.ok());
  auto a2 = gate.Enter("u_a", 500);
  ASSERT_FALSE(a2.ok());
  EXPECT_EQ(a2.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(a2.error().retry_after_ms, 500);
  auto b = gate.Enter("u_b", 500);
  ASSERT_TRUE(b.ok());
  auto c = gate.Enter("u_c", 500);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(gate.active(), 2u);
  { SearchGate::Ticket released = std::move(*a); }
  EXPECT_EQ(gate.active(), 1u);
  EXPECT_TRUE(gate.Enter("u_a", 500).ok());  // its ticket is released at once here
  EXPECT_EQ(gate.active(), 1u);
}

}  // namespace
}  // namespace parley
