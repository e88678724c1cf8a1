#include "net/origin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace parley::net {
namespace {

using ::testing::ElementsAre;

TEST(OriginTest, ParseNormalisesCaseAndDefaultPorts) {
  EXPECT_EQ(ParseOrigin("HTTP://LocalHost"), (Origin{"http", "localhost", 80}));
  EXPECT_EQ(ParseOrigin("https://chat.example.com"), (Origin{"https", "chat.example.com", 443}));
  EXPECT_EQ(ParseOrigin("https://chat.example.com:443/"),
            (Origin{"https", "chat.example.com", 443}));
  EXPECT_EQ(ParseOrigin("http://[::1]:8080"), (Origin{"http", "[::1]", 8080}));
  EXPECT_EQ(ParseOrigin("http://127.0.0.1:8080")->ToString(), "http://127.0.0.1:8080");
}

TEST(OriginTest, ParseRefusesWhatIsNotASerialisedOrigin) {
  for (const char* text :
       {"", "null", "localhost:8080", "ftp://example.com", "http://", "http://a.com/path",
        "http://user@a.com", "http://a.com:", "http://a.com:99999", "http://a.com:0",
        "http://a.com:8o", "http://a b.com", "http://[::1", "http://[zz]:80",
        "http://a.com:80?x"}) {
    EXPECT_EQ(ParseOrigin(text), std::nullopt) << text;
  }
}

TEST(OriginTest, DefaultsFollowTheListenAddressAndBoundPort) {
  EXPECT_THAT(DefaultPublicOrigins("127.0.0.1", 8080),
              ElementsAre("http://127.0.0.1:8080", "http://localhost:8080"));
  EXPECT_THAT(DefaultPublicOrigins("::1", 9000),
              ElementsAre("http://[::1]:9000", "http://localhost:9000"));
  EXPECT_THAT(DefaultPublicOrigins("0.0.0.0", 80),
              ElementsAre("http://127.0.0.1:80", "http://localhost:80", "http://[::1]:80"));
  EXPECT_THAT(DefaultPublicOrigins("10.1.2.3", 8080), ElementsAre("http://10.1.2.3:8080"));
  EXPECT_THAT(DefaultPublicOrigins("fd00::5", 8080), ElementsAre("http://[fd00::5]:8080"));
}

TEST(OriginTest, PolicyComparesSchemeHostAndPortExactly) {
  const OriginPolicy policy({"https://chat.example.com"}, {"http://localhost:3000"});
  EXPECT_TRUE(policy.Allows(""));  // no Origin: not a browser
  EXPECT_TRUE(policy.Allows("https://chat.example.com"));
  EXPECT_TRUE(policy.Allows("https://CHAT.example.com:443"));
  EXPECT_TRUE(policy.Allows("http://localhost:3000"));
  EXPECT_FALSE(policy.Allows("http://chat.example.com"));        // scheme
  EXPECT_FALSE(policy.Allows("https://chat.example.com:8443"));  // port
  EXPECT_FALSE(policy.Allows("https://evil.example.com"));       // host
  EXPECT_FALSE(policy.Allows("https://chat.example.com.evil.net"));
  EXPECT_FALSE(policy.Allows("http://localhost:3001"));
  EXPECT_FALSE(policy.Allows("null"));
  EXPECT_FALSE(policy.Allows("garbage"));
}

TEST(OriginTest, StarAndNullAreExplicitOptIns) {
  EXPECT_TRUE(OriginPolicy({"http://a.com"}, {"*"}).Allows("https://anything.net"));
  EXPECT_TRUE(OriginPolicy({"http://a.com"}, {"null"}).Allows("null"));
  EXPECT_FALSE(OriginPolicy({"http://a.com"}, {"null"}).Allows("http://b.com"));
}

}  // namespace
}  // namespace parley::net
