#include "app/app.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(SplitHostPortTest, ParsesV4V6AndLocalhost) {
  auto v4 = SplitHostPort("0.0.0.0:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "0.0.0.0");
  EXPECT_EQ(v4->second, 8080);
  auto v6 = SplitHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 0);
  EXPECT_EQ(SplitHostPort("localhost:1")->first, "127.0.0.1");
}

TEST(SplitHostPortTest, RejectsWhatIsNotHostPort) {
  for (const char* bad : {"8080", ":8080", "host:", "host:99999", "host:12x", "host:-1"}) {
    EXPECT_FALSE(SplitHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace parley
