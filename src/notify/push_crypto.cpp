#include "notify/push_crypto.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace parley::push {
namespace {

constexpr size_t kPointBytes = 65;  // 0x04 || X || Y
constexpr size_t kScalarBytes = 32;
constexpr size_t kAuthSecretBytes = 16;
constexpr size_t kSaltBytes = 16;
constexpr uint32_t kRecordSize = 4096;  // RFC 8188 rs; one record holds the whole message
constexpr size_t kTagBytes = 16;
constexpr size_t kHeaderBytes = kSaltBytes + 4 + 1 + kPointBytes;

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using GroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP, EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

Error OpensslError(std::string_view what) {
  return Error::Internal("openssl: " + std::string(what));
}

std::shared_ptr<EVP_PKEY> Share(PkeyPtr key) {
  return std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
}

Result<Bytes> PublicPoint(EVP_PKEY* key) {
  Bytes out(kPointBytes);
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out.data(), out.size(), &len) !=
          1 ||
      len != kPointBytes || out[0] != 0x04) {
    return OpensslError("key is not an uncompressed P-256 point");
  }
  return out;
}

Result<PkeyPtr> FromParams(OSSL_PARAM* params, int selection) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params) != 1) {
    return Error::InvalidRequest("not a valid P-256 key");
  }
  return PkeyPtr(raw);
}

Result<PkeyPtr> PublicKeyFromPoint(std::span<const uint8_t> point) {
  if (point.size() != kPointBytes || point[0] != 0x04) {
    return Error::InvalidRequest("a P-256 public key must be 65 bytes, uncompressed");
  }
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  Result<PkeyPtr> key = FromParams(params, EVP_PKEY_PUBLIC_KEY);
  if (!key.ok()) return key;
  // Decoding already refuses points off the curve; this also rejects the point at infinity.
  PkeyCtxPtr check(EVP_PKEY_CTX_new(key->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return Error::InvalidRequest("not a point on P-256");
  }
  return key;
}

Bytes Hmac(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &len);
  out.resize(len);
  return out;
}

Bytes Concat(std::initializer_list<std::span<const uint8_t>> parts) {
  Bytes out;
  for (auto part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

std::span<const uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::Internal("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::string Base64UrlEncode(std::span<const uint8_t> bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), kVariant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<Bytes> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  Bytes out(text.size() * 3 / 4 + 1);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  const Bytes mac = Hmac(AsBytes(key), AsBytes(data));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(mac.size() * 2);
  for (uint8_t b : mac) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

bool IsP256PublicKey(std::span<const uint8_t> point) { return PublicKeyFromPoint(point).ok(); }

// ---------------------------------------------------------------------------- VapidKey

Result<VapidKey> VapidKey::FromPrivateKey(std::span<const uint8_t> d) {
  if (d.size() != kScalarBytes) return Error::InvalidRequest("a P-256 private key is 32 bytes");
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BnPtr scalar(BN_bin2bn(d.data(), static_cast<int>(d.size()), nullptr));
  if (!group || !scalar) return OpensslError("out of memory");
  PointPtr point(EC_POINT_new(group.get()));
  Bytes pub(kPointBytes);
  if (!point ||
      EC_POINT_mul(group.get(), point.get(), scalar.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, pub.data(),
                         pub.size(), nullptr) != kPointBytes) {
    return Error::InvalidRequest("not a valid P-256 private key");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                       pub.size()) != 1) {
    return OpensslError("cannot build key parameters");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return OpensslError("cannot build key parameters");
  Result<PkeyPtr> key = FromParams(params.get(), EVP_PKEY_KEYPAIR);
  if (!key.ok()) return std::move(key).error();
  return VapidKey(Share(std::move(*key)), std::move(pub));
}

Result<VapidKey> VapidKey::Generate() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpensslError("P-256 key generation failed");
  Result<Bytes> pub = PublicPoint(key.get());
  if (!pub.ok()) return std::move(pub).error();
  return VapidKey(Share(std::move(key)), std::move(*pub));
}

Result<VapidKey> VapidKey::LoadOrCreate(const std::string& path) {
  // O_EXCL: of two processes starting at once, one creates the key and the other loads it.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno != EEXIST)
      return Error::Internal("cannot create " + path + ": " + std::strerror(errno));
    Result<std::string> pem = ReadFile(path);
    if (!pem.ok()) return std::move(pem).error();
    BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
    PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key || EVP_PKEY_is_a(key.get(), "EC") != 1) {
      return Error::Internal(path + " does not hold a PEM P-256 private key");
    }
    Result<Bytes> pub = PublicPoint(key.get());
    if (!pub.ok()) return Error::Internal(path + ": " + pub.error().message);
    return VapidKey(Share(std::move(key)), std::move(*pub));
  }
  Result<VapidKey> created = Generate();
  BioPtr bio(BIO_new(BIO_s_mem()));
  bool ok = created.ok() && bio &&
            PEM_write_bio_PrivateKey(bio.get(), created->key_.get(), nullptr, nullptr, 0, nullptr,
                                     nullptr) == 1;
  if (ok) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    ok = len > 0 && ::write(fd, data, static_cast<size_t>(len)) == len && ::fsync(fd) == 0;
  }
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Error::Internal("cannot create the VAPID key in " + path);
  }
  return created;
}

Result<std::string> VapidKey::SignJwt(std::string_view audience, int64_t exp_s,
                                      std::string_view subject) const {
  const std::string header = R"({"typ":"JWT","alg":"ES256"})";
  const std::string claims = boost::json::serialize(
      boost::json::object{{"aud", audience}, {"exp", exp_s}, {"sub", subject}});
  const std::string input =
      Base64UrlEncode(AsBytes(header)) + "." + Base64UrlEncode(AsBytes(claims));

  MdCtxPtr md(EVP_MD_CTX_new());
  size_t der_len = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &der_len, AsBytes(input).data(), input.size()) != 1) {
    return OpensslError("cannot sign the VAPID JWT");
  }
  Bytes der(der_len);
  if (EVP_DigestSign(md.get(), der.data(), &der_len, AsBytes(input).data(), input.size()) != 1) {
    return OpensslError("cannot sign the VAPID JWT");
  }
  // JWS wants r || s, 32 bytes each; OpenSSL produces DER.
  const uint8_t* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return OpensslError("cannot decode the ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes raw(2 * kScalarBytes);
  if (BN_bn2binpad(r, raw.data(), kScalarBytes) != static_cast<int>(kScalarBytes) ||
      BN_bn2binpad(s, raw.data() + kScalarBytes, kScalarBytes) != static_cast<int>(kScalarBytes)) {
    return OpensslError("signature does not fit ES256");
  }
  return input + "." + Base64UrlEncode(raw);
}

Result<Bytes> VapidKey::SharedSecret(std::span<const uint8_t> peer_public) const {
  Result<PkeyPtr> peer = PublicKeyFromPoint(peer_public);
  if (!peer.ok()) return std::move(peer).error();
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer->get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
    return OpensslError("ECDH failed");
  }
  Bytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1) return OpensslError("ECDH failed");
  out.resize(len);
  return out;
}

// ---------------------------------------------------------------------------- RFC 8291

Result<Bytes> EncryptWith(std::string_view plaintext, std::span<const uint8_t> ua_public,
                          std::span<const uint8_t> auth_secret, const VapidKey& ephemeral,
                          std::span<const uint8_t> salt) {
  if (auth_secret.size() != kAuthSecretBytes) {
    return Error::InvalidRequest("the auth secret must be 16 bytes");
  }
  if (salt.size() != kSaltBytes) return Error::InvalidRequest("the salt must be 16 bytes");
  if (plaintext.size() + 1 + kTagBytes > kRecordSize ||
      kHeaderBytes + plaintext.size() + 1 + kTagBytes > kRecordSize) {
    return Error::InvalidRequest("push payload too large for one record");
  }
  Result<Bytes> ecdh_secret = ephemeral.SharedSecret(ua_public);
  if (!ecdh_secret.ok()) return std::move(ecdh_secret).error();
  const Bytes& as_public = ephemeral.public_key();

  // RFC 8291 section 3.4.
  static constexpr std::string_view kKeyInfo("WebPush: info\0", 14);
  static constexpr std::string_view kCekInfo("Content-Encoding: aes128gcm\0\1", 29);
  static constexpr std::string_view kNonceInfo("Content-Encoding: nonce\0\1", 25);
  static constexpr uint8_t kOne[] = {1};
  const Bytes prk_key = Hmac(auth_secret, *ecdh_secret);
  const Bytes ikm = Hmac(prk_key, Concat({AsBytes(kKeyInfo), ua_public, as_public, kOne}));
  const Bytes prk = Hmac(salt, ikm);
  const Bytes cek = Hmac(prk, AsBytes(kCekInfo));
  const Bytes nonce = Hmac(prk, AsBytes(kNonceInfo));

  // One record, so it is the last: its padding delimiter is 0x02 (RFC 8188 section 2).
  Bytes record(AsBytes(plaintext).begin(), AsBytes(plaintext).end());
  record.push_back(0x02);

  Bytes out;
  out.reserve(kHeaderBytes + record.size() + kTagBytes);
  out.insert(out.end(), salt.begin(), salt.end());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(kRecordSize >> shift));
  out.push_back(static_cast<uint8_t>(as_public.size()));
  out.insert(out.end(), as_public.begin(), as_public.end());

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const size_t at = out.size();
  out.resize(at + record.size() + kTagBytes);
  int len = 0;
  int final_len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, cek.data(), nonce.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + at, &len, record.data(),
                        static_cast<int>(record.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + at + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          out.data() + at + record.size()) != 1) {
    return OpensslError("AES-128-GCM failed");
  }
  return out;
}

Result<Bytes> Encrypt(std::string_view plaintext, std::span<const uint8_t> ua_public,
                      std::span<const uint8_t> auth_secret) {
  // A fresh ephemeral key and salt per message (RFC 8291 section 3.1).
  Result<VapidKey> ephemeral = VapidKey::Generate();
  if (!ephemeral.ok()) return std::move(ephemeral).error();
  std::array<uint8_t, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return OpensslError("RAND_bytes failed");
  }
  return EncryptWith(plaintext, ua_public, auth_secret, *ephemeral, salt);
}

// ---------------------------------------------------------------------------- URLs

namespace {

struct UrlParts {
  std::string scheme;
  std::string authority;
  std::string host;
};

std::optional<UrlParts> SplitUrl(std::string_view url) {
  UrlParts parts;
  if (url.starts_with("https://")) {
    parts.scheme = "https";
  } else if (url.starts_with("http://")) {
    parts.scheme = "http";
  } else {
    return std::nullopt;
  }
  url.remove_prefix(parts.scheme.size() + 3);
  const size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  // Userinfo has no place in a push endpoint and is a classic way to disguise a host.
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  for (char c : authority) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '\\') return std::nullopt;
  }
  std::string_view host = authority;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = host.substr(1, close - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return std::nullopt;
  parts.authority.assign(authority);
  parts.host.assign(host);
  for (std::string* s : {&parts.authority, &parts.host}) {
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return parts;
}

}  // namespace

std::optional<std::string> OriginOf(std::string_view url) {
  auto parts = SplitUrl(url);
  if (!parts) return std::nullopt;
  return parts->scheme + "://" + parts->authority;
}

std::optional<std::string> HostOf(std::string_view url) {
  auto parts = SplitUrl(url);
  if (!parts) return std::nullopt;
  return parts->host;
}

}  // namespace parley::push
