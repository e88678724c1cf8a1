#include "support/web_push_browser.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <boost/json.hpp>
#include <stdexcept>

namespace parley::e2e {
namespace {

using Bytes = std::vector<uint8_t>;

std::shared_ptr<EVP_PKEY> PublicKey(const Bytes& point) {
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// HKDF-SHA256 (RFC 5869) through OpenSSL's KDF, extract and expand in one call.
std::optional<Bytes> Hkdf(const Bytes& salt, const Bytes& ikm, const Bytes& info, size_t length) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  Bytes out(length);
  size_t len = length;
  const bool ok =
      ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
      EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
      EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt.data(), static_cast<int>(salt.size())) == 1 &&
      EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.data(), static_cast<int>(ikm.size())) == 1 &&
      EVP_PKEY_CTX_add1_hkdf_info(ctx, info.data(), static_cast<int>(info.size())) == 1 &&
      EVP_PKEY_derive(ctx, out.data(), &len) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return std::nullopt;
  return out;
}

Bytes Cat(const std::string& text, std::initializer_list<const Bytes*> parts = {}) {
  Bytes out(text.begin(), text.end());
  for (const Bytes* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

}  // namespace

std::string B64UrlEncode(const Bytes& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::optional<Bytes> B64UrlDecode(std::string text) {
  for (char& c : text) {
    if (c == '+' || c == '/') return std::nullopt;
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  size_t pad = 0;
  while (text.size() % 4 != 0) {
    text += '=';
    ++pad;
  }
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

FakeBrowser::FakeBrowser() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) throw std::runtime_error("keygen");
  key_.reset(key, EVP_PKEY_free);
  public_key_.resize(65);
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, public_key_.data(), 65, &len);
  auth_.resize(16);
  RAND_bytes(auth_.data(), 16);
}

FakeBrowser::~FakeBrowser() = default;

std::string FakeBrowser::p256dh() const { return B64UrlEncode(public_key_); }
std::string FakeBrowser::auth() const { return B64UrlEncode(auth_); }

std::optional<std::string> FakeBrowser::Decrypt(const std::string& text) const {
  const Bytes body(text.begin(), text.end());
  // RFC 8188 header: salt(16) rs(4) idlen(1) keyid(idlen).
  if (body.size() < 21) return std::nullopt;
  const Bytes salt(body.begin(), body.begin() + 16);
  const size_t idlen = body[20];
  if (idlen != 65 || body.size() < 21 + idlen + 16) return std::nullopt;
  const Bytes as_public(body.begin() + 21, body.begin() + 21 + 65);
  const Bytes ciphertext(body.begin() + 21 + 65, body.end());

  std::shared_ptr<EVP_PKEY> peer = PublicKey(as_public);
  if (!peer) return std::nullopt;
  EVP_PKEY_CTX* dctx = EVP_PKEY_CTX_new(key_.get(), nullptr);
  Bytes ecdh(32);
  size_t ecdh_len = ecdh.size();
  const bool derived = dctx != nullptr && EVP_PKEY_derive_init(dctx) == 1 &&
                       EVP_PKEY_derive_set_peer(dctx, peer.get()) == 1 &&
                       EVP_PKEY_derive(dctx, ecdh.data(), &ecdh_len) == 1;
  EVP_PKEY_CTX_free(dctx);
  if (!derived) return std::nullopt;

  // RFC 8291 section 3.3/3.4, then RFC 8188 section 2.2/2.3.
  const Bytes key_info = Cat(std::string("WebPush: info") + '\0', {&public_key_, &as_public});
  auto ikm = Hkdf(auth_, ecdh, key_info, 32);
  if (!ikm) return std::nullopt;
  auto cek = Hkdf(salt, *ikm, Cat(std::string("Content-Encoding: aes128gcm") + '\0'), 16);
  auto nonce = Hkdf(salt, *ikm, Cat(std::string("Content-Encoding: nonce") + '\0'), 12);
  if (!cek || !nonce) return std::nullopt;

  const size_t data_len = ciphertext.size() - 16;
  Bytes plain(data_len);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int len = 0;
  int final_len = 0;
  const bool ok =
      c != nullptr &&
      EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), nullptr, cek->data(), nonce->data()) == 1 &&
      EVP_DecryptUpdate(c, plain.data(), &len, ciphertext.data(), static_cast<int>(data_len)) ==
          1 &&
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16,
                          const_cast<uint8_t*>(ciphertext.data() + data_len)) == 1 &&
      EVP_DecryptFinal_ex(c, plain.data() + len, &final_len) == 1;
  EVP_CIPHER_CTX_free(c);
  if (!ok) return std::nullopt;
  // Strip padding: trailing zeros, then the delimiter, which must be 0x02 for the last record.
  while (!plain.empty() && plain.back() == 0) plain.pop_back();
  if (plain.empty() || plain.back() != 0x02) return std::nullopt;
  plain.pop_back();
  return std::string(plain.begin(), plain.end());
}

std::string CheckVapid(const std::string& authorization, const std::string& audience, int64_t now_s,
                       std::string* key_out) {
  // vapid t=<jwt>, k=<key>
  if (authorization.rfind("vapid ", 0) != 0) return "scheme is not vapid";
  const size_t t = authorization.find("t=");
  const size_t k = authorization.find("k=");
  if (t == std::string::npos || k == std::string::npos) return "missing t= or k=";
  auto param = [&](size_t at) {
    const size_t end = authorization.find(',', at);
    std::string v = authorization.substr(at + 2, end == std::string::npos ? end : end - at - 2);
    while (!v.empty() && v.back() == ' ') v.pop_back();
    return v;
  };
  const std::string jwt = param(t);
  const std::string key_text = param(k);
  if (key_out != nullptr) *key_out = key_text;
  const size_t dot1 = jwt.find('.');
  const size_t dot2 = jwt.rfind('.');
  if (dot1 == std::string::npos || dot1 == dot2) return "JWT is not three parts";
  auto header = B64UrlDecode(jwt.substr(0, dot1));
  auto claims = B64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = B64UrlDecode(jwt.substr(dot2 + 1));
  auto key = B64UrlDecode(key_text);
  if (!header || !claims || !sig || !key) return "bad base64url";
  boost::system::error_code ec;
  const boost::json::value h = boost::json::parse(std::string(header->begin(), header->end()), ec);
  if (ec || !h.is_object() || h.as_object().if_contains("alg") == nullptr ||
      h.at("alg") != "ES256") {
    return "alg is not ES256";
  }
  const boost::json::value c = boost::json::parse(std::string(claims->begin(), claims->end()), ec);
  if (ec || !c.is_object()) return "claims are not a JSON object";
  const auto& o = c.as_object();
  if (o.if_contains("aud") == nullptr || o.at("aud") != boost::json::value(audience)) {
    return "aud is not " + audience;
  }
  if (o.if_contains("exp") == nullptr || !o.at("exp").is_int64()) return "no exp";
  const int64_t exp = o.at("exp").as_int64();
  if (exp <= now_s || exp > now_s + 24 * 3600) return "exp out of range";
  if (o.if_contains("sub") == nullptr || !o.at("sub").is_string()) return "no sub";
  const std::string sub(o.at("sub").as_string());
  if (sub.rfind("mailto:", 0) != 0 && sub.rfind("https:", 0) != 0) return "sub is not a URL";

  if (sig->size() != 64) return "signature is not 64 bytes";
  std::shared_ptr<EVP_PKEY> pub = PublicKey(*key);
  if (!pub) return "k is not a P-256 key";
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(sig->data(), 32, nullptr), BN_bin2bn(sig->data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  const std::string input = jwt.substr(0, dot2);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, pub.get()) == 1 &&
      EVP_DigestVerify(md, der, static_cast<size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  return ok ? "" : "signature does not verify";
}

}  // namespace parley::e2e
