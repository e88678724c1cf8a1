#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/account_store.h"
#include "store/sqlite/database.h"

namespace parley {

/// AccountStore on the embedded SQLite database.
///
/// Thread-safety: one connection, serialized by a mutex: every method holds it for the whole
/// call, including the storage I/O. That is fine for account traffic (sign-ups, logins,
/// refreshes), which is low-rate. Other connections to the same file (another store, another
/// process) are safe too: writers wait on SQLite's lock for the busy timeout, then fail with
/// kUnavailable.
///
/// Beyond the AccountStore contract:
/// - Usernames are compared ASCII case-insensitively and stored lower-cased.
/// - CreateDevice with an unknown user, and AddRefreshToken or RevokeDevice with an unknown
///   device, return kNotFound. AddRefreshToken for a revoked device returns kConflict, since
///   such a token could never be used.
/// - A rotation keeps the device's kUsedTokensKept most recently used tokens (for reuse
///   detection) and deletes older used ones, so a device holds at most kUsedTokensKept + 1
///   token rows however often it refreshes.
class SqliteAccountStore final : public AccountStore {
 public:
  static constexpr int64_t kUsedTokensKept = 4;

  /// Opens or creates the database at `path` and brings its schema up to date
  /// (sqlite::SchemaMigrations()). Fails when the file's schema is newer than this binary.
  [[nodiscard]] static Result<std::unique_ptr<SqliteAccountStore>> Open(
      const std::string& path, sqlite::Durability durability = sqlite::Durability::kFull);

  ~SqliteAccountStore() override;
  SqliteAccountStore(const SqliteAccountStore&) = delete;
  SqliteAccountStore& operator=(const SqliteAccountStore&) = delete;

  Result<User> CreateUser(const NewUser& user) override;
  Result<UserCredentials> FindUserByUsername(std::string_view username) override;
  Result<User> FindUserById(std::string_view user_id) override;
  Result<UserCredentials> FindCredentialsById(std::string_view user_id) override;
  Status SetPasswordHash(std::string_view user_id, std::string_view password_hash) override;

  Result<Device> CreateDevice(std::string_view device_id, std::string_view user_id,
                              std::string_view name, int64_t now_ms) override;
  Result<Device> FindDevice(std::string_view device_id) override;
  Status RevokeDevice(std::string_view device_id, int64_t now_ms) override;
  Result<std::vector<Device>> ListDevices(std::string_view user_id) override;
  Result<std::vector<std::string>> EvictDevicesBeyond(std::string_view user_id,
                                                      size_t keep) override;
  Result<std::vector<std::string>> RevokeOtherDevices(std::string_view user_id,
                                                      std::string_view except_device_id,
                                                      int64_t now_ms) override;
  Result<SweepResult> Sweep(int64_t now_ms, int64_t dead_before_ms, int64_t limit) override;

  Status AddRefreshToken(std::string_view token_hash, std::string_view device_id,
                         int64_t expires_ms) override;
  Result<std::string> FindRefreshTokenDevice(std::string_view token_hash) override;
  Result<RotateResult> RotateRefreshToken(std::string_view old_hash, std::string_view new_hash,
                                          int64_t new_expires_ms, int64_t now_ms) override;

 private:
  struct Statements;  // every statement the store runs, prepared once in Open()

  SqliteAccountStore(std::unique_ptr<sqlite::Database> db, std::unique_ptr<Statements> statements);

  // Callers hold mu_.
  Result<Device> FindDeviceLocked(std::string_view device_id);
  Status RevokeDeviceLocked(std::string_view device_id, int64_t now_ms);
  Result<std::vector<Device>> ListDevicesLocked(std::string_view user_id);
  // Revokes (or, when `evict`, deletes) devices[from..] but `except_device_id`, in one
  // transaction; returns their ids.
  Result<std::vector<std::string>> RevokeAllLocked(const std::vector<Device>& devices, size_t from,
                                                   std::string_view except_device_id,
                                                   int64_t now_ms, bool evict);

  std::mutex mu_;
  // Guarded by mu_. Declared before statements_ so that the statements are finalized first.
  std::unique_ptr<sqlite::Database> db_;
  std::unique_ptr<Statements> statements_;  // guarded by mu_
};

}  // namespace parley
