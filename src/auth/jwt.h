#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace parley {

/// What a valid access token says: who, from which device, and when it stops being valid.
struct AccessClaims {
  std::string user_id;       // "sub"
  std::string device_id;     // "did"
  int64_t issued_at_s = 0;   // "iat", Unix seconds; 0 if the token had none
  int64_t expires_at_s = 0;  // "exp", Unix seconds
};

/// The HMAC-SHA256 key that signs and checks access tokens.
using JwtKey = std::array<unsigned char, 32>;

/// Issues and checks short-lived access tokens: compact JWTs signed with HS256, header
/// {"alg":"HS256","typ":"JWT"} and claims {"sub","did","iat","exp"}. Only HS256 with this
/// signer's key is ever accepted ("none" and every other alg are refused).
///
/// Thread-safety: immutable after construction; Issue and Verify may be called concurrently.
class JwtSigner {
 public:
  /// Keeps a reference to `clock`, which must outlive the signer.
  JwtSigner(JwtKey key, const Clock& clock);

  /// A token valid for `ttl_s` seconds from now (whole seconds, as JWT counts them).
  [[nodiscard]] std::string Issue(const std::string& user_id, const std::string& device_id,
                                  int ttl_s) const;

  /// The claims of a token this signer issued and that has not expired. Otherwise
  /// Error::Unauthorized; the message is "access token expired" for an expired but otherwise
  /// valid token, so clients know to refresh. The signature is checked before any JSON is
  /// parsed, so unauthenticated input only ever reaches the base64 decoder.
  [[nodiscard]] Result<AccessClaims> Verify(std::string_view token) const;

 private:
  JwtKey key_;
  const Clock& clock_;
};

/// Reads a 32-byte key from `path`, or creates it there with 32 random bytes and mode 0600 if
/// no file exists (O_CREAT|O_EXCL, so two processes starting together cannot both create it).
/// Start-up code: Error::Internal naming the path and the cause if the file cannot be read or
/// written or is not exactly 32 bytes.
[[nodiscard]] Result<JwtKey> LoadOrCreateKey(const std::string& path);

}  // namespace parley
