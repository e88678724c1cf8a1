#include "notify/push_crypto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include "notify/test_dir.h"

namespace parley::push {
namespace {

Bytes B64(std::string_view text) {
  std::optional<Bytes> bytes = Base64UrlDecode(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes.value_or(Bytes{});
}

std::string Text(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

// RFC 8291 Appendix A.
constexpr std::string_view kPlaintext = "When I grow up, I want to be a watermelon";
constexpr std::string_view kAsPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
constexpr std::string_view kAsPublic =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
constexpr std::string_view kUaPublic =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr std::string_view kAuthSecret = "BTBZMqHH6r4Tts7J_aSIgg";
constexpr std::string_view kSalt = "DGv6ra1nlYgDCS1FRnbzlw";
constexpr std::string_view kMessage =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAm"
    "S6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Q"
    "ulcy4a-fN";

TEST(PushCryptoTest, EncryptionMatchesTheRfc8291Example) {
  Result<VapidKey> as = VapidKey::FromPrivateKey(B64(kAsPrivate));
  ASSERT_TRUE(as.ok()) << as.error().message;
  EXPECT_EQ(as->PublicKeyBase64Url(), kAsPublic);

  Result<Bytes> body = EncryptWith(kPlaintext, B64(kUaPublic), B64(kAuthSecret), *as, B64(kSalt));

  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_EQ(Base64UrlEncode(*body), kMessage);
}

TEST(PushCryptoTest, EncryptRefusesBadKeysAndOversizedPayloads) {
  const Bytes ua = B64(kUaPublic);
  const Bytes auth = B64(kAuthSecret);
  Bytes off_curve = ua;
  off_curve[10] ^= 0x01;
  EXPECT_FALSE(Encrypt("x", off_curve, auth).ok());
  EXPECT_FALSE(Encrypt("x", Bytes(ua.begin(), ua.begin() + 33), auth).ok());
  EXPECT_FALSE(Encrypt("x", ua, Bytes(15, 0)).ok());
  EXPECT_FALSE(Encrypt(std::string(4000, 'a'), ua, auth).ok());
  Result<Bytes> ok = Encrypt(std::string(3990, 'a'), ua, auth);
  ASSERT_TRUE(ok.ok());
  EXPECT_LE(ok->size(), 4096u);
}

TEST(PushCryptoTest, EachEncryptionUsesAFreshKeyAndSalt) {
  Result<Bytes> a = Encrypt("same", B64(kUaPublic), B64(kAuthSecret));
  Result<Bytes> b = Encrypt("same", B64(kUaPublic), B64(kAuthSecret));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(Bytes(a->begin(), a->begin() + 16), Bytes(b->begin(), b->begin() + 16));
  EXPECT_NE(Bytes(a->begin() + 21, a->begin() + 86), Bytes(b->begin() + 21, b->begin() + 86));
}

// Verifies an ES256 JWS with OpenSSL directly: r || s back to DER, then EVP_DigestVerify.
bool VerifyEs256(const std::string& jwt, const Bytes& public_key) {
  const size_t dot = jwt.rfind('.');
  const std::string input = jwt.substr(0, dot);
  const Bytes raw = B64(jwt.substr(dot + 1));
  if (raw.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(raw.data(), 32, nullptr), BN_bin2bn(raw.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<uint8_t*>(public_key.data()), public_key.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(pctx);
  EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool ok =
      key != nullptr && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(md, der, static_cast<size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(pctx);
  OPENSSL_free(der);
  return ok;
}

TEST(PushCryptoTest, VapidJwtIsAnEs256TokenWithTheRfc8292Claims) {
  Result<VapidKey> key = VapidKey::Generate();
  ASSERT_TRUE(key.ok());

  Result<std::string> jwt =
      key->SignJwt("https://push.example.net", 1'700'043'200, "mailto:ops@example.com");

  ASSERT_TRUE(jwt.ok());
  const size_t first = jwt->find('.');
  const size_t second = jwt->rfind('.');
  EXPECT_EQ(boost::json::parse(Text(B64(jwt->substr(0, first)))),
            boost::json::parse(R"({"typ":"JWT","alg":"ES256"})"));
  EXPECT_EQ(
      boost::json::parse(Text(B64(jwt->substr(first + 1, second - first - 1)))),
      boost::json::parse(
          R"({"aud":"https://push.example.net","exp":1700043200,"sub":"mailto:ops@example.com"})"));
  EXPECT_TRUE(VerifyEs256(*jwt, key->public_key()));
  Result<VapidKey> other = VapidKey::Generate();
  EXPECT_FALSE(VerifyEs256(*jwt, other->public_key()));
}

TEST(PushCryptoTest, TheVapidKeyIsCreatedOnceWithMode0600) {
  testing_support::ScratchDir dir;
  const std::string path = dir.File("vapid.pem");
  Result<VapidKey> created = VapidKey::LoadOrCreate(path);
  ASSERT_TRUE(created.ok()) << created.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Result<VapidKey> loaded = VapidKey::LoadOrCreate(path);

  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->public_key(), created->public_key());
  EXPECT_EQ(created->public_key().size(), 65u);
}

TEST(PushCryptoTest, HmacMatchesRfc4231TestCase2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(PushCryptoTest, Base64UrlAcceptsPaddingAndRejectsOtherAlphabets) {
  EXPECT_EQ(Text(B64("aGk")), "hi");
  EXPECT_EQ(Text(B64("aGk=")), "hi");
  EXPECT_FALSE(Base64UrlDecode("a+b/").has_value());
  EXPECT_FALSE(Base64UrlDecode("a b").has_value());
}

TEST(PushCryptoTest, PublicKeyValidation) {
  EXPECT_TRUE(IsP256PublicKey(B64(kUaPublic)));
  EXPECT_FALSE(IsP256PublicKey(Bytes(65, 0)));
  EXPECT_FALSE(IsP256PublicKey(Bytes{4, 1, 2}));
}

TEST(PushCryptoTest, OriginAndHostOfEndpoints) {
  EXPECT_EQ(OriginOf("https://FCM.googleapis.com/fcm/send/abc"), "https://fcm.googleapis.com");
  EXPECT_EQ(OriginOf("http://127.0.0.1:8080/push/x?y"), "http://127.0.0.1:8080");
  EXPECT_EQ(HostOf("http://127.0.0.1:8080/push"), "127.0.0.1");
  EXPECT_EQ(HostOf("https://[::1]:443/p"), "::1");
  EXPECT_FALSE(OriginOf("ftp://example.com/").has_value());
  EXPECT_FALSE(OriginOf("https://user@evil.example/").has_value());
  EXPECT_FALSE(OriginOf("https:///path").has_value());
}

}  // namespace
}  // namespace parley::push
