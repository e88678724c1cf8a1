#include "net/log_throttle.h"

#include <gtest/gtest.h>

namespace parley::net {
namespace {

using std::chrono::milliseconds;

TEST(LogThrottleTest, OneLinePerIntervalWithTheCountHeldBack) {
  LogThrottle throttle(milliseconds(1000));
  const LogThrottle::Clock::time_point t0{};
  EXPECT_EQ(throttle.Allow(t0), 0u);
  for (int i = 1; i <= 500; ++i) EXPECT_EQ(throttle.Allow(t0 + milliseconds(i)), std::nullopt);
  EXPECT_EQ(throttle.Allow(t0 + milliseconds(1000)), 500u);
  EXPECT_EQ(throttle.Allow(t0 + milliseconds(1001)), std::nullopt);
  EXPECT_EQ(throttle.Allow(t0 + milliseconds(5000)), 1u);
}

}  // namespace
}  // namespace parley::net
