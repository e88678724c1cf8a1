#include "auth/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace parley {
namespace {

TEST(RateLimiterTest, BurstThenRefusedWithTimeToNextToken) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 60, .burst = 3}, clock);
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_EQ(limiter.Take("ip"), 1000);  // one token a second
  clock.Advance(400);
  EXPECT_EQ(limiter.Take("ip"), 600);  // refusals take nothing
}

TEST(RateLimiterTest, RefillsWithTimeUpToBurst) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 60, .burst = 2}, clock);
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_GT(limiter.Take("ip"), 0);
  clock.Advance(1000);
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_GT(limiter.Take("ip"), 0);
  clock.Advance(60'000);  // far longer than needed: the bucket holds `burst` at most
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_EQ(limiter.Take("ip"), 0);
  EXPECT_GT(limiter.Take("ip"), 0);
}

TEST(RateLimiterTest, WaitingTheAdvertisedTimeIsAlwaysEnough) {
  FakeClock clock;
  // A rate whose refill per millisecond is not exact in binary floating point.
  RateLimiter limiter({.per_minute = 7, .burst = 1}, clock);
  ASSERT_EQ(limiter.Take("u"), 0);
  for (int i = 0; i < 100; ++i) {
    const int64_t wait_ms = limiter.Take("u");
    ASSERT_GE(wait_ms, 1);
    ASSERT_LE(wait_ms, 8572);  // 60000 / 7, rounded up
    clock.Advance(wait_ms - 1);
    ASSERT_GT(limiter.Take("u"), 0) << "allowed before the advertised time, round " << i;
    clock.Advance(1);
    ASSERT_EQ(limiter.Take("u"), 0) << "refused at the advertised time, round " << i;
  }
}

TEST(RateLimiterTest, KeysAreIndependent) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 1, .burst = 1}, clock);
  EXPECT_EQ(limiter.Take("alice"), 0);
  EXPECT_EQ(limiter.Take("alice"), 60'000);
  EXPECT_EQ(limiter.Take("bob"), 0);
  EXPECT_EQ(limiter.Take(""), 0);
  EXPECT_EQ(limiter.KeyCount(), 3u);
}

TEST(RateLimiterTest, ClockSteppingBackDoesNotLockOut) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 60, .burst = 1}, clock);
  EXPECT_EQ(limiter.Take("ip"), 0);
  clock.Advance(-3'600'000);
  EXPECT_EQ(limiter.Take("ip"), 1000);
  clock.Advance(1000);
  EXPECT_EQ(limiter.Take("ip"), 0);
}

TEST(RateLimiterTest, KeyCountStaysWithinBoundUnderAFloodOfKeys) {
  FakeClock clock;
  constexpr size_t kMaxKeys = 2048;  // large enough to be sharded
  RateLimiter limiter({.per_minute = 1, .burst = 5}, clock, kMaxKeys);
  for (int i = 0; i < 50'000; ++i) {
    ASSERT_EQ(limiter.Take("key-" + std::to_string(i)), 0);
    if (i % 997 == 0) {
      ASSERT_LE(limiter.KeyCount(), kMaxKeys);
    }
  }
  EXPECT_LE(limiter.KeyCount(), kMaxKeys);
  EXPECT_GT(limiter.KeyCount(), kMaxKeys / 2);
}

// Small tables have one shard, so which bucket goes first is exact.
TEST(RateLimiterTest, FullTableDropsRefilledBucketsBeforeThrottledOnes) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 60, .burst = 2}, clock, /*max_keys=*/100);
  ASSERT_EQ(limiter.Take("victim"), 0);
  ASSERT_EQ(limiter.Take("victim"), 0);  // empty; full again only after 2 s
  clock.Advance(1);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(limiter.Take("old-" + std::to_string(i)), 0);
  clock.Advance(1000);  // the old keys are full again; the victim has one token
  for (int i = 0; i < 60; ++i) ASSERT_EQ(limiter.Take("new-" + std::to_string(i)), 0);
  EXPECT_LE(limiter.KeyCount(), 100u);

  // The victim is the least recently used key, yet its state survived: one token, not two.
  EXPECT_EQ(limiter.Take("victim"), 0);
  EXPECT_GT(limiter.Take("victim"), 0);
}

TEST(RateLimiterTest, FullTableThenDropsLeastRecentlyUsed) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 1, .burst = 1}, clock, /*max_keys=*/100);
  ASSERT_EQ(limiter.Take("active"), 0);
  ASSERT_EQ(limiter.Take("idle"), 0);
  for (int i = 0; i < 1000; ++i) {
    clock.Advance(1);
    ASSERT_EQ(limiter.Take("flood-" + std::to_string(i)), 0);
    if (i % 10 == 0) {
      ASSERT_GT(limiter.Take("active"), 0);  // a use, though refused
    }
    ASSERT_LE(limiter.KeyCount(), 100u);
  }
  // The recently used key kept its empty bucket; the idle one was forgotten and starts full.
  EXPECT_GT(limiter.Take("active"), 0);
  EXPECT_EQ(limiter.Take("idle"), 0);
}

TEST(RateLimiterTest, ConcurrentTakesNeverExceedBurst) {
  FakeClock clock;
  constexpr int kBurst = 50;
  RateLimiter limiter({.per_minute = 1, .burst = kBurst}, clock);
  std::atomic<int> allowed{0};
  std::atomic<int> other_allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.Take("shared") == 0) ++allowed;
        // Other keys in the meantime, to exercise the other shards' locks too.
        if (limiter.Take("own-" + std::to_string(t)) == 0) ++other_allowed;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), kBurst);
  EXPECT_EQ(other_allowed.load(), 8 * kBurst);
}

TEST(RateLimiterTest, RejectsNonsenseParams) {
  FakeClock clock;
  EXPECT_THROW(RateLimiter({.per_minute = 0, .burst = 1}, clock), std::invalid_argument);
  EXPECT_THROW(RateLimiter({.per_minute = 1, .burst = 0.5}, clock), std::invalid_argument);
  EXPECT_THROW(RateLimiter({.per_minute = 1, .burst = 1}, clock, 0), std::invalid_argument);
}

TEST(RateLimiterTest, TakeAboveLeavesTheReserveToPlainTake) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 60, .burst = 3}, clock);
  EXPECT_EQ(limiter.TakeAbove("u", 2), 0);     // 3 -> 2
  EXPECT_EQ(limiter.TakeAbove("u", 2), 1000);  // 2 left: both are the reserve
  EXPECT_EQ(limiter.Take("u"), 0);
  EXPECT_EQ(limiter.Take("u"), 0);
  EXPECT_EQ(limiter.Take("u"), 1000);
  EXPECT_EQ(limiter.TakeAbove("u", 2), 3000);  // three tokens needed again
}

TEST(RateLimiterTest, RefundGivesBackOneTokenUpToBurst) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 1, .burst = 2}, clock);
  EXPECT_EQ(limiter.Take("u"), 0);
  EXPECT_EQ(limiter.Take("u"), 0);
  EXPECT_GT(limiter.Take("u"), 0);
  limiter.Refund("u");
  EXPECT_EQ(limiter.Take("u"), 0);
  limiter.Refund("u");
  limiter.Refund("u");
  limiter.Refund("u");  // capped at burst
  EXPECT_EQ(limiter.Take("u"), 0);
  EXPECT_EQ(limiter.Take("u"), 0);
  EXPECT_GT(limiter.Take("u"), 0);
  limiter.Refund("never-seen");  // no bucket is made for it
  EXPECT_EQ(limiter.KeyCount(), 1u);
}

TEST(RateLimiterTest, IsFullUntilATakeAndAgainOnceRefilled) {
  FakeClock clock;
  RateLimiter limiter({.per_minute = 60, .burst = 2}, clock);
  EXPECT_TRUE(limiter.IsFull("u"));
  EXPECT_EQ(limiter.Take("u"), 0);
  EXPECT_FALSE(limiter.IsFull("u"));
  clock.Advance(999);
  EXPECT_FALSE(limiter.IsFull("u"));
  clock.Advance(1);
  EXPECT_TRUE(limiter.IsFull("u"));
  EXPECT_EQ(limiter.Take("u"), 0);
  limiter.Forget("u");
  EXPECT_TRUE(limiter.IsFull("u"));
  EXPECT_EQ(limiter.KeyCount(), 0u);
}

}  // namespace
}  // namespace parley
