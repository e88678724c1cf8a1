#pragma once

// The cryptography of notifications, on OpenSSL: HMAC-SHA256 webhook signatures, and for Web
// Push the VAPID key and JWT (RFC 8292) and the aes128gcm payload encryption (RFC 8291 on
// RFC 8188). Thread-safety: free functions are reentrant; a VapidKey is immutable after
// construction and may be shared by threads.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct evp_pkey_st;

namespace parley::push {

using Bytes = std::vector<uint8_t>;

std::string Base64UrlEncode(std::span<const uint8_t> bytes);
/// Accepts base64url with or without '=' padding (browsers' PushSubscription.toJSON() omits it,
/// some libraries add it). nullopt when it is not base64url.
std::optional<Bytes> Base64UrlDecode(std::string_view text);

/// Lower-case hex of HMAC-SHA256(key, data): the webhook signature.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

/// True when `point` is an uncompressed P-256 public key (65 bytes, 0x04 || X || Y) on the
/// curve.
bool IsP256PublicKey(std::span<const uint8_t> point);

/// The application server's P-256 key pair (VAPID, RFC 8292).
class VapidKey {
 public:
  /// Loads the PEM (PKCS#8) private key at `path`, or creates one there with mode 0600 when the
  /// file does not exist. Start-up code.
  [[nodiscard]] static Result<VapidKey> LoadOrCreate(const std::string& path);
  /// A new key pair in memory (also the ephemeral key of each RFC 8291 message).
  [[nodiscard]] static Result<VapidKey> Generate();
  /// From the raw 32-byte private scalar. For tests.
  [[nodiscard]] static Result<VapidKey> FromPrivateKey(std::span<const uint8_t> d);

  /// The public key as the Push API's applicationServerKey wants it: 65 bytes uncompressed.
  const Bytes& public_key() const { return public_key_; }
  std::string PublicKeyBase64Url() const { return Base64UrlEncode(public_key_); }

  /// An ES256 JWT with claims {"aud": audience, "exp": exp_s, "sub": subject}, for the
  /// `Authorization: vapid t=<jwt>, k=<public key>` header.
  Result<std::string> SignJwt(std::string_view audience, int64_t exp_s,
                              std::string_view subject) const;

  /// ECDH with a peer's uncompressed P-256 public key: the 32-byte shared secret.
  Result<Bytes> SharedSecret(std::span<const uint8_t> peer_public) const;

 private:
  VapidKey(std::shared_ptr<evp_pkey_st> key, Bytes public_key)
      : key_(std::move(key)), public_key_(std::move(public_key)) {}

  std::shared_ptr<evp_pkey_st> key_;
  Bytes public_key_;
};

/// RFC 8291: encrypts `plaintext` for the subscription (its p256dh key and auth secret) with a
/// fresh ephemeral key and salt, as one aes128gcm record (RFC 8188) with record size 4096.
/// kInvalidRequest when the subscription's keys are malformed or the plaintext does not fit one
/// record.
Result<Bytes> Encrypt(std::string_view plaintext, std::span<const uint8_t> ua_public,
                      std::span<const uint8_t> auth_secret);
/// Encrypt with a given ephemeral key and salt: for the RFC 8291 test vector.
Result<Bytes> EncryptWith(std::string_view plaintext, std::span<const uint8_t> ua_public,
                          std::span<const uint8_t> auth_secret, const VapidKey& ephemeral,
                          std::span<const uint8_t> salt);

/// "scheme://host[:port]" of an absolute http(s) URL: the JWT audience of a push endpoint.
/// nullopt when `url` is not one.
std::optional<std::string> OriginOf(std::string_view url);
/// The host of an absolute http(s) URL, lower-case, without brackets or port.
std::optional<std::string> HostOf(std::string_view url);

}  // namespace parley::push
