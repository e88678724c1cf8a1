#include "store/sqlite/sqlite_account_store.h"

#include <utility>

#include "store/sqlite/migrations.h"

namespace parley {

using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::Statement;
using sqlite::Transaction;

struct SqliteAccountStore::Statements {
  Statement insert_user;
  Statement find_user_by_username;
  Statement find_user_by_id;
  Statement insert_device;
  Statement find_device;
  Statement revoke_device;
  Statement use_device_tokens;
  Statement insert_token;
  Statement find_token;
  Statement use_token;
  Statement set_password;
  Statement list_devices;
  Statement touch_device;
  Statement token_device;
  Statement trim_used_tokens;
  Statement sweep_tokens;
  Statement sweep_dead_device_tokens;
  Statement sweep_devices;
  Statement delete_device_tokens;
  Statement delete_device;
};

namespace {

// Usernames are ASCII by the time they get here (the caller validates them); anything else
// passes through unchanged, matching SQLite's NOCASE collation on the column.
std::string AsciiLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

// Binds `args` to parameters 1, 2, ... in order, stopping at the first failure.
template <class... Args>
Status BindAll(Statement& stmt, const Args&... args) {
  int index = 0;
  Status status;
  auto bind_one = [&](const auto& arg) {
    if (status.ok()) status = stmt.Bind(++index, arg);
  };
  (bind_one(args), ...);
  return status;
}

// Runs a statement that returns no rows.
Status Run(Statement& stmt) {
  Result<bool> row = stmt.Step();
  if (!row.ok()) return std::move(row).error();
  return Status::Ok();
}

// Reads a row of find_user_by_*: id, username, display_name, created_ms, password_hash.
User ReadUser(const Statement& stmt) {
  return User{
      .id = stmt.ColumnText(0),
      .username = stmt.ColumnText(1),
      .display_name = stmt.ColumnText(2),
      .created_ms = stmt.ColumnInt64(3),
  };
}

}  // namespace

Result<std::unique_ptr<SqliteAccountStore>> SqliteAccountStore::Open(
    const std::string& path, sqlite::Durability durability) {
  Result<std::unique_ptr<Database>> db = Database::Open(path, {.durability = durability});
  if (!db.ok()) return std::move(db).error();
  if (Status s = sqlite::Migrate(**db, sqlite::SchemaMigrations()); !s.ok()) return s.error();

  auto statements = std::make_unique<Statements>();
  const std::pair<Statement*, std::string_view> to_prepare[] = {
      {&statements->insert_user,
       "INSERT INTO users (id, username, display_name, password_hash, created_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&statements->find_user_by_username,
       "SELECT id, username, display_name, created_ms, password_hash FROM users "
       "WHERE username = ?1"},
      {&statements->find_user_by_id,
       "SELECT id, username, display_name, created_ms, password_hash FROM users WHERE id = ?1"},
      {&statements->insert_device,
       "INSERT INTO devices (id, user_id, name, created_ms, last_used_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?4)"},
      {&statements->find_device,
       "SELECT id, user_id, name, created_ms, revoked_ms IS NOT NULL, "
       "COALESCE(last_used_ms, created_ms) FROM devices WHERE id = ?1"},
      {&statements->revoke_device,
       "UPDATE devices SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL"},
      {&statements->use_device_tokens,
       "UPDATE refresh_tokens SET used_ms = ?2 WHERE device_id = ?1 AND used_ms IS NULL"},
      {&statements->insert_token,
       "INSERT INTO refresh_tokens (token_hash, device_id, expires_ms) VALUES (?1, ?2, ?3)"},
      {&statements->find_token,
       "SELECT t.device_id, d.user_id, t.expires_ms, t.used_ms IS NOT NULL, "
       "d.revoked_ms IS NOT NULL "
       "FROM refresh_tokens t JOIN devices d ON d.id = t.device_id WHERE t.token_hash = ?1"},
      {&statements->use_token, "UPDATE refresh_tokens SET used_ms = ?2 WHERE token_hash = ?1"},
      {&statements->set_password, "UPDATE users SET password_hash = ?2 WHERE id = ?1"},
      {&statements->list_devices,
       "SELECT id, user_id, name, created_ms, 0, COALESCE(last_used_ms, created_ms) AS used "
       "FROM devices WHERE user_id = ?1 AND revoked_ms IS NULL ORDER BY used DESC, id"},
      {&statements->touch_device,
       "UPDATE devices SET last_used_ms = MAX(COALESCE(last_used_ms, 0), ?2) WHERE id = ?1"},
      {&statements->token_device, "SELECT device_id FROM refresh_tokens WHERE token_hash = ?1"},
      {&statements->trim_used_tokens,
       "DELETE FROM refresh_tokens WHERE device_id = ?1 AND used_ms IS NOT NULL AND "
       "token_hash NOT IN (SELECT token_hash FROM refresh_tokens WHERE device_id = ?1 AND "
       "used_ms IS NOT NULL ORDER BY used_ms DESC LIMIT ?2)"},
      {&statements->delete_device_tokens, "DELETE FROM refresh_tokens WHERE device_id = ?1"},
      {&statements->delete_device, "DELETE FROM devices WHERE id = ?1"},
      {&statements->sweep_tokens,
       "DELETE FROM refresh_tokens WHERE rowid IN "
       "(SELECT rowid FROM refresh_tokens WHERE expires_ms <= ?1 LIMIT ?2)"},
      {&statements->sweep_dead_device_tokens,
       "DELETE FROM refresh_tokens WHERE device_id IN (SELECT id FROM devices "
       "WHERE revoked_ms IS NOT NULL AND revoked_ms <= ?1 LIMIT ?2)"},
      {&statements->sweep_devices,
       "DELETE FROM devices WHERE id IN (SELECT d.id FROM devices d WHERE "
       "(d.revoked_ms <= ?1 OR (d.revoked_ms IS NULL AND "
       "COALESCE(d.last_used_ms, d.created_ms) <= ?1)) AND "
       "NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.device_id = d.id) LIMIT ?2)"},
  };
  if (Status s = sqlite::PrepareAll(**db, to_prepare); !s.ok()) return s.error();
  return std::unique_ptr<SqliteAccountStore>(
      new SqliteAccountStore(std::move(*db), std::move(statements)));
}

SqliteAccountStore::SqliteAccountStore(std::unique_ptr<Database> db,
                                       std::unique_ptr<Statements> statements)
    : db_(std::move(db)), statements_(std::move(statements)) {}

SqliteAccountStore::~SqliteAccountStore() = default;

Result<User> SqliteAccountStore::CreateUser(const NewUser& user) {
  std::lock_guard lock(mu_);
  const std::string username = AsciiLower(user.username);
  Status status;
  {
    Statement& insert = statements_->insert_user;
    ScopedReset reset(insert);
    status =
        BindAll(insert, user.id, username, user.display_name, user.password_hash, user.created_ms);
    if (status.ok()) status = Run(insert);
  }
  if (!status.ok()) {
    if (status.error().code != ErrorCode::kConflict) return status.error();
    // Either the username or the id clashed; only the former is worth telling the client.
    Statement& find = statements_->find_user_by_username;
    ScopedReset reset(find);
    if (Status s = find.Bind(1, username); !s.ok()) return s.error();
    Result<bool> row = find.Step();
    if (!row.ok()) return std::move(row).error();
    return Error::Conflict(*row ? "username is taken" : "user id is taken");
  }
  return User{
      .id = user.id,
      .username = username,
      .display_name = user.display_name,
      .created_ms = user.created_ms,
  };
}

Result<UserCredentials> SqliteAccountStore::FindUserByUsername(std::string_view username) {
  std::lock_guard lock(mu_);
  Statement& find = statements_->find_user_by_username;
  ScopedReset reset(find);
  if (Status s = find.Bind(1, AsciiLower(username)); !s.ok()) return s.error();
  Result<bool> row = find.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::NotFound("no such user");
  return UserCredentials{.user = ReadUser(find), .password_hash = find.ColumnText(4)};
}

Result<User> SqliteAccountStore::FindUserById(std::string_view user_id) {
  std::lock_guard lock(mu_);
  Statement& find = statements_->find_user_by_id;
  ScopedReset reset(find);
  if (Status s = find.Bind(1, user_id); !s.ok()) return s.error();
  Result<bool> row = find.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::NotFound("no such user");
  return ReadUser(find);
}

Result<Device> SqliteAccountStore::CreateDevice(std::string_view device_id,
                                                std::string_view user_id, std::string_view name,
                                                int64_t now_ms) {
  std::lock_guard lock(mu_);
  // Checked here rather than by decoding the foreign-key failure, which SQLite reports
  // without saying which key; the mutex makes check-then-insert safe in this process, and
  // users are never deleted.
  {
    Statement& find = statements_->find_user_by_id;
    ScopedReset reset(find);
    if (Status s = find.Bind(1, user_id); !s.ok()) return s.error();
    Result<bool> row = find.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return Error::NotFound("no such user");
  }
  Statement& insert = statements_->insert_device;
  ScopedReset reset(insert);
  Status status = BindAll(insert, device_id, user_id, name, now_ms);
  if (status.ok()) status = Run(insert);
  if (!status.ok()) {
    if (status.error().code == ErrorCode::kConflict) return Error::Conflict("device id is taken");
    return status.error();
  }
  return Device{
      .id = std::string(device_id),
      .user_id = std::string(user_id),
      .name = std::string(name),
      .created_ms = now_ms,
      .last_used_ms = now_ms,
      .revoked = false,
  };
}

Result<Device> SqliteAccountStore::FindDevice(std::string_view device_id) {
  std::lock_guard lock(mu_);
  return FindDeviceLocked(device_id);
}

Result<Device> SqliteAccountStore::FindDeviceLocked(std::string_view device_id) {
  Statement& find = statements_->find_device;
  ScopedReset reset(find);
  if (Status s = find.Bind(1, device_id); !s.ok()) return s.error();
  Result<bool> row = find.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::NotFound("no such device");
  return Device{
      .id = find.ColumnText(0),
      .user_id = find.ColumnText(1),
      .name = find.ColumnText(2),
      .created_ms = find.ColumnInt64(3),
      .last_used_ms = find.ColumnInt64(5),
      .revoked = find.ColumnInt64(4) != 0,
  };
}

Status SqliteAccountStore::RevokeDevice(std::string_view device_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  if (Result<Device> device = FindDeviceLocked(device_id); !device.ok()) return device.error();
  if (Status s = RevokeDeviceLocked(device_id, now_ms); !s.ok()) return s;
  return txn->Commit();
}

Status SqliteAccountStore::RevokeDeviceLocked(std::string_view device_id, int64_t now_ms) {
  // Both updates skip rows already done, which keeps the first revocation time and makes a
  // repeated revoke a no-op.
  for (Statement* stmt : {&statements_->revoke_device, &statements_->use_device_tokens}) {
    ScopedReset reset(*stmt);
    Status status = BindAll(*stmt, device_id, now_ms);
    if (status.ok()) status = Run(*stmt);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Status SqliteAccountStore::AddRefreshToken(std::string_view token_hash, std::string_view device_id,
                                           int64_t expires_ms) {
  std::lock_guard lock(mu_);
  // In a transaction so that no other connection can revoke the device between the check and
  // the insert.
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  Result<Device> device = FindDeviceLocked(device_id);
  if (!device.ok()) return device.error();
  if (device->revoked) return Error::Conflict("device is revoked");

  Statement& insert = statements_->insert_token;
  ScopedReset reset(insert);
  Status status = BindAll(insert, token_hash, device_id, expires_ms);
  if (status.ok()) status = Run(insert);
  if (!status.ok()) {
    if (status.error().code == ErrorCode::kConflict) {
      return Error::Conflict("refresh token already exists");
    }
    return status;
  }
  return txn->Commit();
}

Result<RotateResult> SqliteAccountStore::RotateRefreshToken(std::string_view old_hash,
                                                            std::string_view new_hash,
                                                            int64_t new_expires_ms,
                                                            int64_t now_ms) {
  std::lock_guard lock(mu_);
  // IMMEDIATE: the write lock is held from the read of the old token to the insert of the
  // new one, so two rotations of one token (from any connection) cannot both see it unused.
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();

  RotateResult result;
  int64_t expires_ms = 0;
  bool used = false;
  bool revoked = false;
  {
    Statement& find = statements_->find_token;
    ScopedReset reset(find);
    if (Status s = find.Bind(1, old_hash); !s.ok()) return s.error();
    Result<bool> row = find.Step();
    if (!row.ok()) return std::move(row).error();
    // Nothing is written on the read-only outcomes; the transaction's destructor just
    // releases the lock.
    if (!*row) return result;  // kUnknown
    result.device_id = find.ColumnText(0);
    result.user_id = find.ColumnText(1);
    expires_ms = find.ColumnInt64(2);
    used = find.ColumnInt64(3) != 0;
    revoked = find.ColumnInt64(4) != 0;
  }

  // The order matters: a revoked device answers kRevoked whatever the token's state (its
  // tokens were all marked used when it was revoked), and reuse is detected even on an
  // expired token.
  if (revoked) {
    result.outcome = RotateOutcome::kRevoked;
    return result;
  }
  if (used) {
    // Two parties hold the same token: one of them stole it. Revoke the whole session.
    if (Status s = RevokeDeviceLocked(result.device_id, now_ms); !s.ok()) return s.error();
    if (Status s = txn->Commit(); !s.ok()) return s.error();
    result.outcome = RotateOutcome::kReused;
    return result;
  }
  if (now_ms >= expires_ms) {
    result.outcome = RotateOutcome::kExpired;
    return result;
  }

  {
    Statement& use = statements_->use_token;
    ScopedReset reset(use);
    Status status = BindAll(use, old_hash, now_ms);
    if (status.ok()) status = Run(use);
    if (!status.ok()) return status.error();
  }
  {
    Statement& insert = statements_->insert_token;
    ScopedReset reset(insert);
    Status status = BindAll(insert, new_hash, result.device_id, new_expires_ms);
    if (status.ok()) status = Run(insert);
    if (!status.ok()) {
      if (status.error().code == ErrorCode::kConflict) {
        return Error::Conflict("refresh token already exists");
      }
      return status.error();
    }
  }
  for (Statement* stmt : {&statements_->touch_device, &statements_->trim_used_tokens}) {
    ScopedReset reset(*stmt);
    Status status = stmt == &statements_->touch_device
                        ? BindAll(*stmt, result.device_id, now_ms)
                        : BindAll(*stmt, result.device_id, kUsedTokensKept);
    if (status.ok()) status = Run(*stmt);
    if (!status.ok()) return status.error();
  }
  if (Status s = txn->Commit(); !s.ok()) return s.error();
  result.outcome = RotateOutcome::kRotated;
  return result;
}

Result<UserCredentials> SqliteAccountStore::FindCredentialsById(std::string_view user_id) {
  std::lock_guard lock(mu_);
  Statement& find = statements_->find_user_by_id;
  ScopedReset reset(find);
  if (Status s = find.Bind(1, user_id); !s.ok()) return s.error();
  Result<bool> row = find.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::NotFound("no such user");
  return UserCredentials{.user = ReadUser(find), .password_hash = find.ColumnText(4)};
}

Status SqliteAccountStore::SetPasswordHash(std::string_view user_id,
                                           std::string_view password_hash) {
  std::lock_guard lock(mu_);
  Statement& update = statements_->set_password;
  ScopedReset reset(update);
  Status status = BindAll(update, user_id, password_hash);
  if (status.ok()) status = Run(update);
  if (!status.ok()) return status;
  if (db_->Changes() == 0) return Error::NotFound("no such user");
  return Status::Ok();
}

Result<std::vector<Device>> SqliteAccountStore::ListDevices(std::string_view user_id) {
  std::lock_guard lock(mu_);
  return ListDevicesLocked(user_id);
}

Result<std::vector<Device>> SqliteAccountStore::ListDevicesLocked(std::string_view user_id) {
  Statement& list = statements_->list_devices;
  ScopedReset reset(list);
  if (Status s = list.Bind(1, user_id); !s.ok()) return s.error();
  std::vector<Device> devices;
  while (true) {
    Result<bool> row = list.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    devices.push_back(Device{
        .id = list.ColumnText(0),
        .user_id = list.ColumnText(1),
        .name = list.ColumnText(2),
        .created_ms = list.ColumnInt64(3),
        .last_used_ms = list.ColumnInt64(5),
        .revoked = false,
    });
  }
  return devices;
}

Result<std::vector<std::string>> SqliteAccountStore::RevokeAllLocked(
    const std::vector<Device>& devices, size_t from, std::string_view except_device_id,
    int64_t now_ms, bool evict) {
  std::vector<std::string> revoked;
  if (from >= devices.size()) return revoked;
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  for (size_t i = from; i < devices.size(); ++i) {
    if (devices[i].id == except_device_id) continue;
    if (evict) {
      // Tokens first: they reference the device.
      for (Statement* stmt : {&statements_->delete_device_tokens, &statements_->delete_device}) {
        ScopedReset reset(*stmt);
        Status status = stmt->Bind(1, devices[i].id);
        if (status.ok()) status = Run(*stmt);
        if (!status.ok()) return status.error();
      }
    } else if (Status s = RevokeDeviceLocked(devices[i].id, now_ms); !s.ok()) {
      return s.error();
    }
    revoked.push_back(devices[i].id);
  }
  if (Status s = txn->Commit(); !s.ok()) return s.error();
  return revoked;
}

Result<std::vector<std::string>> SqliteAccountStore::EvictDevicesBeyond(std::string_view user_id,
                                                                        size_t keep) {
  std::lock_guard lock(mu_);
  Result<std::vector<Device>> devices = ListDevicesLocked(user_id);
  if (!devices.ok()) return std::move(devices).error();
  return RevokeAllLocked(*devices, keep, {}, 0, /*evict=*/true);
}

Result<std::vector<std::string>> SqliteAccountStore::RevokeOtherDevices(
    std::string_view user_id, std::string_view except_device_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Result<std::vector<Device>> devices = ListDevicesLocked(user_id);
  if (!devices.ok()) return std::move(devices).error();
  return RevokeAllLocked(*devices, 0, except_device_id, now_ms, /*evict=*/false);
}

Result<SweepResult> SqliteAccountStore::Sweep(int64_t now_ms, int64_t dead_before_ms,
                                              int64_t limit) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  SweepResult result;
  // Tokens first: the devices' rows are what they reference.
  const std::pair<Statement*, int64_t> steps[] = {
      {&statements_->sweep_tokens, now_ms},
      {&statements_->sweep_dead_device_tokens, dead_before_ms},
      {&statements_->sweep_devices, dead_before_ms},
  };
  for (const auto& [stmt, time_ms] : steps) {
    ScopedReset reset(*stmt);
    Status status = BindAll(*stmt, time_ms, limit);
    if (status.ok()) status = Run(*stmt);
    if (!status.ok()) return status.error();
    (stmt == &statements_->sweep_devices ? result.devices : result.tokens) += db_->Changes();
  }
  if (Status s = txn->Commit(); !s.ok()) return s.error();
  return result;
}

Result<std::string> SqliteAccountStore::FindRefreshTokenDevice(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  Statement& find = statements_->token_device;
  ScopedReset reset(find);
  if (Status s = find.Bind(1, token_hash); !s.ok()) return s.error();
  Result<bool> row = find.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::NotFound("no such refresh token");
  return find.ColumnText(0);
}

}  // namespace parley
