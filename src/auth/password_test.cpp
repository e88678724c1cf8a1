#include "auth/password.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

// OWASP's minimum, to keep the tests fast; production cost comes from Config.
constexpr PasswordParams kTestParams{2, 19u * 1024 * 1024};

class PasswordTest : public ::testing::Test {
 protected:
  PasswordHasher hasher_{kTestParams};
};

TEST_F(PasswordTest, HashThenVerify) {
  const Result<std::string> hash = hasher_.Hash("correct horse battery staple");
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  EXPECT_TRUE(hasher_.Verify(*hash, "correct horse battery staple"));
  EXPECT_FALSE(hasher_.Verify(*hash, "correct horse battery stapler"));
  EXPECT_FALSE(hasher_.Verify(*hash, ""));
}

TEST_F(PasswordTest, HashIsArgon2idWithTheParamsAndAFreshSalt) {
  const Result<std::string> a = hasher_.Hash("hunter2");
  const Result<std::string> b = hasher_.Hash("hunter2");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *a;
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(hasher_.Verify(*b, "hunter2"));
}

TEST_F(PasswordTest, PasswordsAreBytesNotCStrings) {
  const std::string with_nul("abc\0def", 7);
  const Result<std::string> hash = hasher_.Hash(with_nul);
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(hasher_.Verify(*hash, with_nul));
  EXPECT_FALSE(hasher_.Verify(*hash, "abc"));
}

TEST_F(PasswordTest, MalformedHashesDoNotVerify) {
  const Result<std::string> hash = hasher_.Hash("pw");
  ASSERT_TRUE(hash.ok());
  const std::string good = *hash;
  const std::string cases[] = {
      "",
      "$argon2id$",
      "plaintext-password",
      good.substr(0, good.size() / 2),     // truncated
      good + "AAAA",                       // trailing garbage
      std::string(4096, 'x'),              // longer than any encoded hash
      "$argon2id$v=19$m=19456,t=2,p=1$$",  // empty salt and hash
      "$argon2id$v=19$m=notanumber,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
      std::string("$argon2id\0$v=19", 15),  // embedded NUL
  };
  for (const std::string& bad : cases) {
    EXPECT_FALSE(hasher_.Verify(bad, "pw")) << bad;
    (void)hasher_.NeedsRehash(bad);  // must not crash; its answer only matters after Verify
  }
  // Without a readable algorithm and cost there is nothing to keep.
  EXPECT_TRUE(hasher_.NeedsRehash(""));
  EXPECT_TRUE(hasher_.NeedsRehash("plaintext-password"));
  EXPECT_TRUE(hasher_.NeedsRehash(std::string(4096, 'x')));
}

TEST_F(PasswordTest, VerifyAgainstDummyIsAlwaysFalse) {
  EXPECT_FALSE(hasher_.VerifyAgainstDummy(""));
  EXPECT_FALSE(hasher_.VerifyAgainstDummy("hunter2"));
}

TEST_F(PasswordTest, NeedsRehashWhenParamsChange) {
  const Result<std::string> hash = hasher_.Hash("pw");
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(hasher_.NeedsRehash(*hash));

  const PasswordHasher stronger({3, 19u * 1024 * 1024});
  EXPECT_TRUE(stronger.NeedsRehash(*hash));
  // Old hashes keep verifying after the cost is raised: the cost is read from the hash.
  EXPECT_TRUE(stronger.Verify(*hash, "pw"));
}

}  // namespace
}  // namespace parley
