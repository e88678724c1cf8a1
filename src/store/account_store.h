#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  int64_t last_used_ms = 0;  // last login or refresh
  bool revoked = false;
};

/// What one Sweep deleted.
struct SweepResult {
  int64_t tokens = 0;
  int64_t devices = 0;
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
  /// The user with their password hash; kNotFound when there is no such user.
  virtual Result<UserCredentials> FindCredentialsById(std::string_view user_id) = 0;
  /// Replaces the user's password hash. kNotFound when there is no such user.
  virtual Status SetPasswordHash(std::string_view user_id, std::string_view password_hash) = 0;

  virtual Result<Device> CreateDevice(std::string_view device_id, std::string_view user_id,
                                      std::string_view name, int64_t now_ms) = 0;
  /// kNotFound when there is no such device. A revoked device is still found (revoked=true).
  virtual Result<Device> FindDevice(std::string_view device_id) = 0;
  /// Marks the device revoked and invalidates all its refresh tokens. Idempotent.
  virtual Status RevokeDevice(std::string_view device_id, int64_t now_ms) = 0;
  /// The user's devices that are not revoked, most recently used first.
  virtual Result<std::vector<Device>> ListDevices(std::string_view user_id) = 0;
  /// The device cap: deletes the user's live devices past the `keep` most recently used
  /// ones, with their refresh tokens, and returns their ids (to close their sockets). Deleted
  /// rather than revoked, so that a loop of logins leaves no rows behind; their tokens are
  /// then unknown, which is refused like revoked.
  virtual Result<std::vector<std::string>> EvictDevicesBeyond(std::string_view user_id,
                                                              size_t keep) = 0;
  /// Revokes every live device of the user but `except_device_id` (none when empty), and
  /// returns their ids.
  virtual Result<std::vector<std::string>> RevokeOtherDevices(std::string_view user_id,
                                                              std::string_view except_device_id,
                                                              int64_t now_ms) = 0;
  /// Deletes what can never be used again, at most `limit` rows of each kind per call:
  /// refresh tokens expired at `now_ms`, and devices (with their tokens) revoked at or before
  /// `dead_before_ms` or, with no refresh token left, last used at or before it.
  virtual Result<SweepResult> Sweep(int64_t now_ms, int64_t dead_before_ms, int64_t limit) = 0;

  /// Stores a fresh refresh token (by hash) for a device, e.g. at login.
  virtual Status AddRefreshToken(std::string_view token_hash, std::string_view device_id,
                                 int64_t expires_ms) = 0;
  /// The device a refresh token (by hash) belongs to; kNotFound when there is none.
  virtual Result<std::string> FindRefreshTokenDevice(std::string_view token_hash) = 0;
  /// Atomically: if `old_hash` is a live, unused token of a live device, marks it used and
  /// stores `new_hash` for the same device (kRotated), and records the device as used at
  /// `now_ms`. Used tokens are kept for reuse detection, but only the last few per device
  /// (the implementation says how many); older ones are deleted. If it was already used, revokes
  /// the device (kReused). Two concurrent calls with the same old hash: exactly one rotates.
  virtual Result<RotateResult> RotateRefreshToken(std::string_view old_hash,
                                                  std::string_view new_hash, int64_t new_expires_ms,
                                                  int64_t now_ms) = 0;
};

}  // namespace parley
