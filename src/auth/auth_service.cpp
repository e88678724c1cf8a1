#include "auth/auth_service.h"

#include <sodium.h>

#include "common/random.h"
#include "common/text_rules.h"
#include "common/utf8.h"

namespace parley {
namespace {

constexpr size_t kMinPassword = 8;
constexpr size_t kMaxPassword = 256;
constexpr size_t kMaxDisplayName = 64;
constexpr size_t kMaxDeviceName = 64;
constexpr size_t kRefreshTokenBytes = 32;

Status CheckPassword(std::string_view password) {
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    return Error::InvalidRequest("password must be 8 to 256 bytes long");
  }
  return Status::Ok();
}

Error BadCredentials() { return Error::Unauthorized("invalid username or password"); }
Error BadRefresh() { return Error::Unauthorized("invalid or expired refresh token"); }

}  // namespace

AuthService::AuthService(AccountStore& store, const PasswordHasher& hasher, const JwtSigner& signer,
                         RateLimiter& ip_limiter, RateLimiter& username_limiter, const Clock& clock,
                         Options options)
    : store_(store),
      hasher_(hasher),
      signer_(signer),
      ip_limiter_(ip_limiter),
      username_limiter_(username_limiter),
      clock_(clock),
      options_(options) {}

Result<std::string> AuthService::NormalizeUsername(std::string_view username) {
  if (username.size() < 3 || username.size() > 32) {
    return Error::InvalidRequest("username must be 3 to 32 characters of a-z, 0-9, _ . -");
  }
  std::string out;
  out.reserve(username.size());
  for (char c : username) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return Error::InvalidRequest("username must be 3 to 32 characters of a-z, 0-9, _ . -");
    out.push_back(c);
  }
  return out;
}

Result<User> AuthService::Register(std::string_view username, std::string_view password,
                                   std::string_view display_name, std::string_view client_ip) {
  if (int64_t wait = ip_limiter_.Take(client_ip); wait > 0) return Error::RateLimited(wait);
  auto normalized = NormalizeUsername(username);
  if (!normalized.ok()) return std::move(normalized).error();
  if (Status s = CheckPassword(password); !s.ok()) return s.error();
  std::string display(display_name.empty() ? std::string_view(*normalized) : display_name);
  if (Status s = CheckLabel(display, kMaxDisplayName, "display_name"); !s.ok()) return s.error();

  auto hash = hasher_.Hash(password);
  if (!hash.ok()) return std::move(hash).error();
  NewUser user{NewId('u'), *normalized, std::move(display), std::move(*hash), clock_.NowMs()};
  auto created = store_.CreateUser(user);
  if (!created.ok() && created.error().code == ErrorCode::kConflict) {
    return Error::Conflict("username is taken");
  }
  return created;
}

Result<Tokens> AuthService::Login(std::string_view username, std::string_view password,
                                  std::string_view device_name, std::string_view client_ip) {
  if (int64_t wait = ip_limiter_.Take(client_ip); wait > 0) return Error::RateLimited(wait);
  auto normalized = NormalizeUsername(username);
  if (!normalized.ok()) {
    hasher_.VerifyAgainstDummy(password);
    return BadCredentials();
  }
  if (int64_t wait = username_limiter_.Take(*normalized); wait > 0) {
    return Error::RateLimited(wait);
  }
  if (password.size() > kMaxPassword) return BadCredentials();
  if (Status s = CheckLabel(device_name, kMaxDeviceName, "device_name"); !s.ok()) return s.error();

  auto found = store_.FindUserByUsername(*normalized);
  if (!found.ok()) {
    if (found.error().code != ErrorCode::kNotFound) return std::move(found).error();
    hasher_.VerifyAgainstDummy(password);
    return BadCredentials();
  }
  if (!hasher_.Verify(found->password_hash, password)) return BadCredentials();

  auto device =
      store_.CreateDevice(NewId('d'), found->user.id,
                          device_name.empty() ? "unnamed device" : device_name, clock_.NowMs());
  if (!device.ok()) return std::move(device).error();
  Tokens tokens = IssueTokens(found->user.id, device->id, RandomToken(kRefreshTokenBytes));
  const int64_t expires = clock_.NowMs() + int64_t{options_.refresh_token_ttl_s} * 1000;
  if (Status s =
          store_.AddRefreshToken(HashRefreshToken(tokens.refresh_token), device->id, expires);
      !s.ok()) {
    return s.error();
  }
  return tokens;
}

Result<Tokens> AuthService::Refresh(std::string_view refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 256) return BadRefresh();
  const int64_t now = clock_.NowMs();
  const std::string next = RandomToken(kRefreshTokenBytes);
  auto rotated = store_.RotateRefreshToken(HashRefreshToken(refresh_token), HashRefreshToken(next),
                                           now + int64_t{options_.refresh_token_ttl_s} * 1000, now);
  if (!rotated.ok()) return std::move(rotated).error();
  switch (rotated->outcome) {
    case RotateOutcome::kRotated:
      break;
    case RotateOutcome::kReused:
      // Someone holds a copy of this device's refresh token: end the session everywhere.
      if (on_revoked_) on_revoked_(rotated->user_id, rotated->device_id);
      return Error::Unauthorized("refresh token reused: the session has been revoked");
    case RotateOutcome::kRevoked:
      return Error::Unauthorized("the session has been revoked");
    case RotateOutcome::kUnknown:
    case RotateOutcome::kExpired:
      return BadRefresh();
  }
  return IssueTokens(rotated->user_id, rotated->device_id, next);
}

Result<AccessClaims> AuthService::Authenticate(std::string_view access_token) {
  auto claims = signer_.Verify(access_token);
  if (!claims.ok()) return claims;
  auto device = store_.FindDevice(claims->device_id);
  if (!device.ok()) {
    if (device.error().code == ErrorCode::kNotFound) {
      return Error::Unauthorized("unknown session");
    }
    return std::move(device).error();
  }
  if (device->revoked || device->user_id != claims->user_id) {
    return Error::Unauthorized("the session has been revoked");
  }
  return claims;
}

Status AuthService::Logout(const AccessClaims& claims) {
  Status revoked = store_.RevokeDevice(claims.device_id, clock_.NowMs());
  if (revoked.ok() && on_revoked_) on_revoked_(claims.user_id, claims.device_id);
  return revoked;
}

Result<User> AuthService::GetUser(std::string_view user_id) {
  auto user = store_.FindUserById(user_id);
  if (!user.ok() && user.error().code == ErrorCode::kNotFound) {
    return Error::NotFound("no such user");
  }
  return user;
}

Result<User> AuthService::FindUserByUsername(std::string_view username) {
  auto normalized = NormalizeUsername(username);
  if (!normalized.ok()) return Error::NotFound("no such user");
  auto found = store_.FindUserByUsername(*normalized);
  if (!found.ok()) {
    if (found.error().code == ErrorCode::kNotFound) return Error::NotFound("no such user");
    return std::move(found).error();
  }
  return std::move(found->user);
}

Tokens AuthService::IssueTokens(const std::string& user_id, const std::string& device_id,
                                std::string refresh_token) const {
  Tokens tokens;
  tokens.user_id = user_id;
  tokens.device_id = device_id;
  tokens.access_token = signer_.Issue(user_id, device_id, options_.access_token_ttl_s);
  tokens.refresh_token = std::move(refresh_token);
  tokens.expires_in = options_.access_token_ttl_s;
  return tokens;
}

std::string AuthService::HashRefreshToken(std::string_view token) const {
  // Refresh tokens are 256-bit random: a plain SHA-256 is enough to make a stolen database
  // useless for replay, with no need for a slow hash.
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

}  // namespace parley
