#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt.h"
#include "auth/login_guard.h"
#include "auth/password.h"
#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/status.h"
#include "metrics/metrics.h"
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
/// logout, the device list, and checking access tokens.
///
/// Thread-safety: all methods may be called concurrently from any thread. Every method but
/// NormalizeUsername touches the store; Register, Login and ChangePassword also run Argon2id,
/// so they belong on the hashing pool, the others on a storage pool, never on an io thread.
///
/// Lifecycle of sessions (docs/PROTOCOL.md, "Devices"): a user has at most
/// `max_devices_per_user` live devices (a login past it revokes the least recently used one);
/// each device refreshes at most at `refresh_limiter`'s rate; and about once a minute a
/// login or refresh sweeps expired tokens and dead devices from the store.
class AuthService {
 public:
  struct Options {
    int access_token_ttl_s = 15 * 60;
    int refresh_token_ttl_s = 30 * 24 * 3600;
    int max_devices_per_user = 100;
  };

  /// `guard` limits password checks, `refresh_limiter` refreshes per device; both must
  /// outlive the service. Registers its counters in `metrics`.
  AuthService(AccountStore& store, const PasswordHasher& hasher, const JwtSigner& signer,
              LoginGuard& guard, RateLimiter& refresh_limiter, const Clock& clock, Options options,
              MetricsRegistry& metrics);

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
  /// whole session (its access and refresh tokens stop working). kRateLimited when the
  /// device refreshes faster than the refresh limit.
  Result<Tokens> Refresh(std::string_view refresh_token);

  /// The user's live devices, most recently used first.
  Result<std::vector<Device>> ListDevices(const AccessClaims& claims);

  /// Revokes one of the user's devices (its tokens stop working, its sockets close).
  /// kNotFound when the user has no such live device.
  Status RevokeDevice(const AccessClaims& claims, std::string_view device_id);

  /// Revokes every device of the user, or every one but the caller's when `keep_current`.
  /// Returns how many were revoked.
  Result<int64_t> LogoutAll(const AccessClaims& claims, bool keep_current);

  /// Checks `current_password` (under the guessing limits, like a login from `client_ip`),
  /// stores a hash of `new_password`, and revokes every other device of the user.
  /// kUnauthorized for a wrong current password; kInvalidRequest for a bad new one.
  Status ChangePassword(const AccessClaims& claims, std::string_view current_password,
                        std::string_view new_password, std::string_view client_ip);

  /// Checks an access token: signature, expiry, and that its device is not revoked.
  Result<AccessClaims> Authenticate(std::string_view access_token);

  /// Revokes the device of `claims` and tells the OnSessionRevoked listener.
  Status Logout(const AccessClaims& claims);

  Result<User> GetUser(std::string_view user_id);

  /// The user with this username, matched case-insensitively. kNotFound ("no such user") when
  /// there is none or the name breaks the username rules, so a lookup never says why.
  Result<User> FindUserByUsername(std::string_view username);

  /// Called (on the calling thread) whenever a device's session is revoked: logout, a
  /// device revoked from the list, the device cap, a password change, or a refresh token
  /// presented twice. The gateway closes that device's sockets. Set once at
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
  void Revoked(const std::string& user_id, const std::vector<std::string>& device_ids);
  // At most once per kSweepIntervalMs (whichever caller gets there first does it).
  void MaybeSweep(int64_t now_ms);

  AccountStore& store_;
  const PasswordHasher& hasher_;
  const JwtSigner& signer_;
  LoginGuard& guard_;
  RateLimiter& refresh_limiter_;
  const Clock& clock_;
  Options options_;
  std::function<void(const std::string&, const std::string&)> on_revoked_;
  std::atomic<int64_t> next_sweep_ms_{0};
  Counter& devices_evicted_;
  Counter& refresh_refused_;
  Counter& swept_tokens_;
  Counter& swept_devices_;
};

}  // namespace parley
