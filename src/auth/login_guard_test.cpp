#include "auth/login_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

LoginGuardParams Defaults() {
  return {.ip = {.per_minute = 1e6, .burst = 1e6},
          .user = {.per_minute = 6, .burst = 10},
          .user_fresh = {.per_minute = 12, .burst = 20},
          .user_ip = {.per_minute = 0.2, .burst = 5}};
}

std::string Ip(int i) { return "10.0.0." + std::to_string(i); }

TEST(LoginGuardTest, OneFailingSourceIsRefusedAndOthersAreNot) {
  FakeClock clock;
  MetricsRegistry metrics;
  LoginGuard guard(Defaults(), clock, metrics);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(guard.Admit("alice", Ip(1)).ok());
  auto refused = guard.Admit("alice", Ip(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(*refused.error().retry_after_ms, 5 * 60'000);  // one check per 5 minutes
  EXPECT_TRUE(guard.Admit("alice", Ip(2)).ok());
  EXPECT_TRUE(guard.Admit("bob", Ip(1)).ok());
}

TEST(LoginGuardTest, ASuccessRefundsItsCheckAndClearsTheSourcesFailures) {
  FakeClock clock;
  MetricsRegistry metrics;
  LoginGuard guard(Defaults(), clock, metrics);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(guard.Admit("alice", Ip(1)).ok());
  auto ok = guard.Admit("alice", Ip(1));
  ASSERT_TRUE(ok.ok());
  guard.Succeeded(*ok);
  // The source starts over, and the username's budget got that check back.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(guard.Admit("alice", Ip(1)).ok()) << i;
  EXPECT_TRUE(guard.Admit("alice", Ip(2)).ok());  // 10th check of the budget
}

TEST(LoginGuardTest, ManySourcesAreBoundedPerUsernameAndAFreshSourceStillGetsIn) {
  FakeClock clock;
  MetricsRegistry metrics;
  LoginGuard guard(Defaults(), clock, metrics);
  int checked = 0;
  // 14 sources guess every 100 ms for ten minutes.
  for (int tick = 0; tick < 6000; ++tick) {
    for (int ip = 1; ip <= 14; ++ip) {
      if (guard.Admit("alice", Ip(ip)).ok()) ++checked;
    }
    clock.Advance(100);
  }
  // user: 10 + 6/min * 10 min; fresh: one per source at most.
  EXPECT_LE(checked, 10 + 60 + 14);
  // The owner, from a network that has not failed, is checked at once.
  EXPECT_TRUE(guard.Admit("alice", "192.168.1.9").ok());
}

TEST(LoginGuardTest, AFreshSourceGetsInWhileTheUsernameBudgetIsSpent) {
  FakeClock clock;
  MetricsRegistry metrics;
  LoginGuard guard(Defaults(), clock, metrics);
  for (int ip = 1; ip <= 10; ++ip) ASSERT_TRUE(guard.Admit("alice", Ip(ip)).ok());
  ASSERT_FALSE(guard.Admit("alice", Ip(1)).ok());  // a failing source waits
  auto owner = guard.Admit("alice", "192.168.1.9");
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->lane, LoginGuard::Lane::kFresh);
  guard.Succeeded(*owner);  // refunded to the fresh bucket
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(guard.Admit("alice", "192.168.2." + std::to_string(i)).ok());
  }
  auto drained = guard.Admit("alice", "192.168.3.1");
  ASSERT_FALSE(drained.ok());
  EXPECT_EQ(*drained.error().retry_after_ms, 5'000);  // the next fresh check, 12 a minute
}

TEST(LoginGuardTest, RefusalsSayWhenTheNextCheckCanRun) {
  FakeClock clock;
  MetricsRegistry metrics;
  LoginGuard guard(Defaults(), clock, metrics);
  for (int ip = 1; ip <= 10; ++ip) ASSERT_TRUE(guard.Admit("alice", Ip(ip)).ok());
  // A failing source waits for the username budget: one check per 10 s.
  auto refused = guard.Admit("alice", Ip(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(*refused.error().retry_after_ms, 10'000);
  clock.Advance(10'000);
  EXPECT_TRUE(guard.Admit("alice", Ip(1)).ok());
}

}  // namespace
}  // namespace parley
