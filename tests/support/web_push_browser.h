#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct evp_pkey_st;

namespace parley::e2e {

/// The browser's side of Web Push, written for the tests independently of the server's code
/// (it uses OpenSSL's HKDF where the server composes HMACs, and shares no source with it):
/// a subscription's P-256 key pair and auth secret, RFC 8291 decryption of what the push
/// service receives, and RFC 8292 VAPID header verification.
class FakeBrowser {
 public:
  FakeBrowser();
  ~FakeBrowser();
  FakeBrowser(const FakeBrowser&) = delete;
  FakeBrowser& operator=(const FakeBrowser&) = delete;

  /// PushSubscription.toJSON().keys, base64url without padding.
  std::string p256dh() const;
  std::string auth() const;

  /// Decrypts an aes128gcm body (RFC 8188, one record) for this subscription; nullopt when it
  /// does not decrypt (wrong keys, tampered, malformed).
  std::optional<std::string> Decrypt(const std::string& body) const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
  std::vector<uint8_t> public_key_;  // 65 bytes uncompressed
  std::vector<uint8_t> auth_;        // 16 bytes
};

/// What a push service checks in `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292): the JWT
/// is ES256-signed by `k`, `aud` is `audience`, `exp` is in the future but at most 24 hours
/// ahead, and `sub` is a mailto: or https: URL. Returns "" when all hold, else the reason.
std::string CheckVapid(const std::string& authorization, const std::string& audience, int64_t now_s,
                       std::string* key_out = nullptr);

std::string B64UrlEncode(const std::vector<uint8_t>& bytes);
std::optional<std::vector<uint8_t>> B64UrlDecode(std::string text);

}  // namespace parley::e2e
