#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley {

struct User {
  std::string id;
  std::string username;  // stored lower-case; unique
  std::string display_name;
  int64_t created_ms = 0;
};

struct NewUser {
  std::string id;
  std::string username;  // already validated and lower-cased by the caller
  std::string display_name;
  std::string password_hash;  // an Argon2id encoded string
  int64_t created_ms = 0;
};

struct UserCredentials {
  User user;
  std::string password_hash;
};

/// A logged-in device: one login creates one device; its refresh tokens and sockets belong
/// to it, and logout or refresh-token reuse revokes it.
struct Device {
  std::string id;
  std::string user_id;
  std::string name;
  int64_t created_ms = 0;
  bool revoked = false;
};

/// What presenting a refresh token did. Only kRotated hands out new tokens.
enum class RotateOutcome {
  kRotated,  // the old token is now used, the new one is stored
  kUnknown,  // no such token
  kExpired,  // it existed but has expired
  kReused,   // it had already been used: the whole device session is now revoked
  kRevoked,  // the device had been revoked before (logout or earlier reuse)
};

struct RotateResult {
  RotateOutcome outcome = RotateOutcome::kUnknown;
  std::string device_id;  // set when the token was known
  std::string user_id;    // set when the token was known
};

/// Accounts, devices and refresh tokens. Implemented by SQLite (embedded) and later by
/// PostgreSQL (cluster).
///
/// Thread-safety: every method may be called from any thread concurrently. Methods block on
/// storage I/O, so callers on an io_context thread should keep them off the hot path.
/// Refresh tokens are only ever seen as hashes here; the store never holds a usable secret.
class AccountStore {
 public:
  virtual ~AccountStore() = default;

  /// kConflict when the username is taken (usernames are unique case-insensitively).
  virtual Result<User> CreateUser(const NewUser& user) = 0;
  /// kNotFound when there is no such user.
  virtual Result<UserCredentials> FindUserByUsername(std::string_view username) = 0;
  virtual Result<User> FindUserById(std::string_view user_id) = 0;

  virtual Result<Device> CreateDevice(std::string_view device_id, std::string_view user_id,
                                      std::string_view name, int64_t now_ms) = 0;
  /// kNotFound when there is no such device. A revoked device is still found (revoked=true).
  virtual Result<Device> FindDevice(std::string_view device_id) = 0;
  /// Marks the device revoked and invalidates all its refresh tokens. Idempotent.
  virtual Status RevokeDevice(std::string_view device_id, int64_t now_ms) = 0;

  /// Stores a fresh refresh token (by hash) for a device, e.g. at login.
  virtual Status AddRefreshToken(std::string_view token_hash, std::string_view device_id,
                                 int64_t expires_ms) = 0;
  /// Atomically: if `old_hash` is a live, unused token of a live device, marks it used and
  /// stores `new_hash` for the same device (kRotated). If it was already used, revokes the
  /// device (kReused). Two concurrent calls with the same old hash: exactly one rotates.
  virtual Result<RotateResult> RotateRefreshToken(std::string_view old_hash,
                                                  std::string_view new_hash, int64_t new_expires_ms,
                                                  int64_t now_ms) = 0;
};

}  // namespace parley
