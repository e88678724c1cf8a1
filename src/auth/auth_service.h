#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/account_store.h"

namespace parley {

/// What login and refresh hand to a client.
struct Tokens {
  std::string user_id;
  std::string device_id;
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;  // seconds until the access token expires
};

/// Accounts and sessions: registration, login, refresh-token rotation with reuse detection,
/// logout, and checking access tokens.
///
/// Thread-safety: all methods may be called concurrently from any thread. Register, Login,
/// Refresh, Logout, Authenticate and GetUser touch the store and (the first two) run Argon2id,
/// so they belong on the blocking pool, never on an io thread.
class AuthService {
 public:
  struct Options {
    int access_token_ttl_s = 15 * 60;
    int refresh_token_ttl_s = 30 * 24 * 3600;
  };

  AuthService(AccountStore& store, const PasswordHasher& hasher, const JwtSigner& signer,
              RateLimiter& ip_limiter, RateLimiter& username_limiter, const Clock& clock,
              Options options);

  /// kInvalidRequest for a bad username (3-32 of a-z 0-9 _ . -, case-insensitive), password
  /// (8-256 bytes) or display name; kConflict when the username is taken; kRateLimited.
  Result<User> Register(std::string_view username, std::string_view password,
                        std::string_view display_name, std::string_view client_ip);

  /// Creates a device and its first tokens. Unknown user and wrong password give the same
  /// kUnauthorized error after the same Argon2id work, so neither timing nor text tells
  /// which usernames exist.
  Result<Tokens> Login(std::string_view username, std::string_view password,
                       std::string_view device_name, std::string_view client_ip);

  /// Rotates a refresh token. Presenting one that was already used revokes the device's
  /// whole session (its access and refresh tokens stop working).
  Result<Tokens> Refresh(std::string_view refresh_token);

  /// Checks an access token: signature, expiry, and that its device is not revoked.
  Result<AccessClaims> Authenticate(std::string_view access_token);

  /// Revokes the device of `claims` and tells the OnSessionRevoked listener.
  Status Logout(const AccessClaims& claims);

  Result<User> GetUser(std::string_view user_id);

  /// The user with this username, matched case-insensitively. kNotFound ("no such user") when
  /// there is none or the name breaks the username rules, so a lookup never says why.
  Result<User> FindUserByUsername(std::string_view username);

  /// Called (on the calling thread) whenever a device's session is revoked: logout, or a
  /// refresh token presented twice. The gateway closes that device's sockets. Set once at
  /// start-up, before any request.
  void OnSessionRevoked(
      std::function<void(const std::string& user_id, const std::string& device_id)> listener) {
    on_revoked_ = std::move(listener);
  }

  /// Lower-cases and validates; kInvalidRequest with the rule on failure.
  static Result<std::string> NormalizeUsername(std::string_view username);

 private:
  Tokens IssueTokens(const std::string& user_id, const std::string& device_id,
                     std::string refresh_token) const;
  std::string HashRefreshToken(std::string_view token) const;

  AccountStore& store_;
  const PasswordHasher& hasher_;
  const JwtSigner& signer_;
  RateLimiter& ip_limiter_;
  RateLimiter& username_limiter_;
  const Clock& clock_;
  Options options_;
  std::function<void(const std::string&, const std::string&)> on_revoked_;
};

}  // namespace parley
