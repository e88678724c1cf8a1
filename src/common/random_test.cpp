#include "common/random.h"

#include <gtest/gtest.h>

#include <set>

namespace parley {
namespace {

TEST(RandomTest, IdsHaveKindPrefixAndDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewId('u');
    ASSERT_EQ(id.rfind("u_", 0), 0u);
    ASSERT_EQ(id.size(), 2u + 32u);
    ASSERT_TRUE(seen.insert(id).second);
  }
}

TEST(RandomTest, TokensAreUrlSafe) {
  const std::string t = RandomToken(32);
  EXPECT_EQ(t.size(), 43u);  // 32 bytes -> 43 base64 chars without padding
  EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

}  // namespace
}  // namespace parley
