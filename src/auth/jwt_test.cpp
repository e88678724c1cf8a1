#include "auth/jwt.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/random.h"

namespace parley {
namespace {

constexpr JwtKey kKey = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                         17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

std::string B64(std::string_view bytes) {
  InitCrypto();
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.pop_back();
  return out;
}

// Builds a token by hand with a correct HS256 signature over whatever header and payload, so
// that the checks after the signature can be tested on their own.
std::string SignedToken(std::string_view header_json, std::string_view payload_json,
                        const JwtKey& key = kKey) {
  std::string input = B64(header_json) + "." + B64(payload_json);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                         key.data());
  return input + "." + B64(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

constexpr std::string_view kHs256 = R"({"alg":"HS256","typ":"JWT"})";

class JwtTest : public ::testing::Test {
 protected:
  // FakeClock starts on a whole second: 1'700'000'000 s.
  FakeClock clock_;
  JwtSigner signer_{kKey, clock_};

  void ExpectUnauthorized(std::string_view token) {
    const Result<AccessClaims> claims = signer_.Verify(token);
    ASSERT_FALSE(claims.ok()) << token;
    EXPECT_EQ(claims.error().code, ErrorCode::kUnauthorized) << token;
  }
};

TEST_F(JwtTest, IssuedTokenVerifiesWithItsClaims) {
  const std::string token = signer_.Issue("u_alice", "d_phone", 900);
  const Result<AccessClaims> claims = signer_.Verify(token);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->user_id, "u_alice");
  EXPECT_EQ(claims->device_id, "d_phone");
  EXPECT_EQ(claims->issued_at_s, 1'700'000'000);
  EXPECT_EQ(claims->expires_at_s, 1'700'000'900);
}

TEST_F(JwtTest, TokenIsAStandardCompactJwt) {
  const std::string token = signer_.Issue("u_alice", "d_phone", 60);
  EXPECT_EQ(token.rfind(B64(kHs256) + ".", 0), 0u) << token;
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
      std::string::npos);
  // The same claims signed by hand give the same token: nothing non-standard is in there.
  EXPECT_EQ(token, SignedToken(kHs256, R"({"sub":"u_alice","did":"d_phone","iat":1700000000,)"
                                       R"("exp":1700000060})"));
}

TEST_F(JwtTest, ExpiresAfterTtl) {
  const std::string token = signer_.Issue("u_alice", "d_phone", 60);
  clock_.Advance(59'999);
  EXPECT_TRUE(signer_.Verify(token).ok());
  clock_.Advance(1);
  const Result<AccessClaims> claims = signer_.Verify(token);
  ASSERT_FALSE(claims.ok());
  EXPECT_EQ(claims.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(claims.error().message, "access token expired");
}

TEST_F(JwtTest, TamperedPayloadIsRejected) {
  const std::string token = signer_.Issue("u_alice", "d_phone", 900);
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  for (size_t i = dot1 + 1; i < dot2; ++i) {
    std::string tampered = token;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    ExpectUnauthorized(tampered);
  }
  // A valid payload for someone else, spliced onto Alice's header and signature.
  const std::string mallory = signer_.Issue("u_mallory", "d_phone", 900);
  const size_t m1 = mallory.find('.');
  const size_t m2 = mallory.find('.', m1 + 1);
  ExpectUnauthorized(token.substr(0, dot1) + mallory.substr(m1, m2 - m1) + token.substr(dot2));
}

TEST_F(JwtTest, TamperedSignatureIsRejected) {
  const std::string token = signer_.Issue("u_alice", "d_phone", 900);
  for (size_t i = token.rfind('.') + 1; i < token.size(); ++i) {
    std::string tampered = token;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    ExpectUnauthorized(tampered);
  }
  // 32 bytes take 43 base64 characters; the last one's two low bits are padding. Setting them
  // leaves the decoded MAC unchanged, so a lax decoder would accept a second spelling.
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string respelled = token;
  respelled.back() = kAlphabet[kAlphabet.find(token.back()) ^ 1];
  ExpectUnauthorized(respelled);
  ExpectUnauthorized(token.substr(0, token.rfind('.') + 1));  // no signature
  ExpectUnauthorized(token + "A");                            // too long
  ExpectUnauthorized(token + "=");                            // padding
}

TEST_F(JwtTest, TokenFromAnotherKeyIsRejected) {
  JwtKey other = kKey;
  other[0] ^= 1;
  const JwtSigner other_signer(other, clock_);
  ExpectUnauthorized(other_signer.Issue("u_alice", "d_phone", 900));
}

TEST_F(JwtTest, AlgNoneIsRejected) {
  const std::string payload = R"({"sub":"u_alice","did":"d_phone","exp":1800000000})";
  const std::string none = B64(R"({"alg":"none","typ":"JWT"})") + "." + B64(payload);
  ExpectUnauthorized(none + ".");
  ExpectUnauthorized(none);
  // Even with a correct MAC, only a header that says HS256 is accepted.
  ExpectUnauthorized(SignedToken(R"({"alg":"none","typ":"JWT"})", payload));
  ExpectUnauthorized(SignedToken(R"({"alg":"HS512","typ":"JWT"})", payload));
  ExpectUnauthorized(SignedToken(R"({"typ":"JWT"})", payload));
  ExpectUnauthorized(SignedToken(R"({"alg":["HS256"]})", payload));
  ExpectUnauthorized(SignedToken("not json", payload));
  EXPECT_TRUE(signer_.Verify(SignedToken(kHs256, payload)).ok());
}

TEST_F(JwtTest, MissingOrIllTypedClaimsAreRejected) {
  const std::string_view cases[] = {
      R"({"did":"d","exp":1800000000})",
      R"({"sub":"u","exp":1800000000})",
      R"({"sub":"u","did":"d"})",
      R"({"sub":"","did":"d","exp":1800000000})",
      R"({"sub":"u","did":"","exp":1800000000})",
      R"({"sub":7,"did":"d","exp":1800000000})",
      R"({"sub":"u","did":null,"exp":1800000000})",
      R"({"sub":"u","did":"d","exp":"1800000000"})",
      R"({"sub":"u","did":"d","exp":1.8e9})",
      R"({"sub":"u","did":"d","exp":18446744073709551615})",
      R"({"sub":"u","did":"d","exp":1800000000,"iat":"now"})",
      R"({"sub":"u","did":"d","exp":-1})",
      R"(["sub","u"])",
      R"("just a string")",
      R"({"sub":"u","did":"d","exp":1800000000)",
      "",
  };
  for (std::string_view payload : cases) ExpectUnauthorized(SignedToken(kHs256, payload));
}

TEST_F(JwtTest, GarbageIsRejected) {
  const std::string_view cases[] = {
      "",
      ".",
      "..",
      "...",
      "a",
      "a.b",
      "a.b.c",
      "a.b.c.d",
      "Bearer x.y.z",
      "!!!.@@@.###",
      "eyJ.eyJ.eyJ",
      "a b.c d.e f",
      "\xff\xfe.\x00.\x01",
  };
  for (std::string_view token : cases) ExpectUnauthorized(token);
  ExpectUnauthorized(std::string(100'000, 'a'));
  std::string big = signer_.Issue("u_alice", "d_phone", 900);
  ExpectUnauthorized(big + std::string(5000, 'A'));
}

TEST_F(JwtTest, UnauthenticatedGarbageNeverReachesTheJsonParser) {
  // A header that is not JSON and an invalid signature: the answer must be about the
  // signature, which shows the signature was checked first.
  const std::string token = B64("{{{{") + "." + B64("[[[[") + "." + B64(std::string(32, 'x'));
  const Result<AccessClaims> claims = signer_.Verify(token);
  ASSERT_FALSE(claims.ok());
  EXPECT_EQ(claims.error().message, "invalid access token signature");
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "parley-jwt-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string PathOf(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, CreatesA32ByteOwnerOnlyFileThenReadsItBack) {
  const std::string path = PathOf("jwt.key");
  const Result<JwtKey> created = LoadOrCreateKey(path);
  ASSERT_TRUE(created.ok()) << created.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  EXPECT_NE(*created, JwtKey{});

  const Result<JwtKey> loaded = LoadOrCreateKey(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, *created);
}

TEST_F(KeyFileTest, ModeIs0600WhateverTheUmask) {
  const mode_t old = ::umask(0);
  const Result<JwtKey> created = LoadOrCreateKey(PathOf("jwt.key"));
  ::umask(old);
  ASSERT_TRUE(created.ok());
  struct stat st {};
  ASSERT_EQ(::stat(PathOf("jwt.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(KeyFileTest, WrongSizeIsAnError) {
  for (size_t size : {0, 16, 31, 33, 64}) {
    const std::string path = PathOf("key-" + std::to_string(size));
    std::ofstream(path, std::ios::binary) << std::string(size, 'k');
    const Result<JwtKey> key = LoadOrCreateKey(path);
    ASSERT_FALSE(key.ok()) << size;
    EXPECT_EQ(key.error().code, ErrorCode::kInternal);
    EXPECT_NE(key.error().message.find(path), std::string::npos) << key.error().message;
    EXPECT_NE(key.error().message.find("expected 32"), std::string::npos) << key.error().message;
  }
}

TEST_F(KeyFileTest, UnusablePathsAreErrors) {
  const Result<JwtKey> in_missing_dir = LoadOrCreateKey(PathOf("no/such/dir/jwt.key"));
  ASSERT_FALSE(in_missing_dir.ok());
  EXPECT_EQ(in_missing_dir.error().code, ErrorCode::kInternal);

  const Result<JwtKey> a_directory = LoadOrCreateKey(dir_.string());
  ASSERT_FALSE(a_directory.ok());
  EXPECT_EQ(a_directory.error().code, ErrorCode::kInternal);
}

TEST_F(KeyFileTest, UnreadableFileIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  const std::string path = PathOf("jwt.key");
  ASSERT_TRUE(LoadOrCreateKey(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  const Result<JwtKey> key = LoadOrCreateKey(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, ErrorCode::kInternal);
}

}  // namespace
}  // namespace parley
