#include "store/sqlite/migrations.h"

#include <string>
#include <utility>

namespace parley::sqlite {

const std::vector<Migration>& SchemaMigrations() {
  // Append only; see migrations.h.
  static const std::vector<Migration> kMigrations = {
      {
          1,
          "accounts: users, devices, refresh tokens",
          R"sql(
            -- COLLATE NOCASE: usernames are unique regardless of ASCII case even if a
            -- caller forgets to lower-case, and lookups by username use this index.
            CREATE TABLE users (
              id            TEXT PRIMARY KEY,
              username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
              display_name  TEXT NOT NULL,
              password_hash TEXT NOT NULL,
              created_ms    INTEGER NOT NULL
            );
            CREATE TABLE devices (
              id          TEXT PRIMARY KEY,
              user_id     TEXT NOT NULL REFERENCES users(id),
              name        TEXT NOT NULL,
              created_ms  INTEGER NOT NULL,
              revoked_ms  INTEGER
            );
            CREATE INDEX devices_user_id ON devices(user_id);
            CREATE TABLE refresh_tokens (
              token_hash  TEXT PRIMARY KEY,
              device_id   TEXT NOT NULL REFERENCES devices(id),
              expires_ms  INTEGER NOT NULL,
              used_ms     INTEGER
            );
            CREATE INDEX refresh_tokens_device_id ON refresh_tokens(device_id);
          )sql",
      },
  };
  return kMigrations;
}

Result<int64_t> SchemaVersion(Database& db) {
  Result<Statement> stmt = db.Prepare("PRAGMA user_version");
  if (!stmt.ok()) return std::move(stmt).error();
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::Internal("sqlite: PRAGMA user_version returned no row");
  return stmt->ColumnInt64(0);
}

namespace {

// Applies `migration` unless another connection got there first; the check and the work
// share one write transaction, so exactly one of two racing processes applies it.
Status Apply(Database& db, const Migration& migration) {
  Result<Transaction> txn = Transaction::Begin(db);
  if (!txn.ok()) return std::move(txn).error();
  Result<int64_t> version = SchemaVersion(db);
  if (!version.ok()) return std::move(version).error();
  if (*version >= migration.version) return Status::Ok();

  if (Status s = db.Exec(migration.sql); !s.ok()) {
    Error error = s.error();
    error.code = ErrorCode::kInternal;
    error.message = "migration " + std::to_string(migration.version) + " (" +
                    std::string(migration.description) + ") failed: " + error.message;
    return error;
  }
  // A pragma takes no bound parameters; the version is an integer we own, not input.
  if (Status s = db.Exec("PRAGMA user_version=" + std::to_string(migration.version)); !s.ok()) {
    return s;
  }
  return txn->Commit();
}

}  // namespace

Status Migrate(Database& db, const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i) + 1) {
      return Error::Internal("migration list is misnumbered: entry " + std::to_string(i + 1) +
                             " has version " + std::to_string(migrations[i].version));
    }
  }
  const int64_t newest = static_cast<int64_t>(migrations.size());

  Result<int64_t> current = SchemaVersion(db);
  if (!current.ok()) return std::move(current).error();
  if (*current > newest) {
    return Error::Internal("database schema version " + std::to_string(*current) +
                           " is newer than this binary knows (" + std::to_string(newest) +
                           "); refusing to run");
  }
  for (int64_t v = *current + 1; v <= newest; ++v) {
    if (Status s = Apply(db, migrations[static_cast<size_t>(v - 1)]); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace parley::sqlite
